"""The `trtllm` engine against a stand-in `tensorrt_llm` that enforces 1.0.0's signatures.

TensorRT-LLM cannot be installed here (its wheel comes from NVIDIA's index, and it needs a
GPU), so these tests install a fake `tensorrt_llm` package in `sys.modules`. Its classes
are built from the recorded interface in `trtllm_contract.py`: every constructor and call
the engine makes is bound to an `inspect.Signature` of TensorRT-LLM 1.0.0, so an unknown,
misspelt, positional-instead-of-keyword or missing argument raises, as the real library
would. The fake also keeps the release's documented checks that the engine depends on
(invalid LLM keywords, greedy decoding with n > 1, one guide per request, prompts longer
than max_num_tokens, results bound to the running event loop).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskseed.runtime.engines import make_engine
from taskseed.runtime.engines import trtllm as trtllm_module
from taskseed.runtime.engines.base import (
    ChatRequest,
    EngineError,
    Message,
    RequestRefused,
    Sampling,
)
from taskseed.runtime.engines.trtllm import TensorRTLLMEngine, TensorRTLLMNotInstalled
from tests.runtime.engines import trtllm_contract as contract

SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}

# ----------------------------------------------------------------------------- fake


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
        greedy = not self.use_beam_search and self.top_k in (None, 1) and self.top_p in (None, 0.0)
        if self.best_of > 1 and greedy and not os.environ.get("TLLM_ALLOW_N_GREEDY_DECODING"):
            raise ValueError(contract.GREEDY_N_ERROR)
        # What the executor's bindings would refuse: the types of the fields the engine sets.
        assert isinstance(self.max_tokens, int) and isinstance(self.n, int)
        assert self.stop is None or isinstance(self.stop, str | list)
        assert self.seed is None or isinstance(self.seed, int)
        assert self.guided_decoding is None or isinstance(
            self.guided_decoding, FakeGuidedDecodingParams
        )


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

    def encode(self, text: str) -> list[int]:
        return [len(word) for word in text.split()]


Script = Callable[[str, FakeSamplingParams], list[dict[str, Any]]]


def default_script(prompt: str, params: FakeSamplingParams) -> list[dict[str, Any]]:
    return [
        {"text": f'{{"answer": "{i}"}}', "token_ids": [7] * (3 + i), "finish_reason": "stop"}
        for i in range(params.n)
    ]


class State:
    """What the fake saw, and how it answers."""

    def __init__(self) -> None:
        self.llms: list[FakeLLM] = []
        self.script: Script = default_script
        self.error: BaseException | None = None
        self.delay_s = 0.0
        self.aborted = 0
        self.in_flight = 0
        self.peak = 0


class FakeRequestOutput:
    __slots__ = (
        *contract.REQUEST_OUTPUT_ATTRIBUTES,
        "_outputs",
        "_bound_to_loop",
        "_params",
        "_state",
    )

    def __init__(self, state: State, prompt: str, ids: list[int], params: Any) -> None:
        self._state = state
        self._params = params
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
            if state.delay_s:
                await asyncio.sleep(state.delay_s)
        finally:
            state.in_flight -= 1
        if self._state.error is not None:
            raise self._state.error
        answers = self._state.script(self.prompt or "", self._params)
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

    allowed_kwargs = contract.TORCH_LLM_KWARGS
    guided_backends = contract.TORCH_GUIDED_BACKENDS
    state: State

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        call = _bind(LLM_SIGNATURE, type(self).__name__, args, kwargs)
        extra = call.pop("kwargs")
        for key in extra:
            if key not in self.allowed_kwargs:
                raise ValueError(f"{type(self).__name__} got invalid argument: {key}")
        backend = extra.get("guided_decoding_backend")
        if backend is not None and backend not in self.guided_backends:
            raise ValueError(f"Unsupported guided decoding backend {backend}")
        assert "kv_cache_config" not in extra or isinstance(
            extra["kv_cache_config"], FakeKvCacheConfig
        )
        self.args = {**call, **extra}
        self.tokenizer = FakeTokenizer()
        self.requests: list[dict[str, Any]] = []
        self.shutdowns = 0
        self.state.llms.append(self)

    def generate_async(self, *args: Any, **kwargs: Any) -> FakeRequestOutput:
        call = _bind(GENERATE_ASYNC_SIGNATURE, "LLM.generate_async", args, kwargs)
        if self.shutdowns:
            raise RuntimeError("LLM is shutting down")
        inputs, params = call["inputs"], call["sampling_params"]
        if not isinstance(inputs, str):
            raise TypeError(f"The inputs must be type str or list of int, but got {type(inputs)}")
        if params is not None and not isinstance(params, FakeSamplingParams):
            raise TypeError("The sampling_params must be type SamplingParams or None")
        ids = self.tokenizer.encode(inputs)
        self.check_arguments(len(ids), params)
        self.requests.append(call)
        return FakeRequestOutput(self.state, inputs, ids, params)

    def check_arguments(self, prompt_len: int, params: FakeSamplingParams) -> None:
        limit = self.args.get("max_num_tokens") or 8192
        if not self.args.get("enable_chunked_prefill") and prompt_len > limit:
            raise ValueError(contract.PROMPT_TOO_LONG.format(prompt=float(prompt_len), limit=limit))

    def shutdown(self) -> None:
        self.shutdowns += 1


class FakeTrtLLM(FakeLLM):
    """tensorrt_llm._tensorrt_engine.LLM (_TrtLLM): a prebuilt engine's limits apply."""

    allowed_kwargs = contract.TRT_LLM_KWARGS
    guided_backends = contract.TRT_GUIDED_BACKENDS

    def check_arguments(self, prompt_len: int, params: FakeSamplingParams) -> None:
        config = json.loads((Path(self.args["model"]) / "config.json").read_text())
        max_seq_len = config["build_config"]["max_seq_len"]
        if prompt_len + (params.max_tokens or 0) > max_seq_len:
            raise ValueError(
                f"The sum of prompt length ({float(prompt_len)}) and query length (0) "
                f"max_tokens ({params.max_tokens}) should not exceed max_seq_len ({max_seq_len})"
            )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> State:
    state = State()
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
    monkeypatch.setitem(sys.modules, "tensorrt_llm", package)
    monkeypatch.setitem(sys.modules, "tensorrt_llm.llmapi", llmapi)
    monkeypatch.setitem(sys.modules, "tensorrt_llm._tensorrt_engine", engine_module)
    return state


def request(
    text: str = "Write one question.",
    *,
    n: int = 1,
    schema: dict[str, Any] | None = None,
    **sampling: Any,
) -> ChatRequest:
    return ChatRequest(
        messages=(Message("system", "You write quiz items."), Message("user", text)),
        sampling=Sampling(**sampling),
        n=n,
        json_schema=schema,
    )


def run(engine: TensorRTLLMEngine, *requests: ChatRequest) -> list[Any]:
    async def main() -> list[Any]:
        try:
            return list(await asyncio.gather(*(engine.generate(r) for r in requests)))
        finally:
            await engine.close()

    return asyncio.run(main())


# ------------------------------------------------------------- the checker itself


def test_the_recorded_signatures_reject_what_1_0_0_rejects(fake: State) -> None:
    """The fake is strict: these calls fail, so a mistake in the engine would fail too."""
    with pytest.raises(TypeError, match="max_token"):
        FakeSamplingParams(max_token=5)  # misspelt max_tokens
    with pytest.raises(TypeError):
        FakeSamplingParams(5)  # SamplingParams is keyword-only
    with pytest.raises(TypeError, match="json_schema"):
        FakeGuidedDecodingParams(json_schema="{}")
    with pytest.raises(TypeError, match="free_gpu_mem_fraction"):
        FakeKvCacheConfig(free_gpu_mem_fraction=0.5)
    with pytest.raises(ValueError, match="Only one guide"):
        FakeGuidedDecodingParams(json="{}", regex="a+")
    with pytest.raises(ValueError, match="Greedy decoding"):
        FakeSamplingParams(n=3)  # top_k and top_p unset: greedy

    llm_class = sys.modules["tensorrt_llm.llmapi"].LLM
    with pytest.raises(ValueError, match="invalid argument: tensor_parallel"):
        llm_class("some/model", tensor_parallel=2)
    with pytest.raises(TypeError):
        llm_class(tokenizer="t")  # model is required
    llm = llm_class("some/model")
    with pytest.raises(TypeError, match="sampling"):
        llm.generate_async("hi", sampling=FakeSamplingParams(max_tokens=4))
    with pytest.raises(TypeError):
        llm.generate_async(sampling_params=None)  # inputs is required
    with pytest.raises(TypeError, match="add_generation"):
        llm.tokenizer.apply_chat_template([], add_generation=True)
    with pytest.raises(AttributeError):
        CompletionOutput(index=0).tokens  # noqa: B018 - not a field of CompletionOutput


def test_a_misspelt_keyword_in_the_engine_fails_the_contract(fake: State) -> None:
    class Broken(TensorRTLLMEngine):
        def sampling_params(self, req: ChatRequest) -> tuple[Any, bool]:
            return self._api.SamplingParams(max_new_tokens=req.sampling.max_tokens), False

    engine = Broken("some/model")
    with pytest.raises(TypeError, match="max_new_tokens"):
        run(engine, request())


# --------------------------------------------------------------------- requests


def test_a_plain_request(fake: State) -> None:
    engine = TensorRTLLMEngine("meta-llama/Llama-3.1-8B-Instruct")
    [completion] = run(engine, request(temperature=0.7, top_p=0.95, max_tokens=128))

    [llm] = fake.llms
    assert llm.args["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert llm.args["tensor_parallel_size"] == 1
    assert llm.args["guided_decoding_backend"] == "xgrammar"
    [call] = llm.requests
    assert call["inputs"] == (
        "<|system|>\nYou write quiz items.\n<|user|>\nWrite one question.\n<|assistant|>\n"
    )
    params = call["sampling_params"]
    assert (params.temperature, params.top_p, params.max_tokens, params.n) == (0.7, 0.95, 128, 1)
    assert params.add_special_tokens is False  # the template wrote them already
    assert params.stop is None and params.seed is None and params.guided_decoding is None
    assert call["streaming"] is False

    assert [c.text for c in completion.choices] == ['{"answer": "0"}']
    assert [c.finish_reason for c in completion.choices] == ["stop"]
    assert [c.completion_tokens for c in completion.choices] == [3]
    assert completion.prompt_tokens == len(llm.tokenizer.encode(call["inputs"]))
    assert completion.completion_tokens == 3
    assert completion.model == engine.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert llm.shutdowns == 1


def test_n_samples_share_one_call(fake: State) -> None:
    engine = TensorRTLLMEngine("m")
    [completion] = run(engine, request(n=3, temperature=1.0))
    [llm] = fake.llms
    [call] = llm.requests
    assert call["sampling_params"].n == 3
    # outputs come back in index order, whatever order the release lists them in
    assert [c.text for c in completion.choices] == [f'{{"answer": "{i}"}}' for i in range(3)]
    assert [c.completion_tokens for c in completion.choices] == [3, 4, 5]
    assert completion.completion_tokens == 12
    # one prompt for the n samples: counted once
    assert completion.prompt_tokens == len(llm.tokenizer.encode(call["inputs"]))


def test_a_json_schema_is_guided_decoding(fake: State) -> None:
    engine = TensorRTLLMEngine("m", guided_decoding_backend="llguidance")
    run(engine, request(schema=SCHEMA))
    [llm] = fake.llms
    assert llm.args["guided_decoding_backend"] == "llguidance"
    guided = llm.requests[0]["sampling_params"].guided_decoding
    assert isinstance(guided, FakeGuidedDecodingParams)
    assert guided.json == json.dumps(SCHEMA)  # key order kept: question before answer
    assert list(json.loads(guided.json)["properties"]) == ["question", "answer"]
    assert guided.regex is None and guided.json_object is False


def test_guided_decoding_can_be_turned_off(fake: State) -> None:
    engine = TensorRTLLMEngine("m", guided_decoding_backend="none")
    run(engine, request(schema=SCHEMA))
    [llm] = fake.llms
    assert "guided_decoding_backend" not in llm.args
    assert llm.requests[0]["sampling_params"].guided_decoding is None


def test_stop_strings_and_finish_reasons(fake: State) -> None:
    def script(prompt: str, params: FakeSamplingParams) -> list[dict[str, Any]]:
        assert params.stop == ["\n\n", "###"]
        assert params.include_stop_str_in_output is False
        reasons = ["stop", "length", "timeout", "cancelled"]
        return [
            {"text": f"t{i}", "token_ids": [1, 2], "finish_reason": reasons[i]}
            for i in range(params.n)
        ]

    fake.script = script
    engine = TensorRTLLMEngine("m")
    [completion] = run(engine, request(n=4, stop=("\n\n", "###")))
    assert [c.finish_reason for c in completion.choices] == ["stop", "length", "error", "error"]


def test_the_seed_is_passed_on(fake: State) -> None:
    engine = TensorRTLLMEngine("m")
    run(engine, request(seed=1234), request(seed=2**40 + 5))
    [llm] = fake.llms
    assert sorted(r["sampling_params"].seed for r in llm.requests) == [5, 1234]


def test_greedy_decoding_asks_once_and_repeats(fake: State) -> None:
    engine = TensorRTLLMEngine("m")
    [completion] = run(engine, request(n=3, temperature=0.0, top_p=1.0))
    [llm] = fake.llms
    params = llm.requests[0]["sampling_params"]
    assert (params.n, params.top_k, params.temperature, params.top_p) == (1, 1, None, None)
    assert [c.text for c in completion.choices] == ['{"answer": "0"}'] * 3
    assert completion.completion_tokens == 3  # generated once


def test_a_prompt_that_is_too_long_is_refused(fake: State) -> None:
    engine = TensorRTLLMEngine("m", max_num_tokens=16)
    with pytest.raises(RequestRefused, match="max_num_tokens") as caught:
        run(engine, request("word " * 40))
    assert caught.value.retryable is False
    [llm] = fake.llms
    assert llm.args["max_num_tokens"] == 16 and llm.requests == []


def test_request_errors_and_engine_errors(fake: State) -> None:
    fake.error = FakeRequestError("grammar compilation failed")
    with pytest.raises(RequestRefused, match="grammar compilation failed"):
        run(TensorRTLLMEngine("m"), request(schema=SCHEMA))
    fake.error = RuntimeError("executor worker died")
    with pytest.raises(EngineError, match="executor worker died") as caught:
        run(TensorRTLLMEngine("m"), request())
    assert caught.value.retryable is True


def test_a_timed_out_request_is_aborted(fake: State) -> None:
    fake.delay_s = 5.0
    engine = TensorRTLLMEngine("m")

    async def main() -> None:
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(engine.generate(request()), 0.05)
        finally:
            await engine.close()

    asyncio.run(main())
    assert fake.aborted == 1


def test_close_shuts_the_llm_down_once(fake: State) -> None:
    engine = TensorRTLLMEngine("m")

    async def main() -> None:
        await engine.close()
        await engine.close()
        with pytest.raises(EngineError, match="closed"):
            await engine.generate(request())

    asyncio.run(main())
    [llm] = fake.llms
    assert llm.shutdowns == 1


def test_requests_in_flight_are_bounded(fake: State) -> None:
    fake.delay_s = 0.01
    engine = TensorRTLLMEngine("m", max_concurrency=4)
    completions = run(engine, *(request(f"q{i}") for i in range(40)))
    assert len(completions) == 40 and len(fake.llms[0].requests) == 40
    assert fake.peak == 4  # hundreds by default; bounded by max_concurrency


# ------------------------------------------------------------------ construction


def test_llm_options_follow_the_recorded_keywords(fake: State) -> None:
    engine = TensorRTLLMEngine(
        "m",
        tokenizer="tok",
        tensor_parallel_size=2,
        kv_cache_free_gpu_memory_fraction=0.8,
        max_batch_size=256,
        max_seq_len=4096,
        trust_remote_code=True,
    )
    [llm] = fake.llms
    assert llm.args["tokenizer"] == "tok" and llm.args["tensor_parallel_size"] == 2
    assert llm.args["trust_remote_code"] is True
    assert llm.args["kv_cache_config"].free_gpu_memory_fraction == 0.8
    assert llm.args["kv_cache_config"].enable_block_reuse is True
    assert llm.args["max_batch_size"] == 256 and llm.args["max_seq_len"] == 4096
    info = engine.describe()
    assert info["engine"] == "trtllm" and info["backend"] == "pytorch"
    assert info["tensorrt_llm"] == "1.0.0" and info["written_for"] == "1.0.0"
    run(engine)


def test_a_prebuilt_engine_uses_the_tensorrt_backend(fake: State, tmp_path: Path) -> None:
    engine_dir = tmp_path / "llama-engine"
    engine_dir.mkdir()
    (engine_dir / "config.json").write_text(json.dumps({"build_config": {"max_seq_len": 64}}))
    (engine_dir / "rank0.engine").write_bytes(b"\0")

    with pytest.raises(EngineError, match="no tokenizer"):
        TensorRTLLMEngine(str(engine_dir))
    with pytest.raises(EngineError, match="llguidance"):
        TensorRTLLMEngine(str(engine_dir), tokenizer="tok", guided_decoding_backend="llguidance")
    with pytest.raises(EngineError, match="prebuilt TensorRT engine"):
        TensorRTLLMEngine(str(engine_dir), tokenizer="tok", backend="pytorch")

    engine = TensorRTLLMEngine(str(engine_dir), tokenizer="tok")
    assert engine.backend == "tensorrt"
    [llm] = fake.llms
    assert type(llm).__name__ == "_TrtLLM"
    [completion] = run(engine, request(max_tokens=8))
    assert completion.choices[0].text == '{"answer": "0"}'

    engine = TensorRTLLMEngine(str(engine_dir), tokenizer="tok")
    with pytest.raises(RequestRefused, match="max_seq_len"):
        run(engine, request(max_tokens=60))


def test_the_model_identity_is_stable_and_has_no_path(fake: State, tmp_path: Path) -> None:
    assert TensorRTLLMEngine("org/Model-8B").model == "org/Model-8B"
    checkpoint = tmp_path / "deep" / "Model-8B"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text('{"hidden_size": 8}')
    first = TensorRTLLMEngine(str(checkpoint)).model
    assert first == TensorRTLLMEngine(str(checkpoint) + "/").model
    assert first.startswith("Model-8B@") and str(tmp_path) not in first
    (checkpoint / "config.json").write_text('{"hidden_size": 16}')
    assert TensorRTLLMEngine(str(checkpoint)).model != first


def test_configuration_errors(fake: State) -> None:
    with pytest.raises(EngineError, match="needs a model"):
        TensorRTLLMEngine(None)
    with pytest.raises(EngineError, match="guided decoding backend"):
        TensorRTLLMEngine("m", guided_decoding_backend="outlines")
    with pytest.raises(EngineError, match="backend"):
        TensorRTLLMEngine("m", backend="onnx")
    with pytest.raises(EngineError, match="fraction"):
        TensorRTLLMEngine("m", kv_cache_free_gpu_memory_fraction=1.5)


def test_a_failed_load_is_an_engine_error(fake: State, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Only 1 GPUs are available, but 2 are required.")

    monkeypatch.setattr(sys.modules["tensorrt_llm.llmapi"], "LLM", broken)
    with pytest.raises(EngineError, match="could not load m: RuntimeError: Only 1 GPUs"):
        TensorRTLLMEngine("m", tensor_parallel_size=2)


# ---------------------------------------------------------- registry and install


def test_make_engine_resolves_trtllm(fake: State) -> None:
    engine = make_engine("trtllm", model="org/Model", timeout_s=600.0, max_concurrency=64)
    assert isinstance(engine, TensorRTLLMEngine)
    assert engine.max_concurrency == 64 and engine.model == "org/Model"
    with pytest.raises(TypeError):  # what `taskseed run` reports as options it does not take
        make_engine("trtllm", model="org/Model", base_url="http://127.0.0.1:8000/v1")
    run(engine)


def test_without_tensorrt_llm_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt_llm", None)
    monkeypatch.setitem(sys.modules, "tensorrt_llm.llmapi", None)
    for attempt in (
        lambda: TensorRTLLMEngine("org/Model"),
        lambda: make_engine("trtllm", model="org/Model", timeout_s=600.0),
    ):
        with pytest.raises(TensorRTLLMNotInstalled) as caught:
            attempt()
        message = str(caught.value)
        assert "pip install 'taskseed[trtllm]'" in message
        assert "\n" not in message
        assert isinstance(caught.value, EngineError) and caught.value.retryable is False


def test_a_broken_install_names_the_missing_dependency(monkeypatch: pytest.MonkeyPatch) -> None:
    def import_module(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(
        trtllm_module, "importlib", types.SimpleNamespace(import_module=import_module)
    )
    with pytest.raises(TensorRTLLMNotInstalled, match="cannot be imported: No module named"):
        TensorRTLLMEngine("org/Model")


def test_the_contract_names_its_release() -> None:
    assert contract.RELEASE == trtllm_module.RELEASE == "1.0.0"
    assert contract.COMMIT == "ae8270b"
    assert "1.0.0" in (trtllm_module.__doc__ or "")
    assert list(SAMPLING_SIGNATURE.parameters)[:3] == ["end_id", "pad_id", "max_tokens"]
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for p in SAMPLING_SIGNATURE.parameters.values()
    )
