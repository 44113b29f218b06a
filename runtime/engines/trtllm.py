"""TensorRT-LLM's in-process LLM API on NVIDIA GPUs (the optional extra `[trtllm]`).

Written against TensorRT-LLM 1.0.0 (tag v1.0.0, commit ae8270b), the API documented at
https://nvidia.github.io/TensorRT-LLM/1.0.0/: `tensorrt_llm.llmapi.LLM`, `SamplingParams`,
`GuidedDecodingParams`, `KvCacheConfig` and `LLM.generate_async`. TensorRT-LLM cannot be
installed on taskseed's CI machines, so this module is checked by a contract test
(tests/runtime/engines/test_trtllm_contract.py) that replays every call it makes against
the recorded signatures and behaviours of that release; it has not been run on a GPU by
CI. `make gpu-check` (bench/gpu_check.py) is the check to run on a GPU machine.

- `model` is a Hugging Face name or checkpoint folder (PyTorch backend, the default of
  1.0.0), or a folder with a prebuilt TensorRT engine (`rank0.engine`, ...), which is
  loaded with the TensorRT backend (`tensorrt_llm._tensorrt_engine.LLM`).
- Each backend gets the LLM options that make sampling real (`BACKENDS`): on the PyTorch
  backend of 1.0.0 temperature, top_p and seed take effect only with the TRT-LLM sampler
  (`enable_trtllm_sampler=True`), which the TensorRT backend refuses as an unknown option.
- The `n` samples of a request are one `generate_async` call where the backend samples
  `n` sequences per request (TensorRT backend); on the PyTorch backend of 1.0.0 they are
  `n` calls with seeds `seed, seed + 1, ...` (prefix reuse in the KV cache shares the
  prompt's prefill), since `n > 1` there needs the overlap scheduler turned off.
- The chat template is applied with the LLM's own tokenizer. A JSON schema is enforced by
  guided decoding (`GuidedDecodingParams(json=...)`) through the backend chosen when the
  LLM is built (`xgrammar` by default).
- Requests are submitted from the event loop (the LLM API binds each result to the
  running loop) and awaited with `RequestOutput.aresult()`; the LLM batches everything in
  flight, so the engine takes hundreds of requests at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

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
# Python versions TensorRT-LLM 1.0.0 publishes wheels for.
WHEEL_PYTHONS: tuple[str, ...] = ("3.10", "3.12")
GUIDED_BACKENDS: tuple[str, ...] = ("xgrammar", "llguidance", "none")
# CompletionOutput.finish_reason in 1.0.0 is one of these (or None while unfinished).
FINISH_REASONS = {"stop": "stop", "length": "length"}
# Seeds go to the sampler as 32-bit values.
SEED_MODULUS = 2**31


@dataclass(frozen=True)
class BackendProfile:
    """What one TensorRT-LLM 1.0.0 backend needs for taskseed's features, as data.

    - `llm_options`: passed to the LLM's constructor so that temperature, top_p and seed
      take effect (without them the PyTorch backend of 1.0.0 decodes greedily);
    - `n_per_call`: whether `SamplingParams(n=k)` gives k samples in one call with these
      options; where it does not, the engine makes k calls with seeds `seed + i`;
    - `refuses_long_prompts`: whether the backend itself refuses a prompt longer than
      `max_seq_len` (the PyTorch backend only checks `max_num_tokens`);
    - `guided`: the guided decoding backends it accepts.
    The contract test checks these against the release's recorded behaviour.
    """

    llm_options: Mapping[str, Any] = field(default_factory=dict)
    n_per_call: bool = True
    refuses_long_prompts: bool = True
    guided: tuple[str, ...] = ("xgrammar",)


BACKENDS: dict[str, BackendProfile] = {
    "pytorch": BackendProfile(
        llm_options={"enable_trtllm_sampler": True},
        n_per_call=False,
        refuses_long_prompts=False,
        guided=("xgrammar", "llguidance"),
    ),
    "tensorrt": BackendProfile(),
}
BACKEND_CHOICES: tuple[str, ...] = ("auto", *BACKENDS)


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
                f"{INSTALL_HINT} (written for TensorRT-LLM {RELEASE}{_python_note()}; "
                "see docs/engines.md)"
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


def _python_note(version: tuple[int, int] | None = None) -> str:
    """Where this Python has no TensorRT-LLM 1.0.0 wheel, a note that says so."""
    major, minor = version or sys.version_info[:2]
    here = f"{major}.{minor}"
    if here in WHEEL_PYTHONS:
        return ""
    return f", whose wheels are for Python {' and '.join(WHEEL_PYTHONS)}; this is Python {here}"


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
        if backend not in BACKEND_CHOICES:
            raise EngineError(
                f"unknown trtllm backend `{backend}`; one of {', '.join(BACKEND_CHOICES)}"
            )
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
        profile = BACKENDS[backend]
        if guided_decoding_backend != "none" and guided_decoding_backend not in profile.guided:
            raise EngineError(
                f"guided decoding with {guided_decoding_backend} needs the PyTorch backend "
                f"(the {backend} backend takes {', '.join(profile.guided)})"
            )

        self.model_path = model
        self.backend = backend
        self.profile = profile
        self.tokenizer_name = tokenizer
        self.tensor_parallel_size = tensor_parallel_size
        self.max_concurrency = max_concurrency
        self.max_seq_len = max_seq_len
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
        options.update(profile.llm_options)
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
            "llm_options": dict(self.profile.llm_options),
            "samples_per_call": "n" if self.profile.n_per_call else "1 (n calls, seeds offset)",
            "tensor_parallel_size": self.tensor_parallel_size,
            "guided_decoding_backend": self.guided_decoding_backend,
            "max_concurrency": self.max_concurrency,
        }

    # ------------------------------------------------------------------ request

    def _tokenizer(self) -> Any:
        tokenizer = self._llm.tokenizer if self._llm is not None else None
        if tokenizer is None:
            raise EngineError("the TensorRT-LLM model has no tokenizer to apply a chat template")
        return tokenizer

    def prompt(self, request: ChatRequest) -> str:
        """The chat, rendered with the model's chat template, ready for the assistant."""
        tokenizer = self._tokenizer()
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        try:
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        except Exception as exc:  # a template that rejects these roles, for one
            raise RequestRefused(f"the chat template failed: {type(exc).__name__}: {exc}") from None
        return str(text)

    def check_length(self, prompt: str) -> None:
        """Refuse a prompt that leaves no room for an answer under `max_seq_len`.

        The TensorRT backend refuses such prompts itself; the PyTorch backend of 1.0.0
        checks only `max_num_tokens`, so the engine counts the prompt's tokens first.
        """
        if self.max_seq_len is None or self.profile.refuses_long_prompts:
            return
        count = len(self._tokenizer().encode(prompt, add_special_tokens=False))
        if count >= self.max_seq_len:
            raise RequestRefused(
                f"the prompt has {count} tokens and max_seq_len is {self.max_seq_len}: "
                "no room for an answer"
            )

    def sampling_params(self, request: ChatRequest) -> tuple[list[Any], int | None]:
        """The SamplingParams of each `generate_async` call for the request.

        Returns the calls' parameters and, for a greedy request, how many times its one
        answer is repeated. At temperature 0 the request is decoded greedily (top_k=1):
        TensorRT-LLM refuses greedy decoding with n > 1 (the answers would all be the
        same), so it asks once. Otherwise the n samples are one call where the backend
        samples n sequences per call, or n calls with seeds `seed + i` where it does not
        (a request without a seed starts at 0: TensorRT-LLM's own default seed is fixed).
        """
        sampling = request.sampling
        if sampling.temperature <= 0.0:
            return [self._params(request, n=1, seed=sampling.seed, greedy=True)], request.n
        if request.n == 1 or self.profile.n_per_call:
            return [self._params(request, n=request.n, seed=sampling.seed)], None
        base = sampling.seed or 0
        return [self._params(request, n=1, seed=base + i) for i in range(request.n)], None

    def _params(
        self, request: ChatRequest, *, n: int, seed: int | None, greedy: bool = False
    ) -> Any:
        sampling = request.sampling
        options: dict[str, Any] = {
            "max_tokens": sampling.max_tokens,
            "n": n,
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
        if seed is not None:
            options["seed"] = seed % SEED_MODULUS
        if request.json_schema is not None and self.guided_decoding_backend != "none":
            # A string keeps the schema's key order: the question is written before its answer.
            options["guided_decoding"] = self._api.GuidedDecodingParams(
                json=json.dumps(request.json_schema)
            )
        return self._api.SamplingParams(**options)

    async def generate(self, request: ChatRequest) -> Completion:
        if self._llm is None:
            raise EngineError("the trtllm engine is closed")
        prompt = self.prompt(request)
        self.check_length(prompt)
        try:
            calls, repeat = self.sampling_params(request)
        except ValueError as exc:  # SamplingParams._validate: a value out of its range
            raise RequestRefused(f"TensorRT-LLM refused the sampling parameters: {exc}") from None
        async with self._slots:
            outputs = await self._run(prompt, calls)
        return self._completion(outputs, repeat)

    async def _run(self, prompt: str, calls: Sequence[Any]) -> list[Any]:
        """Submit the calls, await their results; abort them all if any fails or is cancelled."""
        futures: list[Any] = []
        try:
            for params in calls:
                # Submitted on the event loop's thread: the result it returns is bound to
                # the running loop, which `aresult()` needs.
                futures.append(self._llm.generate_async(prompt, sampling_params=params))
        except (ValueError, TypeError) as exc:  # e.g. the prompt exceeds max_num_tokens
            _abort_all(futures)
            raise RequestRefused(f"TensorRT-LLM refused the request: {exc}") from None
        except RuntimeError as exc:  # e.g. "LLM is shutting down"
            _abort_all(futures)
            raise EngineError(f"TensorRT-LLM: {exc}") from None
        tasks = [asyncio.ensure_future(f.aresult()) for f in futures]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        except asyncio.CancelledError:
            _abort_all(futures)  # the run's per-request timeout: free the GPU slots
            for task in tasks:
                task.cancel()
            raise
        failed = next((t.exception() for t in tasks if t.done() and t.exception()), None)
        if failed is None:
            return [t.result() for t in tasks]
        _abort_all([f for f, t in zip(futures, tasks, strict=True) if not t.done()])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._request_error is not None and isinstance(failed, self._request_error):
            raise RequestRefused(f"TensorRT-LLM failed the request: {failed}") from None
        if isinstance(failed, ValueError):
            raise RequestRefused(f"TensorRT-LLM refused the request: {failed}") from None
        raise EngineError(f"TensorRT-LLM: {type(failed).__name__}: {failed}") from None

    def _completion(self, results: Sequence[Any], repeat: int | None) -> Completion:
        outputs = [o for result in results for o in sorted(result.outputs, key=lambda o: o.index)]
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
            # One prompt, however many calls: with KV cache reuse its prefill is shared.
            prompt_tokens=len(results[0].prompt_token_ids or ()),
            completion_tokens=generated,
            model=self.model,
        )

    async def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            await asyncio.to_thread(llm.shutdown)


def _abort_all(futures: Sequence[Any]) -> None:
    for future in futures:
        if getattr(future, "finished", False):
            continue
        try:
            future.abort()
        except Exception:  # already finished, or the executor is gone
            continue
