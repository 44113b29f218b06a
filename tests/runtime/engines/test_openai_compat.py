"""The OpenAI-compatible engine against taskseed's fake server started on loopback."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from taskseed.runtime.engines import fake_server as fake_server_module
from taskseed.runtime.engines.base import ChatRequest, EngineError, Message
from taskseed.runtime.engines.openai_compat import GUIDED, OpenAICompatEngine, refuses_samples
from tests.runtime.engines import trtllm_contract as contract
from tests.runtime.engines.servers import fake_server
from tests.runtime.sampling import TEST_SAMPLING

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def request(text: str = "hi", n: int = 1, seed: int = 7) -> ChatRequest:
    return ChatRequest(
        messages=(Message("user", text),),
        sampling=TEST_SAMPLING(seed=seed),
        n=n,
        json_schema=SCHEMA,
    )


def test_body_carries_the_schema_in_each_servers_form() -> None:
    forms = {}
    for guided in GUIDED:
        engine = OpenAICompatEngine(
            base_url="http://x/v1", model="m", guided=guided, extra_body={"top_k": 20}
        )
        body = engine.body(request(n=3), 3, 0)
        assert body["n"] == 3 and body["seed"] == 7 and body["top_k"] == 20
        forms[guided] = {
            k: v
            for k, v in body.items()
            if k in ("response_format", "structured_outputs", "guided_json")
        }
    assert forms["openai"] == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "item", "schema": SCHEMA},
        }
    }
    assert forms["vllm"] == {"structured_outputs": {"json": SCHEMA}}
    assert forms["vllm-legacy"] == {"guided_json": SCHEMA}
    assert forms["trtllm"] == {"response_format": {"type": "json", "schema": SCHEMA}}
    assert forms["llama-cpp"] == {"response_format": {"type": "json_object", "schema": SCHEMA}}
    assert forms["none"] == {}


def test_configuration_errors() -> None:
    with pytest.raises(EngineError, match="needs a server"):
        OpenAICompatEngine(model="m")
    with pytest.raises(EngineError, match="served model"):
        OpenAICompatEngine(base_url="http://x/v1")
    with pytest.raises(EngineError, match="unknown --guided"):
        OpenAICompatEngine(base_url="http://x/v1", model="m", guided="xml")


def test_n_samples_and_token_accounting() -> None:
    with fake_server() as url:
        engine = OpenAICompatEngine(base_url=url, model="fake")

        async def main() -> None:
            completion = await engine.generate(request(n=4))
            assert len(completion.choices) == 4
            assert all("answer" in json.loads(c.text) for c in completion.choices)
            assert completion.completion_tokens > 0 and completion.prompt_tokens > 0
            again = await engine.generate(request(n=4))
            assert again.choices == completion.choices  # deterministic for a seed
            await engine.close()

        asyncio.run(main())


def test_servers_that_return_fewer_choices_get_follow_ups() -> None:
    with fake_server("--max-n", "1") as url:
        engine = OpenAICompatEngine(base_url=url, model="fake")

        async def main() -> None:
            completion = await engine.generate(request(n=3))
            assert len(completion.choices) == 3
            assert len({c.text for c in completion.choices}) == 3  # other seeds, other samples
            await engine.close()

        asyncio.run(main())


def test_faults_are_retried_and_429s_lower_concurrency() -> None:
    with fake_server("--fault-rate", "0.3", "--slow-s", "2", "--seed", "3") as url:
        engine = OpenAICompatEngine(
            base_url=url,
            model="fake",
            timeout_s=0.5,
            backoff_s=0.01,
            retries=12,
            initial_concurrency=16,
        )

        async def main() -> None:
            results = await asyncio.gather(*(engine.generate(request(f"q{i}")) for i in range(200)))
            assert len(results) == 200
            await engine.close()

        asyncio.run(main())
        kinds = set(engine.retried)
        assert {"http 500", "http 503", "http 429", "timeout", "connection"} <= kinds, kinds
        assert engine.limiter.decreases >= 1


def test_client_errors_are_final() -> None:
    engine = OpenAICompatEngine(
        base_url="http://127.0.0.1:9/v1", model="fake", retries=1, backoff_s=0.0, timeout_s=1
    )

    async def main() -> None:
        with pytest.raises(EngineError) as info:
            await engine.generate(request())
        assert not info.value.retryable and "gave up after 2 attempts" in str(info.value)
        await engine.close()

    asyncio.run(main())


def test_capacity_mode_serves_multi_sample_requests_without_deadlock() -> None:
    # More n=2 requests than the simulated engine has slots: each request must take its
    # slots at once, or requests holding one slot each wait forever for a second.
    with fake_server("--capacity", "3", "--token-ms", "1", "--tokens", "2") as url:
        engine = OpenAICompatEngine(base_url=url, model="fake", timeout_s=10)

        async def main() -> None:
            done = await asyncio.wait_for(
                asyncio.gather(*(engine.generate(request(f"q{i}", n=2)) for i in range(40))), 30
            )
            assert all(len(c.choices) == 2 for c in done)
            await engine.close()

        asyncio.run(main())


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.replace("/v1", "/stats"), timeout=5) as response:
        return dict(json.loads(response.read()))


def test_the_fake_server_refuses_n_as_trtllm_serve_1_0_does() -> None:
    assert fake_server_module.N_REFUSAL == contract.SERVE_N_REFUSAL_BODY
    with fake_server("--refuse-n") as url:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "q"}], "n": 2})
        req = urllib.request.Request(
            url + "/chat/completions", body.encode(), {"Content-Type": "application/json"}
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(req, timeout=5)
        assert caught.value.code == contract.SERVE_N_REFUSAL_STATUS
        assert json.loads(caught.value.read()) == contract.SERVE_N_REFUSAL_BODY


def test_a_server_that_refuses_n_gets_one_request_per_sample() -> None:
    with fake_server("--refuse-n") as url:
        engine = OpenAICompatEngine(base_url=url, model="fake", guided="trtllm")

        async def main() -> tuple[Any, Any, Any]:
            first = await engine.generate(request("q1", n=3, seed=40))
            second = await engine.generate(request("q2", n=3, seed=40))
            again = await engine.generate(request("q1", n=3, seed=40))
            await engine.close()
            return first, second, again

        first, second, again = asyncio.run(main())
        seen = stats(url)
    assert len(first.choices) == 3 and len({c.text for c in first.choices}) == 3
    assert all("answer" in json.loads(c.text) for c in first.choices)
    assert again.choices == first.choices  # seeds 40, 41, 42 again: the same votes
    assert second.choices != first.choices
    assert first.completion_tokens > 0 and first.prompt_tokens > 0
    # one refused call, learned from; every later request went out split from the start
    assert seen["refused_n"] == 1 and seen["answered"] == 9
    info = engine.describe()
    assert info["split_n"] is True and "Multiple response" in info["split_reason"]


def test_split_samples_match_follow_up_seeds() -> None:
    """Split requests carry the seeds a one-sample-per-answer server's follow-ups carry."""
    engine = OpenAICompatEngine(base_url="http://x/v1", model="m", split_n=True)
    bodies = [engine.body(request(n=3, seed=9), 1, i, split=True) for i in range(3)]
    assert [(b["n"], b["seed"]) for b in bodies] == [(1, 9), (1, 10), (1, 11)]
    unseeded = ChatRequest(messages=request().messages, sampling=TEST_SAMPLING(), n=2)
    assert "seed" not in engine.body(unseeded, 2, 0)
    assert [engine.body(unseeded, 1, i, split=True)["seed"] for i in (0, 1)] == [0, 1]
    with fake_server("--max-n", "1") as url:
        follow_ups = OpenAICompatEngine(base_url=url, model="fake")
        split = OpenAICompatEngine(base_url=url, model="fake", split_n=True)

        async def main() -> tuple[Any, Any]:
            a = await follow_ups.generate(request(n=3, seed=9))
            b = await split.generate(request(n=3, seed=9))
            await follow_ups.close()
            await split.close()
            return a, b

        a, b = asyncio.run(main())
    assert a.choices == b.choices


def test_split_n_asked_for_never_sends_n_above_one() -> None:
    with fake_server("--refuse-n") as url:
        engine = OpenAICompatEngine(base_url=url, model="fake", split_n=True)

        async def main() -> None:
            done = await asyncio.gather(*(engine.generate(request(f"q{i}", n=4)) for i in range(5)))
            assert all(len(c.choices) == 4 for c in done)
            await engine.close()

        asyncio.run(main())
        assert stats(url).get("refused_n", 0) == 0
    assert engine.describe()["split_reason"].startswith("asked for")


def test_other_client_errors_stay_final() -> None:
    text = json.dumps(contract.SERVE_N_REFUSAL_BODY)
    assert refuses_samples(400, text)
    for status, other in (
        (400, '{"message": "This model\'s maximum context length is 4096 tokens"}'),
        (400, '{"message": "response_format json_schema is not supported"}'),
        (404, text),
    ):
        assert not refuses_samples(status, other), other
    for wording in ("n > 1 is not supported", "Only n=1 is supported", "n must be 1"):
        assert refuses_samples(400, wording), wording
