"""Engine answers -> items, or a reason why not.

Whatever an engine returns (truncated JSON, wrong types, missing or empty fields, huge
strings, an answer that is not among the options), the result is either a clean item or
a `Malformed` with a reason; nothing here raises on bad input.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import Any

from taskseed.contract.jinja_env import option_labels
from taskseed.contract.plan import PlanFormat
from taskseed.contract.records import ItemFields
from taskseed.runtime.answers import option_index, parse_number
from taskseed.runtime.engines.base import Choice

MAX_FIELD_CHARS = 50_000


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: str


def load_object(choice: Choice) -> dict[str, Any] | Malformed:
    """The JSON object in a completion (a ```json fence is tolerated)."""
    text = choice.text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text[4:] if text.lower().startswith("json") else text
    if not text:
        return Malformed("empty completion")
    try:
        value = json.loads(text, strict=False)  # tolerate raw newlines inside strings
    except json.JSONDecodeError as exc:
        if choice.finish_reason == "length":
            return Malformed("truncated at max_tokens (incomplete JSON)")
        return Malformed(f"invalid JSON: {exc.msg} at char {exc.pos}")
    if not isinstance(value, dict):
        return Malformed(f"expected a JSON object, got {type(value).__name__}")
    return value


def _text(obj: dict[str, Any], name: str, *, required: bool = True) -> str | Malformed | None:
    value = obj.get(name)
    if value is None:
        return Malformed(f"missing field `{name}`") if required else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return Malformed(f"`{name}` is a {type(value).__name__}, not text")
    text = str(value).strip()
    if not text:
        return Malformed(f"empty `{name}`") if required else None
    if len(text) > MAX_FIELD_CHARS:
        return Malformed(f"`{name}` is {len(text)} characters long")
    return text


def _text_list(obj: dict[str, Any], name: str) -> list[str] | Malformed:
    value = obj.get(name)
    if not isinstance(value, list):
        return Malformed(f"missing field `{name}`" if value is None else f"`{name}` is not a list")
    out = []
    for item in value:
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            return Malformed(f"`{name}` holds a {type(item).__name__}, not text")
        text = str(item).strip()
        if not text:
            return Malformed(f"`{name}` holds an empty entry")
        out.append(text)
    return out


def parse_item(
    choice: Choice, fmt: PlanFormat, seed: ItemFields, shuffle_key: str
) -> ItemFields | Malformed:
    """A similar question: the seed's format with new content."""
    obj = load_object(choice)
    if isinstance(obj, Malformed):
        return obj
    fields: dict[str, Any] = {}
    for name in ("question", "answer"):
        value = _text(obj, name)
        if isinstance(value, Malformed):
            return value
        fields[name] = value
    if seed.context:
        context = _text(obj, "context")
        if isinstance(context, Malformed):
            return context
        fields["context"] = context
    rationale = _text(obj, "rationale", required=False)
    if isinstance(rationale, Malformed):
        return rationale
    fields["rationale"] = rationale
    if fmt.type == "multiple_choice":
        return _multiple_choice(obj, fields, fmt, shuffle_key)
    if fmt.type == "numeric" and parse_number(fields["answer"]) is None:
        return Malformed(f"answer {fields['answer']!r} is not a number")
    if fmt.type == "code":
        tests = _text_list(obj, "tests")
        if isinstance(tests, Malformed):
            return tests
        fields["tests"] = tests
    return ItemFields(**fields)


def _multiple_choice(
    obj: dict[str, Any], fields: dict[str, Any], fmt: PlanFormat, shuffle_key: str
) -> ItemFields | Malformed:
    choices = _text_list(obj, "choices")
    if isinstance(choices, Malformed):
        return choices
    if not fmt.min_options <= len(choices) <= fmt.max_options:
        return Malformed(f"{len(choices)} options, outside {fmt.min_options}..{fmt.max_options}")
    index = option_index(fields["answer"], choices, fmt.labels)
    if index is None:
        return Malformed(f"answer {fields['answer']!r} is not among the options")
    answer = choices[index]
    if fmt.shuffle:
        order = list(range(len(choices)))
        random.Random(shuffle_key).shuffle(order)
        choices = [choices[i] for i in order]
        index = order.index(index)
    return ItemFields(
        question=fields["question"],
        context=fields.get("context"),
        choices=choices,
        answer=answer,
        answer_index=index,
        answer_label=option_labels(len(choices), fmt.labels)[index],
        rationale=fields.get("rationale"),
    )


def parse_fields(choice: Choice, names: tuple[str, ...]) -> dict[str, str] | Malformed:
    """An enrichment's fields (`rationale` and `answer`, or `context`), all required."""
    obj = load_object(choice)
    if isinstance(obj, Malformed):
        return obj
    out = {}
    for name in names:
        value = _text(obj, name)
        if isinstance(value, Malformed):
            return value
        assert value is not None
        out[name] = value
    return out
