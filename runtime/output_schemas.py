"""JSON schemas the engine's output must follow, per data kind and answer format.

Engines that support constrained decoding (llama.cpp grammars, vLLM and TensorRT-LLM
guided JSON) receive them with the request; the parser checks the same shape anyway,
since servers may ignore them.
"""

from __future__ import annotations

from typing import Any

from taskseed.contract.plan import PlanFormat
from taskseed.contract.records import ItemFields

TEXT = {"type": "string", "minLength": 1}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def similar_question(fmt: PlanFormat, seed: ItemFields) -> dict[str, Any]:
    """A new item in the seed's format: same option count, a passage when it had one."""
    props: dict[str, Any] = {"question": TEXT}
    if seed.context:
        props["context"] = TEXT
    if fmt.type == "multiple_choice":
        count = len(seed.choices or ()) or fmt.min_options
        props["choices"] = {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 300},
            "minItems": count,
            "maxItems": count,
        }
        props["answer"] = {"type": "string", "minLength": 1, "maxLength": 300}
    elif fmt.type == "numeric":
        props["rationale"] = TEXT
        props["answer"] = {"type": "string", "minLength": 1, "maxLength": 40}
    elif fmt.type == "code":
        props["answer"] = TEXT
        props["tests"] = {"type": "array", "items": TEXT, "minItems": 1, "maxItems": 5}
    else:
        props["answer"] = TEXT
    return _object(props)


def answer_property(fmt: PlanFormat, item: ItemFields) -> dict[str, Any]:
    if fmt.type == "multiple_choice" and item.choices:
        return {"type": "string", "enum": list(item.choices)}
    if fmt.type == "numeric":
        return {"type": "string", "minLength": 1, "maxLength": 40}
    return TEXT


def answer_enriched(fmt: PlanFormat, item: ItemFields) -> dict[str, Any]:
    return _object({"rationale": TEXT, "answer": answer_property(fmt, item)})


def context_enriched() -> dict[str, Any]:
    return _object({"context": TEXT})


def verify_answer(fmt: PlanFormat, item: ItemFields) -> dict[str, Any]:
    return _object({"answer": answer_property(fmt, item)})


def judge_scores(criteria: list[str], low: int, high: int) -> dict[str, Any]:
    """The judge's answer: a one-sentence verdict, then each criterion's integer score.
    The scores are an `enum` as well as a range: llama.cpp's grammars keep to an enum,
    not to `minimum` and `maximum`."""
    score = {
        "type": "integer",
        "minimum": low,
        "maximum": high,
        "enum": list(range(low, high + 1)),
    }
    return _object(
        {
            "verdict": {"type": "string", "minLength": 1, "maxLength": 240},
            "scores": _object({name: score for name in criteria}),
        }
    )
