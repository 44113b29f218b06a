"""The `trtllm` engine against a stand-in `tensorrt_llm` that enforces 1.0.0's contract.

TensorRT-LLM cannot be installed here (its wheel comes from NVIDIA's index, and it needs a
GPU), so these tests install the fake package of `trtllm_fake.py` in `sys.modules`: every
constructor and call the engine makes is bound to the recorded signatures of TensorRT-LLM
1.0.0, and the fake behaves as the release does where the engine depends on it (greedy
samples on the PyTorch backend without the TRT-LLM sampler, a failed request for n > 1 in
one call without the options it needs, seeds that reproduce samples, the documented
refusals). The engine's own table of backend options (`BACKENDS`) is checked against the
recorded behaviours, and the votes the engine returns are checked for what verification
needs: k different samples, reproducible by seed.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import types
from collections.abc import Iterator
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
)
from taskseed.runtime.engines.trtllm import (
    BACKENDS,
    BackendProfile,
    TensorRTLLMEngine,
    TensorRTLLMNotInstalled,
)
from tests.runtime.engines import trtllm_contract as contract
from tests.runtime.engines.trtllm_fake import (
    SAMPLING_SIGNATURE,
    CompletionOutput,
    FakeGuidedDecodingParams,
    FakeKvCacheConfig,
    FakeRequestError,
    FakeSamplingParams,
    State,
    engine_dir,
    installed,
    sample_text,
)
from tests.runtime.sampling import TEST_SAMPLING

SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string"}, "answer": {"type": "string"}},
    "required": ["question", "answer"],
}


@pytest.fixture
def fake() -> Iterator[State]:
    with installed() as state:
        yield state


def request(
    text: str = "Write one question.",
    *,
    n: int = 1,
    schema: dict[str, Any] | None = None,
    **sampling: Any,
) -> ChatRequest:
    return ChatRequest(
        messages=(Message("system", "You write quiz items."), Message("user", text)),
        sampling=TEST_SAMPLING(**sampling),
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
    with pytest.raises(TypeError):
        llm.tokenizer.encode()  # text is required
    with pytest.raises(AttributeError):
        CompletionOutput(index=0).tokens  # noqa: B018 - not a field of CompletionOutput


def test_the_fake_behaves_as_the_release_does(fake: State, tmp_path: Path) -> None:
    """Greedy without the sampler, n > 1 failing without its options, samples by seed."""
    llmapi = sys.modules["tensorrt_llm.llmapi"]

    async def texts(llm: Any, **params: Any) -> list[str]:
        output = llm.generate_async("q", sampling_params=FakeSamplingParams(**params))
        return [o.text for o in (await output.aresult()).outputs]

    async def main() -> None:
        plain = llmapi.LLM("m")  # PyTorch backend, default sampler: greedy whatever is asked
        assert await texts(plain, temperature=1.0, top_p=0.9, seed=1) == await texts(
            plain, temperature=1.0, top_p=0.9, seed=2
        )
        with pytest.raises(RuntimeError, match=r"batch_size > 0"):
            await texts(plain, temperature=1.0, top_p=0.9, n=2)

        sampler = llmapi.LLM("m", enable_trtllm_sampler=True)
        one = await texts(sampler, temperature=1.0, top_p=0.9, seed=1)
        two = await texts(sampler, temperature=1.0, top_p=0.9, seed=2)
        assert one != two and one == await texts(sampler, temperature=1.0, top_p=0.9, seed=1)
        assert await texts(sampler, temperature=1.0) == await texts(sampler, temperature=1.0)
        with pytest.raises(RuntimeError, match=r"batch_size > 0"):
            await texts(sampler, temperature=1.0, top_p=0.9, n=2)

        both = llmapi.LLM("m", enable_trtllm_sampler=True, disable_overlap_scheduler=True)
        assert len(set(await texts(both, temperature=1.0, top_p=0.9, n=3, seed=1))) == 3

        trt = sys.modules["tensorrt_llm._tensorrt_engine"].LLM(str(engine_dir(tmp_path)))
        assert len(set(await texts(trt, temperature=1.0, top_p=0.9, n=3, max_tokens=8))) == 3
        with pytest.raises(ValueError, match="invalid argument: enable_trtllm_sampler"):
            type(trt)(str(tmp_path / "llama-engine"), enable_trtllm_sampler=True)

    asyncio.run(main())


def test_a_misspelt_keyword_in_the_engine_fails_the_contract(fake: State) -> None:
    class Broken(TensorRTLLMEngine):
        def sampling_params(self, req: ChatRequest) -> tuple[list[Any], int | None]:
            return [self._api.SamplingParams(max_new_tokens=req.sampling.max_tokens)], None

    engine = Broken("some/model")
    with pytest.raises(TypeError, match="max_new_tokens"):
        run(engine, request())


# ------------------------------------------------------------- behaviour per backend


@pytest.mark.parametrize("backend", ["pytorch", "tensorrt"])
def test_the_backend_table_matches_the_recorded_behaviour(backend: str) -> None:
    """Options for real sampling, n per call only where it works, no refused option."""
    profile, recorded = BACKENDS[backend], contract.BACKEND_BEHAVIOUR[backend]
    options = dict(profile.llm_options)
    assert recorded["sampling"].items() <= options.items()
    assert set(options) <= recorded["kwargs"]  # nothing the backend refuses
    assert profile.n_per_call == (recorded["n_per_call"].items() <= options.items())
    assert profile.refuses_long_prompts == recorded["checks_max_seq_len"]
    assert profile.guided == recorded["guided_backends"]


def build(backend: str, tmp_path: Path, **options: Any) -> TensorRTLLMEngine:
    if backend == "tensorrt":
        return TensorRTLLMEngine(str(engine_dir(tmp_path, 4096)), tokenizer="tok", **options)
    return TensorRTLLMEngine("org/Model", **options)


@pytest.mark.parametrize("backend", ["pytorch", "tensorrt"])
def test_k_votes_differ_and_their_seed_reproduces_them(
    fake: State, tmp_path: Path, backend: str
) -> None:
    vote = request(n=5, temperature=0.7, top_p=0.95, seed=11, schema=SCHEMA)
    [first] = run(build(backend, tmp_path), vote)
    texts = [c.text for c in first.choices]
    assert len(set(texts)) == 5  # k samples, not one answer k times
    assert all("answer" in json.loads(t) for t in texts)

    (tmp_path / "again").mkdir()
    [again] = run(build(backend, tmp_path / "again"), vote)
    assert [c.text for c in again.choices] == texts  # same seed, same votes

    (tmp_path / "other").mkdir()
    reseeded = request(n=5, temperature=0.7, top_p=0.95, seed=12, schema=SCHEMA)
    [other] = run(build(backend, tmp_path / "other"), reseeded)
    assert [c.text for c in other.choices] != texts

    llm = fake.llms[0]
    assert llm.has("sampling")
    params = [call["sampling_params"] for call in llm.requests]
    if backend == "pytorch":  # n calls, seeds offset: n per call needs the overlap off
        assert [(p.n, p.seed) for p in params] == [(1, 11 + i) for i in range(5)]
        assert not llm.has("n_per_call")
    else:
        assert [(p.n, p.seed) for p in params] == [(5, 11)]
    assert all((p.temperature, p.top_p) == (0.7, 0.95) for p in params)


def test_without_the_sampler_option_the_votes_would_be_one_answer(
    fake: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the issue found: the PyTorch backend's default sampler ignores temperature."""
    bare = BackendProfile(llm_options={}, n_per_call=False, refuses_long_prompts=False)
    monkeypatch.setitem(BACKENDS, "pytorch", bare)
    [completion] = run(TensorRTLLMEngine("m"), request(n=4, temperature=1.0, seed=3))
    assert len({c.text for c in completion.choices}) == 1

    one_call = BackendProfile(llm_options={"enable_trtllm_sampler": True})
    monkeypatch.setitem(BACKENDS, "pytorch", one_call)
    with pytest.raises(EngineError, match=r"batch_size > 0"):
        run(TensorRTLLMEngine("m"), request(n=4, temperature=1.0, seed=3))


def test_split_samples_without_a_seed_still_differ(fake: State) -> None:
    [completion] = run(TensorRTLLMEngine("m"), request(n=3, temperature=1.0))
    assert [c["sampling_params"].seed for c in fake.calls] == [0, 1, 2]
    assert len({c.text for c in completion.choices}) == 3


# --------------------------------------------------------------------- requests


def test_a_plain_request(fake: State) -> None:
    engine = TensorRTLLMEngine("meta-llama/Llama-3.1-8B-Instruct")
    [completion] = run(engine, request(temperature=0.7, top_p=0.95, max_tokens=128))

    [llm] = fake.llms
    assert llm.args["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert llm.args["tensor_parallel_size"] == 1
    assert llm.args["guided_decoding_backend"] == "xgrammar"
    assert llm.args["enable_trtllm_sampler"] is True
    assert "disable_overlap_scheduler" not in llm.args  # the overlap scheduler stays on
    [call] = llm.requests
    prompt = "<|system|>\nYou write quiz items.\n<|user|>\nWrite one question.\n<|assistant|>\n"
    assert call["inputs"] == prompt
    params = call["sampling_params"]
    assert (params.temperature, params.top_p, params.max_tokens, params.n) == (0.7, 0.95, 128, 1)
    assert params.add_special_tokens is False  # the template wrote them already
    assert params.stop is None and params.seed is None and params.guided_decoding is None
    assert call["streaming"] is False

    assert [c.text for c in completion.choices] == [sample_text(prompt, (contract.DEFAULT_SEED, 0))]
    assert [c.finish_reason for c in completion.choices] == ["stop"]
    assert [c.completion_tokens for c in completion.choices] == [3]
    assert completion.prompt_tokens == len(llm.tokenizer.encode(call["inputs"]))
    assert completion.completion_tokens == 3
    assert completion.model == engine.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert llm.shutdowns == 1


def test_n_samples_share_one_call_on_the_tensorrt_backend(fake: State, tmp_path: Path) -> None:
    engine = build("tensorrt", tmp_path)
    [completion] = run(engine, request(n=3, temperature=1.0, seed=5))
    [llm] = fake.llms
    [call] = llm.requests
    assert call["sampling_params"].n == 3
    # outputs come back in index order, whatever order the release lists them in
    prompt = call["inputs"]
    assert [c.text for c in completion.choices] == [sample_text(prompt, (5, i)) for i in range(3)]
    assert [c.completion_tokens for c in completion.choices] == [3, 4, 5]
    assert completion.completion_tokens == 12
    # one prompt for the n samples: counted once
    assert completion.prompt_tokens == len(llm.tokenizer.encode(prompt))


def test_split_samples_count_their_tokens(fake: State) -> None:
    [completion] = run(TensorRTLLMEngine("m"), request(n=3, temperature=1.0, seed=5))
    assert [c.completion_tokens for c in completion.choices] == [3, 3, 3]
    assert completion.completion_tokens == 9
    prompt = fake.calls[0]["inputs"]
    assert completion.prompt_tokens == len(fake.llms[0].tokenizer.encode(prompt))


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


def test_stop_strings_and_finish_reasons(fake: State, tmp_path: Path) -> None:
    def script(prompt: str, params: FakeSamplingParams, draws: list[Any]) -> list[dict[str, Any]]:
        assert params.stop == ["\n\n", "###"]
        assert params.include_stop_str_in_output is False
        reasons = ["stop", "length", "timeout", "cancelled"]
        return [
            {"text": f"t{i}", "token_ids": [1, 2], "finish_reason": reasons[i]}
            for i in range(params.n)
        ]

    fake.script = script
    engine = build("tensorrt", tmp_path)
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
    [call] = llm.requests
    params = call["sampling_params"]
    assert (params.n, params.top_k, params.temperature, params.top_p) == (1, 1, None, None)
    assert [c.text for c in completion.choices] == [sample_text(call["inputs"], None)] * 3
    assert completion.completion_tokens == 3  # generated once


def test_a_prompt_that_is_too_long_is_refused(fake: State) -> None:
    engine = TensorRTLLMEngine("m", max_num_tokens=16)
    with pytest.raises(RequestRefused, match="max_num_tokens") as caught:
        run(engine, request("word " * 40))
    assert caught.value.retryable is False
    [llm] = fake.llms
    assert llm.args["max_num_tokens"] == 16 and llm.requests == []


def test_a_prompt_longer_than_max_seq_len_is_refused_before_sending(fake: State) -> None:
    # The PyTorch backend of 1.0.0 would take it: only max_num_tokens is checked there.
    llm = sys.modules["tensorrt_llm.llmapi"].LLM("m", max_seq_len=8)
    llm.generate_async("word " * 40, sampling_params=FakeSamplingParams(max_tokens=4))
    fake.llms.clear()

    engine = TensorRTLLMEngine("m", max_seq_len=8)
    with pytest.raises(RequestRefused, match=r"has \d+ tokens and max_seq_len is 8") as caught:
        run(engine, request("word " * 40))
    assert caught.value.retryable is False
    assert fake.llms[0].requests == []
    # a prompt that fits is sent
    [completion] = run(TensorRTLLMEngine("m", max_seq_len=64), request("word"))
    assert completion.choices


def test_value_errors_are_refusals_not_crashes(fake: State) -> None:
    with pytest.raises(RequestRefused, match="top_p") as caught:
        run(TensorRTLLMEngine("m"), request(temperature=0.7, top_p=1.5))
    assert caught.value.retryable is False
    fake.error = ValueError("the guided decoding grammar is empty")
    with pytest.raises(RequestRefused, match="grammar is empty"):
        run(TensorRTLLMEngine("m"), request(n=2, temperature=0.7))


def test_request_errors_and_engine_errors(fake: State) -> None:
    fake.error = FakeRequestError("grammar compilation failed")
    with pytest.raises(RequestRefused, match="grammar compilation failed"):
        run(TensorRTLLMEngine("m"), request(schema=SCHEMA))
    fake.error = RuntimeError("executor worker died")
    with pytest.raises(EngineError, match="executor worker died") as caught:
        run(TensorRTLLMEngine("m"), request())
    assert caught.value.retryable is True


def test_one_failed_call_aborts_the_others(fake: State) -> None:
    fake.slow_draws = {(0, 0), (1, 0)}

    def script(prompt: str, params: FakeSamplingParams, draws: list[Any]) -> list[dict[str, Any]]:
        if draws == [(2, 0)]:
            raise RuntimeError("sequence 2 failed")
        return [{"text": "x", "token_ids": [1]} for _ in draws]

    fake.script = script
    with pytest.raises(EngineError, match="sequence 2 failed"):
        run(TensorRTLLMEngine("m"), request(n=3, temperature=1.0, seed=0))
    assert fake.aborted == 2  # the two still running, not the one that failed


def test_a_timed_out_request_is_aborted(fake: State) -> None:
    fake.delay_s = 5.0
    engine = TensorRTLLMEngine("m")

    async def main() -> None:
        try:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(engine.generate(request(n=3, temperature=1.0)), 0.05)
        finally:
            await engine.close()

    asyncio.run(main())
    assert fake.aborted == 3  # every call of the request


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
    assert info["llm_options"] == {"enable_trtllm_sampler": True}
    assert info["samples_per_call"].startswith("1 ")
    run(engine)


def test_a_prebuilt_engine_uses_the_tensorrt_backend(fake: State, tmp_path: Path) -> None:
    folder = str(engine_dir(tmp_path))

    with pytest.raises(EngineError, match="no tokenizer"):
        TensorRTLLMEngine(folder)
    with pytest.raises(EngineError, match="llguidance"):
        TensorRTLLMEngine(folder, tokenizer="tok", guided_decoding_backend="llguidance")
    with pytest.raises(EngineError, match="prebuilt TensorRT engine"):
        TensorRTLLMEngine(folder, tokenizer="tok", backend="pytorch")

    engine = TensorRTLLMEngine(folder, tokenizer="tok")
    assert engine.backend == "tensorrt"
    [llm] = fake.llms
    assert type(llm).__name__ == "_TrtLLM"
    assert "enable_trtllm_sampler" not in llm.args  # the TensorRT backend refuses it
    assert engine.describe()["samples_per_call"] == "n"
    [completion] = run(engine, request(max_tokens=8))
    prompt = llm.requests[0]["inputs"]
    assert completion.choices[0].text == sample_text(prompt, (contract.DEFAULT_SEED, 0))

    engine = TensorRTLLMEngine(folder, tokenizer="tok")
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


def test_the_install_hint_names_the_pythons_with_wheels() -> None:
    assert trtllm_module._python_note((3, 12)) == ""
    assert trtllm_module._python_note((3, 10)) == ""
    note = trtllm_module._python_note((3, 11))
    assert "Python 3.10 and 3.12" in note and "this is Python 3.11" in note


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
