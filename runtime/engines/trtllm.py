"""TensorRT-LLM's in-process LLM API on NVIDIA GPUs (the optional extra `[trtllm]`).

Written against TensorRT-LLM 1.0.0 (tag v1.0.0, commit ae8270b), the API documented at
https://nvidia.github.io/TensorRT-LLM/1.0.0/: `tensorrt_llm.llmapi.LLM`, `SamplingParams`,
`GuidedDecodingParams`, `KvCacheConfig` and `LLM.generate_async`. TensorRT-LLM cannot be
installed on taskseed's CI machines, so this module is checked by a contract test
(tests/runtime/engines/test_trtllm_contract.py) that replays every call it makes against
the recorded signatures of that release; it has not been run on a GPU by CI.

- `model` is a Hugging Face name or checkpoint folder (PyTorch backend, the default of
  1.0.0), or a folder with a prebuilt TensorRT engine (`rank0.engine`, ...), which is
  loaded with the TensorRT backend (`tensorrt_llm._tensorrt_engine.LLM`).
- The chat template is applied with the LLM's own tokenizer; the `n` samples of a request
  are one `generate_async` call, so they share one prompt prefill.
- A JSON schema is enforced by guided decoding (`GuidedDecodingParams(json=...)`) through
  the backend chosen when the LLM is built (`xgrammar` by default).
- Requests are submitted from the event loop (the LLM API binds each result to the
  running loop) and awaited with `RequestOutput.aresult()`; the LLM batches everything in
  flight, so the engine takes hundreds of requests at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from taskseed.runtime.engines.base import (
    ChatRequest,
    Choice,
    Completion,
    Engine,
    EngineError,
    RequestRefused,
)

RELEASE = "1.0.0"
INSTALL_HINT = "pip install 'taskseed[trtllm]'"
GUIDED_BACKENDS: tuple[str, ...] = ("xgrammar", "llguidance", "none")
Backend = Literal["auto", "pytorch", "tensorrt"]
BACKENDS: tuple[str, ...] = ("auto", "pytorch", "tensorrt")
# CompletionOutput.finish_reason in 1.0.0 is one of these (or None while unfinished).
FINISH_REASONS = {"stop": "stop", "length": "length"}


class TensorRTLLMNotInstalled(EngineError):
    """The `tensorrt_llm` package is missing: nothing to retry."""

    retryable = False


def load_tensorrt_llm() -> ModuleType:
    """`tensorrt_llm.llmapi`, or a one-line error that says how to install it."""
    try:
        return importlib.import_module("tensorrt_llm.llmapi")
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] == "tensorrt_llm":
            raise TensorRTLLMNotInstalled(
                "the trtllm engine needs TensorRT-LLM, which is not installed: "
                f"{INSTALL_HINT} (written for TensorRT-LLM {RELEASE}; see docs/engines.md)"
            ) from None
        raise TensorRTLLMNotInstalled(
            f"TensorRT-LLM is installed but cannot be imported: {exc} "
            f"(reinstall with {INSTALL_HINT}; see docs/engines.md)"
        ) from None
    except (ImportError, OSError) as exc:  # e.g. CUDA or MPI libraries missing
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TensorRTLLMNotInstalled(
            f"TensorRT-LLM is installed but cannot be imported: {message}"
        ) from None


def is_engine_dir(path: Path) -> bool:
    """A folder written by trtllm-build (or `LLM.save`): `config.json` and `rank*.engine`."""
    if not path.is_dir() or not (path / "config.json").is_file():
        return False
    return any(p.name.startswith("rank") and p.suffix == ".engine" for p in path.iterdir())


def _has_tokenizer(path: Path) -> bool:
    return any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))


def model_identity(model: str) -> str:
    """A stable name for the ledger: the hub name, or a local folder's name and config hash.

    Absolute paths are left out on purpose, so that the same checkpoint mounted elsewhere
    (another machine, another Ray node) answers the same requests from the ledger.
    """
    path = Path(model)
    config = path / "config.json"
    if path.is_dir():
        if config.is_file():
            digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12]
            return f"{path.resolve().name}@{digest}"
        return path.resolve().name
    return model


class TensorRTLLMEngine(Engine):
    name = "trtllm"

    def __init__(
        self,
        model: str | None = None,
        *,
        tokenizer: str | None = None,
        tensor_parallel_size: int = 1,
        max_concurrency: int = 512,
        guided_decoding_backend: str = "xgrammar",
        kv_cache_free_gpu_memory_fraction: float | None = None,
        max_batch_size: int | None = None,
        max_num_tokens: int | None = None,
        max_seq_len: int | None = None,
        backend: str = "auto",
        trust_remote_code: bool = False,
    ) -> None:
        if not model:
            raise EngineError(
                "the trtllm engine needs a model: --model HF_NAME, a checkpoint folder, "
                "or a folder with a prebuilt TensorRT engine"
            )
        if guided_decoding_backend not in GUIDED_BACKENDS:
            raise EngineError(
                f"unknown guided decoding backend `{guided_decoding_backend}`; "
                f"one of {', '.join(GUIDED_BACKENDS)}"
            )
        if backend not in BACKENDS:
            raise EngineError(f"unknown trtllm backend `{backend}`; one of {', '.join(BACKENDS)}")
        if tensor_parallel_size < 1 or max_concurrency < 1:
            raise EngineError("tensor_parallel_size and max_concurrency must be at least 1")
        if kv_cache_free_gpu_memory_fraction is not None and not (
            0.0 < kv_cache_free_gpu_memory_fraction <= 1.0
        ):
            raise EngineError("the KV cache's free GPU memory fraction must be in (0, 1]")

        path = Path(model)
        engine_dir = is_engine_dir(path)
        if backend == "auto":
            backend = "tensorrt" if engine_dir else "pytorch"
        if engine_dir and backend == "pytorch":
            raise EngineError(
                f"{model} is a prebuilt TensorRT engine; the PyTorch backend loads Hugging "
                "Face checkpoints only (use backend `tensorrt` or `auto`)"
            )
        if engine_dir and tokenizer is None and not _has_tokenizer(path):
            raise EngineError(
                f"the TensorRT engine in {model} has no tokenizer files: pass the tokenizer "
                "(the Hugging Face name or folder of the model it was built from)"
            )
        if backend == "tensorrt" and guided_decoding_backend == "llguidance":
            # TensorRT-LLM 1.0.0: llguidance is supported by the PyTorch backend only.
            raise EngineError("guided decoding with llguidance needs the PyTorch backend")

        self.model_path = model
        self.backend = backend
        self.tokenizer_name = tokenizer
        self.tensor_parallel_size = tensor_parallel_size
        self.max_concurrency = max_concurrency
        self.guided_decoding_backend = guided_decoding_backend
        self._identity = model_identity(model)
        self._slots = asyncio.Semaphore(max_concurrency)

        api = load_tensorrt_llm()
        self._api = api
        self._request_error: type[BaseException] | None = getattr(api, "RequestError", None)
        self.version = str(getattr(importlib.import_module("tensorrt_llm"), "__version__", "?"))

        options: dict[str, Any] = {"tensor_parallel_size": tensor_parallel_size}
        if tokenizer is not None:
            options["tokenizer"] = tokenizer
        if trust_remote_code:
            options["trust_remote_code"] = True
        if guided_decoding_backend != "none":
            options["guided_decoding_backend"] = guided_decoding_backend
        if kv_cache_free_gpu_memory_fraction is not None:
            options["kv_cache_config"] = api.KvCacheConfig(
                free_gpu_memory_fraction=kv_cache_free_gpu_memory_fraction
            )
        for key, value in (
            ("max_batch_size", max_batch_size),
            ("max_num_tokens", max_num_tokens),
            ("max_seq_len", max_seq_len),
        ):
            if value is not None:
                options[key] = value
        self.options = {k: v for k, v in options.items() if k != "kv_cache_config"}

        if backend == "tensorrt":
            llm_class = importlib.import_module("tensorrt_llm._tensorrt_engine").LLM
        else:
            llm_class = api.LLM
        try:
            self._llm: Any = llm_class(model, **options)
        except Exception as exc:
            raise EngineError(
                f"TensorRT-LLM could not load {model}: {type(exc).__name__}: {exc}"
            ) from None

    @property
    def model(self) -> str:
        return self._identity

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": self.model,
            "tensorrt_llm": self.version,
            "written_for": RELEASE,
            "backend": self.backend,
            "tensor_parallel_size": self.tensor_parallel_size,
            "guided_decoding_backend": self.guided_decoding_backend,
            "max_concurrency": self.max_concurrency,
        }

    # ------------------------------------------------------------------ request

    def prompt(self, request: ChatRequest) -> str:
        """The chat, rendered with the model's chat template, ready for the assistant."""
        tokenizer = self._llm.tokenizer if self._llm is not None else None
        if tokenizer is None:
            raise EngineError("the TensorRT-LLM model has no tokenizer to apply a chat template")
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        try:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # a template that rejects these roles, for one
            raise RequestRefused(f"the chat template failed: {type(exc).__name__}: {exc}") from None
        return str(text)

    def sampling_params(self, request: ChatRequest) -> tuple[Any, bool]:
        """SamplingParams for the request, and whether it is greedy (one sample, copied).

        At temperature 0 the request is decoded greedily (top_k=1). TensorRT-LLM refuses
        greedy decoding with n > 1 (the n answers would all be the same), so a greedy
        request asks for one sample and the engine repeats it n times.
        """
        sampling = request.sampling
        greedy = sampling.temperature <= 0.0
        options: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "n": 1 if greedy else request.n,
            # The chat template already wrote the special tokens (BOS and the roles).
            "add_special_tokens": False,
        }
        if greedy:
            options["top_k"] = 1
        else:
            options["temperature"] = sampling.temperature
            options["top_p"] = sampling.top_p
        if sampling.stop:
            options["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            options["seed"] = sampling.seed % (2**31)
        if request.json_schema is not None and self.guided_decoding_backend != "none":
            # A string keeps the schema's key order: the question is written before its answer.
            options["guided_decoding"] = self._api.GuidedDecodingParams(
                json=json.dumps(request.json_schema)
            )
        return self._api.SamplingParams(**options), greedy

    async def generate(self, request: ChatRequest) -> Completion:
        if self._llm is None:
            raise EngineError("the trtllm engine is closed")
        prompt = self.prompt(request)
        params, greedy = self.sampling_params(request)
        async with self._slots:
            try:
                # Submitted on the event loop's thread: the result it returns is bound to
                # the running loop, which `aresult()` needs.
                future = self._llm.generate_async(prompt, sampling_params=params)
            except (ValueError, TypeError) as exc:  # e.g. the prompt exceeds max_num_tokens
                raise RequestRefused(f"TensorRT-LLM refused the request: {exc}") from None
            except RuntimeError as exc:  # e.g. "LLM is shutting down"
                raise EngineError(f"TensorRT-LLM: {exc}") from None
            try:
                output = await future.aresult()
            except asyncio.CancelledError:
                _abort(future)  # the run's per-request timeout: free the GPU slot
                raise
            except Exception as exc:
                if self._request_error is not None and isinstance(exc, self._request_error):
                    raise RequestRefused(f"TensorRT-LLM failed the request: {exc}") from None
                raise EngineError(f"TensorRT-LLM: {type(exc).__name__}: {exc}") from None
        return self._completion(output, request.n if greedy else None)

    def _completion(self, output: Any, repeat: int | None) -> Completion:
        outputs = sorted(output.outputs, key=lambda o: o.index)
        if not outputs:
            raise EngineError("TensorRT-LLM returned no outputs")
        choices = [
            Choice(
                text=o.text,
                finish_reason=FINISH_REASONS.get(o.finish_reason, "error"),
                completion_tokens=len(o.token_ids or ()),
            )
            for o in outputs
        ]
        generated = sum(c.completion_tokens for c in choices)
        if repeat is not None:
            choices = choices[:1] * repeat
        return Completion(
            choices=tuple(choices),
            prompt_tokens=len(output.prompt_token_ids or ()),
            completion_tokens=generated,
            model=self.model,
        )

    async def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            await asyncio.to_thread(llm.shutdown)


def _abort(future: Any) -> None:
    try:
        future.abort()
    except Exception:  # already finished, or the executor is gone
        return
