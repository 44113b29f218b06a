"""Engines behind one interface (`base.Engine`), chosen by name on the command line.

Built in: `llama-cpp` (the embedded CPU default) and `openai` (any OpenAI-compatible
server: trtllm-serve, vLLM, SGLang, NIM, llama.cpp's server). Any other engine can be
named by its
factory's import path, `package.module:factory`: a callable that takes the keyword
options of `make_engine` and returns an `Engine`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskseed.runtime.engines.base import Engine


class UnknownEngine(Exception):
    """An engine name that is neither built in nor an importable factory."""


def _llama_cpp(model: str | None = None, **options: Any) -> Engine:
    from taskseed.runtime.engines.llama_cpp import LlamaCppEngine

    return LlamaCppEngine(Path(model) if model else None, **options)


def _openai(**options: Any) -> Engine:
    from taskseed.runtime.engines.openai_compat import OpenAICompatEngine

    return OpenAICompatEngine(**options)


BUILTIN: dict[str, Callable[..., Engine]] = {"llama-cpp": _llama_cpp, "openai": _openai}


def make_engine(name: str, **options: Any) -> Engine:
    factory = BUILTIN.get(name)
    if factory is None and ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UnknownEngine(f"cannot load engine factory `{name}`: {exc}") from None
    if factory is None:
        known = ", ".join(sorted(BUILTIN))
        raise UnknownEngine(f"unknown engine `{name}` (built in: {known}; or module:factory)")
    options = {k: v for k, v in options.items() if v is not None}
    return factory(**options)
