"""An engine for `make bench-scale` that answers every request at once, in process.

`--engine bench.instant:make`. Each answer is valid JSON for the request's schema,
derived from a hash of the request, so a killed and resumed run gets the same answers
as a clean one. Multiple-choice items mark their correct option without saying so: it
is the option whose hash is smallest, which is how verification and enrichment find it
again (nine sampled answers in ten; the tenth is another option, so votes sometimes
fail). About one generated question in forty repeats its seed's question, so dedup has
work to do. A tool for benchmarks only: nothing is called done on it.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from taskseed.runtime.engines.base import ChatRequest, Choice, Completion, Engine

SYLLABLES = ("ka", "lo", "mi", "ra", "tu", "ve", "no", "si", "da", "pe", "zo", "ghi", "bru")
# Two to three syllables each: about 2,400 distinct words, enough for texts that rarely
# share three-word shingles by chance.
VOCABULARY = tuple(a + b + c for a in SYLLABLES for b in SYLLABLES for c in ("", *SYLLABLES[:13]))


def words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(VOCABULARY, k=count))


def marked(options: list[str]) -> str:
    """The option this engine treats as correct: the one with the smallest hash."""
    return min(options, key=lambda o: hashlib.blake2b(o.encode(), digest_size=8).digest())


def seed_question(prompt: str) -> str | None:
    for line in prompt.splitlines():
        if line.startswith("Question: "):
            return line.removeprefix("Question: ")
    return None


def fill(schema: dict[str, Any], rng: random.Random, prompt: str, sample: int) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    obj: dict[str, Any] = {}
    if "choices" in props:  # a similar multiple-choice question
        count = int(props["choices"].get("minItems", 4))
        options = [words(rng, rng.randint(2, 3)) for _ in range(count)]
        copied = seed_question(prompt) if rng.random() < 1 / 40 else None
        obj["question"] = copied or (words(rng, rng.randint(10, 16)) + "?")
        if "context" in props:
            obj["context"] = words(rng, rng.randint(30, 50)) + "."
        obj["choices"] = options
        obj["answer"] = marked(options)
        return obj
    for name, spec in props.items():
        enum = spec.get("enum")
        if enum:
            right = marked(list(enum))
            wrong = [o for o in enum if o != right]
            obj[name] = right if not wrong or rng.random() < 0.9 else rng.choice(wrong)
        elif spec.get("type") == "array":
            obj[name] = [words(rng, 4) for _ in range(int(spec.get("minItems", 1)))]
        elif name == "answer":
            obj[name] = (
                str(rng.randint(1, 99)) if spec.get("maxLength", 100) <= 40 else words(rng, 3)
            )
        elif name == "context":
            obj[name] = words(rng, rng.randint(30, 50)) + "."
        else:
            obj[name] = words(rng, rng.randint(12, 30)) + "."
    return obj


class InstantEngine(Engine):
    name = "instant"
    max_concurrency = 512

    @property
    def model(self) -> str:
        return "instant"

    async def generate(self, request: ChatRequest) -> Completion:
        schema = request.json_schema or {"properties": {"answer": {"type": "string"}}}
        prompt = request.messages[-1].content
        digest = hashlib.blake2b(
            json.dumps([request.sampling.seed, prompt]).encode(), digest_size=8
        ).digest()
        choices = []
        for sample in range(request.n):
            rng = random.Random(int.from_bytes(digest, "little") + sample)
            text = json.dumps(fill(schema, rng, prompt, sample))
            choices.append(Choice(text=text, completion_tokens=len(text) // 4))
        return Completion(
            choices=tuple(choices),
            prompt_tokens=sum(len(m.content) for m in request.messages) // 4,
            completion_tokens=sum(c.completion_tokens for c in choices),
            model="instant",
        )


def make(**options: Any) -> InstantEngine:
    del options  # model, timeout: nothing to set
    return InstantEngine()
