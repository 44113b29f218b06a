"""A stand-in `tensorrt_llm` that enforces TensorRT-LLM 1.0.0's recorded contract.

TensorRT-LLM cannot be installed here (its wheel comes from NVIDIA's index, and it needs a
GPU), so the tests install this fake package in `sys.modules`. Its classes are built from
the recorded interface in `trtllm_contract.py`: every constructor and call is bound to an
`inspect.Signature` of 1.0.0, so an unknown, misspelt, positional-instead-of-keyword or
missing argument raises, as the real library would. It also behaves as the release does
where the engine depends on it (`BACKEND_BEHAVIOUR`):

- the PyTorch backend built without the TRT-LLM sampler answers every sample greedily,
  whatever the temperature and seed: all samples of a prompt are the same text;
- with sampling real, a sample depends on the prompt, the seed (a fixed default when none
  is given) and its index in the call, so samples differ and a seed reproduces them;
- n > 1 in one call on the PyTorch backend without the options it needs fails the request
  (the release asserts in its executor loop);
- invalid LLM keywords, greedy decoding with n > 1, two guides in one request, prompts
  longer than max_num_tokens (PyTorch) or max_seq_len (TensorRT engine) are refused, and
  results are bound to the running event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import json
import os
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.runtime.engines import trtllm_contract as contract


def signature(
    params: list[tuple[str, str, Any]], var_keyword: str | None = None
) -> inspect.Signature:
    kinds = {
        contract.POSITIONAL: inspect.Parameter.POSITIONAL_OR_KEYWORD,
        contract.KEYWORD: inspect.Parameter.KEYWORD_ONLY,
    }
    parameters = [
        inspect.Parameter(
            name,
            kinds[kind],
            default=inspect.Parameter.empty if default is contract.REQUIRED else default,
        )
        for name, kind, default in params
    ]
    if var_keyword:
        parameters.append(inspect.Parameter(var_keyword, inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


LLM_SIGNATURE = signature(contract.LLM_INIT, "kwargs")
GENERATE_ASYNC_SIGNATURE = signature(contract.GENERATE_ASYNC)
SAMPLING_SIGNATURE = signature(contract.SAMPLING_PARAMS)
GUIDED_SIGNATURE = signature(contract.GUIDED_DECODING_PARAMS)
KV_CACHE_SIGNATURE = signature(contract.KV_CACHE_CONFIG)
CHAT_TEMPLATE_SIGNATURE = signature(contract.APPLY_CHAT_TEMPLATE)
ENCODE_SIGNATURE = signature(contract.TOKENIZER_ENCODE, "kwargs")


def _bind(sig: inspect.Signature, what: str, args: Any, kwargs: Any) -> dict[str, Any]:
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{what}: {exc} (TensorRT-LLM {contract.RELEASE})") from None
    bound.apply_defaults()
    return dict(bound.arguments)


class FakeRequestError(RuntimeError):
    """tensorrt_llm.llmapi.RequestError."""


class FakeGuidedDecodingParams:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(_bind(GUIDED_SIGNATURE, "GuidedDecodingParams", args, kwargs))
        guides = sum(bool(self.__dict__[name]) for name, _, _ in contract.GUIDED_DECODING_PARAMS)
        if guides > 1:
            raise ValueError(f"Only one guide can be used for a request, but got {guides}.")


class FakeKvCacheConfig:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(_bind(KV_CACHE_SIGNATURE, "KvCacheConfig", args, kwargs))


class FakeSamplingParams:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(_bind(SAMPLING_SIGNATURE, "SamplingParams", args, kwargs))
        self.given = set(kwargs)
        if self.best_of is None:
            self.best_of = self.n
        if self.best_of < self.n:
            raise ValueError(f"best_of ({self.best_of}) cannot be less than n ({self.n})")
        if self.top_p is not None and not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"require 0 <= top_p <= 1, got top_p={self.top_p}")
        if self.best_of > 1 and self.greedy and not os.environ.get("TLLM_ALLOW_N_GREEDY_DECODING"):
            raise ValueError(contract.GREEDY_N_ERROR)
        # What the executor's bindings would refuse: the types of the fields the engine sets.
        assert isinstance(self.max_tokens, int) and isinstance(self.n, int)
        assert self.stop is None or isinstance(self.stop, str | list)
        assert self.seed is None or isinstance(self.seed, int)
        assert self.guided_decoding is None or isinstance(
            self.guided_decoding, FakeGuidedDecodingParams
        )

    @property
    def greedy(self) -> bool:
        return not self.use_beam_search and self.top_k in (None, 1) and self.top_p in (None, 0.0)


def _completion_output_class() -> type:
    defaults: dict[str, Any] = {"text": "", "token_ids": dataclasses.field(default_factory=list)}
    fields = [("index", int)] + [
        (name, Any, defaults.get(name))
        for name in contract.COMPLETION_OUTPUT_FIELDS
        if name != "index"
    ]
    return dataclasses.make_dataclass(
        "CompletionOutput",
        fields,
        slots=True,
        namespace={"length": property(lambda self: len(self.token_ids))},
    )


CompletionOutput = _completion_output_class()


class FakeTokenizer:
    eos_token_id = 2
    pad_token_id = 0

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        call = _bind(CHAT_TEMPLATE_SIGNATURE, "apply_chat_template", args, kwargs)
        text = "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in call["conversation"])
        if call["add_generation_prompt"]:
            text += "<|assistant|>\n"
        return self.encode(text) if call["tokenize"] else text

    def encode(self, *args: Any, **kwargs: Any) -> list[int]:
        call = _bind(ENCODE_SIGNATURE, "tokenizer.encode", args, kwargs)
        return [len(word) for word in call["text"].split()]


# A draw identifies one sample: None for greedy decoding (the same text for every draw of
# a prompt), else (seed, index in its call).
Draw = tuple[int, int] | None
Script = Callable[[str, FakeSamplingParams, list[Draw]], list[dict[str, Any]]]


def sample_text(prompt: str, draw: Draw) -> str:
    """The fake model's answer: a JSON object that depends on the prompt and the draw."""
    digest = hashlib.sha256(f"{prompt}|{draw}".encode()).hexdigest()[:8]
    return json.dumps({"answer": digest})


def default_script(
    prompt: str, params: FakeSamplingParams, draws: list[Draw]
) -> list[dict[str, Any]]:
    return [
        {"text": sample_text(prompt, draw), "token_ids": [7] * (3 + i), "finish_reason": "stop"}
        for i, draw in enumerate(draws)
    ]


class State:
    """What the fake saw, and how it answers."""

    def __init__(self) -> None:
        self.llms: list[FakeLLM] = []
        self.script: Script = default_script
        self.error: BaseException | None = None
        self.delay_s = 0.0
        self.slow_draws: set[Draw] = set()  # calls whose first draw is one of these take 5 s
        self.aborted = 0
        self.in_flight = 0
        self.peak = 0

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every generate_async call, of every LLM built."""
        return [call for llm in self.llms for call in llm.requests]


class FakeRequestOutput:
    __slots__ = (
        *contract.REQUEST_OUTPUT_ATTRIBUTES,
        "_bound_to_loop",
        "_draws",
        "_failure",
        "_params",
        "_state",
    )

    def __init__(
        self,
        state: State,
        prompt: str,
        ids: list[int],
        params: Any,
        draws: list[Draw],
        failure: str | None,
    ) -> None:
        self._state = state
        self._params = params
        self._draws = draws
        self._failure = failure
        try:  # GenerationResult makes its asyncio queue only when a loop is running
            asyncio.get_running_loop()
            self._bound_to_loop = True
        except RuntimeError:
            self._bound_to_loop = False
        self.request_id = len(state.llms[-1].requests)
        self.prompt = prompt
        self.prompt_token_ids = ids
        self.outputs: list[Any] = []
        self.context_logits = None
        self.finished = False

    async def aresult(self) -> FakeRequestOutput:
        assert self._bound_to_loop, (
            "The asyncio event loop was not present during initialization, "
            "so async operations are not available."
        )
        state = self._state
        state.in_flight += 1
        state.peak = max(state.peak, state.in_flight)
        try:
            delay = 5.0 if self._draws[0] in state.slow_draws else state.delay_s
            if delay:
                await asyncio.sleep(delay)
        finally:
            state.in_flight -= 1
        if state.error is not None:
            raise state.error
        if self._failure is not None:
            raise RuntimeError(self._failure)
        answers = state.script(self.prompt or "", self._params, self._draws)
        # The release returns the n outputs in index order; shuffled here on purpose.
        self.outputs = [CompletionOutput(index=i, **a) for i, a in enumerate(answers)][::-1]
        self.finished = True
        return self

    def result(self, timeout: float | None = None) -> FakeRequestOutput:
        raise AssertionError("the engine must not block the event loop on result()")

    def abort(self) -> None:
        self._state.aborted += 1

    def aborted(self) -> bool:
        return self._state.aborted > 0

    def __await__(self) -> Any:
        return self.aresult().__await__()


class FakeLLM:
    """tensorrt_llm.llmapi.LLM (PyTorch backend in 1.0.0)."""

    backend = "pytorch"
    state: State

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        call = _bind(LLM_SIGNATURE, type(self).__name__, args, kwargs)
        extra = call.pop("kwargs")
        behaviour = self.behaviour
        for key in extra:
            if key not in behaviour["kwargs"]:
                raise ValueError(f"{type(self).__name__} got invalid argument: {key}")
        backend = extra.get("guided_decoding_backend")
        if backend is not None and backend not in behaviour["guided_backends"]:
            raise ValueError(f"Unsupported guided decoding backend {backend}")
        assert "kv_cache_config" not in extra or isinstance(
            extra["kv_cache_config"], FakeKvCacheConfig
        )
        self.args = {**call, **extra}
        self.tokenizer = FakeTokenizer()
        self.requests: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.state.llms.append(self)

    @property
    def behaviour(self) -> dict[str, Any]:
        return contract.BACKEND_BEHAVIOUR[self.backend]

    def has(self, feature: str) -> bool:
        """Whether the LLM was built with the options `feature` needs."""
        return all(self.args.get(k) == v for k, v in self.behaviour[feature].items())

    def generate_async(self, *args: Any, **kwargs: Any) -> FakeRequestOutput:
        call = _bind(GENERATE_ASYNC_SIGNATURE, "LLM.generate_async", args, kwargs)
        if self.shutdowns:
            raise RuntimeError("LLM is shutting down")
        inputs, params = call["inputs"], call["sampling_params"]
        if not isinstance(inputs, str):
            raise TypeError(f"The inputs must be type str or list of int, but got {type(inputs)}")
        if params is None:
            params = FakeSamplingParams()
        if not isinstance(params, FakeSamplingParams):
            raise TypeError("The sampling_params must be type SamplingParams or None")
        ids = self.tokenizer.encode(inputs)
        self.check_arguments(len(ids), params)
        self.requests.append(call)
        failure = None
        if params.n > 1 and not self.has("n_per_call"):
            failure = contract.N_PER_CALL_FAILURE
        if params.greedy or not self.has("sampling"):
            draws: list[Draw] = [None] * params.n
        else:
            seed = contract.DEFAULT_SEED if params.seed is None else params.seed
            draws = [(seed, i) for i in range(params.n)]
        return FakeRequestOutput(self.state, inputs, ids, params, draws, failure)

    def check_arguments(self, prompt_len: int, params: FakeSamplingParams) -> None:
        limit = self.args.get("max_num_tokens") or 8192
        if not self.args.get("enable_chunked_prefill") and prompt_len > limit:
            raise ValueError(contract.PROMPT_TOO_LONG.format(prompt=float(prompt_len), limit=limit))

    def shutdown(self) -> None:
        self.shutdowns += 1


class FakeTrtLLM(FakeLLM):
    """tensorrt_llm._tensorrt_engine.LLM (_TrtLLM): a prebuilt engine's limits apply."""

    backend = "tensorrt"

    def check_arguments(self, prompt_len: int, params: FakeSamplingParams) -> None:
        config = json.loads((Path(self.args["model"]) / "config.json").read_text())
        max_seq_len = config["build_config"]["max_seq_len"]
        if prompt_len + (params.max_tokens or 0) > max_seq_len:
            raise ValueError(
                f"The sum of prompt length ({float(prompt_len)}) and query length (0) "
                f"max_tokens ({params.max_tokens}) should not exceed max_seq_len ({max_seq_len})"
            )


def modules(state: State) -> dict[str, types.ModuleType]:
    """The fake `tensorrt_llm` package and the modules the engine imports from it."""
    torch_llm = type("LLM", (FakeLLM,), {"state": state})
    trt_llm = type("_TrtLLM", (FakeTrtLLM,), {"state": state})
    package = types.ModuleType("tensorrt_llm")
    package.__path__ = []
    package.__version__ = contract.RELEASE  # type: ignore[attr-defined]
    llmapi = types.ModuleType("tensorrt_llm.llmapi")
    for name, value in {
        "LLM": torch_llm,
        "SamplingParams": FakeSamplingParams,
        "GuidedDecodingParams": FakeGuidedDecodingParams,
        "KvCacheConfig": FakeKvCacheConfig,
        "RequestError": FakeRequestError,
    }.items():
        setattr(llmapi, name, value)
    engine_module = types.ModuleType("tensorrt_llm._tensorrt_engine")
    engine_module.LLM = trt_llm  # type: ignore[attr-defined]
    package.llmapi = llmapi  # type: ignore[attr-defined]
    package.LLM = torch_llm  # type: ignore[attr-defined]
    package.SamplingParams = FakeSamplingParams  # type: ignore[attr-defined]
    return {
        "tensorrt_llm": package,
        "tensorrt_llm.llmapi": llmapi,
        "tensorrt_llm._tensorrt_engine": engine_module,
    }


@contextmanager
def installed(state: State | None = None) -> Iterator[State]:
    """The fake package in `sys.modules` for the duration of the block."""
    import sys

    state = state or State()
    fakes = modules(state)
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield state
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def engine_dir(root: Path, max_seq_len: int = 64) -> Path:
    """A folder shaped like trtllm-build's output (config.json and rank0.engine)."""
    folder = root / "llama-engine"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"build_config": {"max_seq_len": max_seq_len}}))
    (folder / "rank0.engine").write_bytes(b"\0")
    return folder
