"""A scripted engine for runtime tests: plausible answers chosen by the request's schema.

Answers are derived from a hash of the prompt, so they are deterministic and differ
between seeds. `make(...)` is also an engine factory for the command line
(`--engine tests.runtime.scripted:make`), for the kill-and-resume tests; the
environment variable TASKSEED_TEST_DELAY sets a per-request delay there.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from taskseed.runtime.engines.base import ChatRequest
from taskseed.runtime.engines.scripted import ScriptedEngine

WORDS = (
    "river",
    "copper",
    "orbit",
    "maple",
    "glacier",
    "falcon",
    "prism",
    "harbor",
    "lantern",
    "meadow",
    "quartz",
    "tundra",
    "violet",
    "walrus",
    "zephyr",
    "canyon",
)


def _words(text: str, count: int, salt: str = "") -> str:
    digest = hashlib.sha256((salt + text).encode()).digest()
    return " ".join(WORDS[b % len(WORDS)] for b in digest[:count])


def answer(request: ChatRequest, index: int) -> str:
    schema = request.json_schema or {}
    props: dict[str, Any] = schema.get("properties", {})
    prompt = request.messages[-1].content
    if "choices" in props:  # a similar multiple-choice question
        count = props["choices"]["minItems"]
        choices = [_words(prompt, 3, f"{index}-{i}") for i in range(count)]
        obj: dict[str, Any] = {"question": "Which " + _words(prompt, 8, str(index)) + "?"}
        if "context" in props:
            obj["context"] = "Passage about " + _words(prompt, 12, "ctx" + str(index))
        obj.update(choices=choices, answer=choices[index % count])
        return json.dumps(obj)
    if set(props) == {"verdict", "scores"}:  # the judge: scores from the prompt's hash
        score = props["scores"]["properties"]
        digest = hashlib.sha256(f"{index}-{prompt}".encode()).digest()
        scores = {
            name: rule["minimum"] + digest[i] % (rule["maximum"] - rule["minimum"] + 1)
            for i, (name, rule) in enumerate(score.items())
        }
        return json.dumps({"verdict": "Scored " + _words(prompt, 3, str(index)), "scores": scores})
    if set(props) == {"answer"}:  # verification: the enum's option the question implies
        enum = props["answer"].get("enum")
        if enum:
            return json.dumps({"answer": _pick(enum, prompt)})
        return json.dumps({"answer": "42"})
    if "rationale" in props and "question" in props:  # similar numeric
        return json.dumps(
            {
                "question": "How many " + _words(prompt, 6, str(index)) + " are left?",
                "rationale": "Count them one by one.",
                "answer": str(40 + index),
            }
        )
    if "rationale" in props:  # answer_enriched
        enum = props["answer"].get("enum")
        return json.dumps(
            {
                "rationale": "Because " + _words(prompt, 10),
                "answer": _pick(enum, prompt) if enum else "42",
            }
        )
    if "context" in props and len(props) == 1:  # context_enriched
        return json.dumps({"context": "Background: " + _words(prompt, 14, "bg")})
    return json.dumps(
        {
            "question": "What is " + _words(prompt, 6, str(index)) + "?",
            "answer": _words(prompt, 2, "a" + str(index)),
        }
    )


def _pick(enum: list[str], prompt: str) -> str:
    """The option the similar question marked correct: encoded in the item's answer."""
    marker = "ANSWER="
    for option in enum:
        if marker + option in prompt:
            return option
    return enum[0]


def script(request: ChatRequest) -> list[str]:
    return [answer(request, index) for index in range(request.n)]


def make(**options: Any) -> ScriptedEngine:
    delay = float(os.environ.get("TASKSEED_TEST_DELAY", "0"))
    return ScriptedEngine(script, delay_s=delay, concurrency=4)
