"""The one Jinja environment: sandboxed, StrictUndefined, shared by compiler and runtime.

Prompt templates and mapping expressions are user-provided text, so they run in
Jinja's sandbox (no attribute access to Python internals) and fail loudly on any
undefined name instead of rendering an empty string.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

LETTERS = string.ascii_uppercase


def letter(index: int) -> str:
    """0 -> A, 1 -> B, ..."""
    return LETTERS[index] if 0 <= index < len(LETTERS) else str(index + 1)


def option_labels(count: int, style: str = "letters") -> list[str]:
    if style == "numbers":
        return [str(i + 1) for i in range(count)]
    return [letter(i) for i in range(count)]


def options(choices: Sequence[Any], style: str = "letters") -> str:
    """`A. first\\nB. second`: the options as an exam would print them."""
    labels = option_labels(len(choices), style)
    return "\n".join(f"{label}. {text}" for label, text in zip(labels, choices, strict=True))


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}` in a solution, braces balanced."""
    start = text.rfind("\\boxed")
    if start < 0:
        return None
    open_at = text.find("{", start)
    if open_at < 0:
        return None
    depth = 0
    for index in range(open_at, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : index]
    return None


def regex_search(text: str, pattern: str, group: int | str = 0) -> str | None:
    """The first match of `pattern` (or one of its groups), or None."""
    match = re.search(pattern, text)
    return match.group(group) if match else None


def regex_findall(text: str, pattern: str) -> list[Any]:
    return re.findall(pattern, text)


def regex_replace(text: str, pattern: str, replacement: str) -> str:
    return re.sub(pattern, replacement, text)


def from_json(text: str) -> Any:
    """Parse a JSON string held in a dataset field."""
    return json.loads(text)


FILTERS = {
    "options": options,
    "letter": letter,
    "boxed": boxed,
    "regex_search": regex_search,
    "regex_findall": regex_findall,
    "regex_replace": regex_replace,
    "from_json": from_json,
}


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters.update(FILTERS)
    return env


@lru_cache(maxsize=8192)
def parse(text: str) -> nodes.Template:
    """The syntax tree of a template, parsed once per text (the trees are only read).
    A syntax error is raised again on every call: nothing is cached for it."""
    return environment().parse(text)
