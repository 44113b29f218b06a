"""The one Jinja environment: sandboxed, StrictUndefined, shared by compiler and runtime.

Prompt templates and mapping expressions are user-provided text, so they run in
Jinja's sandbox (no attribute access to Python internals) and fail loudly on any
undefined name instead of rendering an empty string.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from functools import cache
from typing import Any

from jinja2 import StrictUndefined
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


@cache
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["options"] = options
    env.filters["letter"] = letter
    return env
