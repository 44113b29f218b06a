"""Engines behind one interface (`base.Engine`), chosen by name on the command line.

Built in: `llama-cpp` (the embedded CPU default), `openai` (any OpenAI-compatible
server: trtllm-serve, vLLM, SGLang, NIM, llama.cpp's server) and `trtllm` (TensorRT-LLM's
in-process LLM API, the optional extra `[trtllm]`). Any other engine can be
named by its factory's import path, `package.module:factory`: a callable that takes the
keyword options of `make_engine` and returns an `Engine`. Every factory is given
`model` and `timeout_s` (seconds per request) when the command line sets them, and the
server options (`base_url`, `guided`, ...) only when they are set.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from taskseed.runtime.engines.base import Engine


class UnknownEngine(Exception):
    """An engine name that is neither built in nor an importable factory."""


def _llama_cpp(model: str | None = None, timeout_s: float | None = None, **options: Any) -> Engine:
    # In-process engines have no connection to time out: the pipeline bounds every
    # engine call with the run's per-request timeout, so `timeout_s` is not needed here.
    del timeout_s
    from taskseed.runtime.engines.llama_cpp import LlamaCppEngine

    return LlamaCppEngine(Path(model) if model else None, **options)


def _openai(**options: Any) -> Engine:
    from taskseed.runtime.engines.openai_compat import OpenAICompatEngine

    return OpenAICompatEngine(**options)


def _trtllm(model: str | None = None, timeout_s: float | None = None, **options: Any) -> Engine:
    # In process, like llama-cpp: the pipeline bounds every call with the run's timeout.
    del timeout_s
    from taskseed.runtime.engines.trtllm import TensorRTLLMEngine

    return TensorRTLLMEngine(model, **options)


BUILTIN: dict[str, Callable[..., Engine]] = {
    "llama-cpp": _llama_cpp,
    "openai": _openai,
    "trtllm": _trtllm,
}


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
