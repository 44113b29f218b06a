"""The ledger: answers are stored once and replayed, across processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from taskseed.runtime.engines.base import ChatRequest, Message, Sampling
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.ledger import Ledger, LedgeredEngine


def request(text: str, seed: int = 1) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), sampling=Sampling(seed=seed), n=2)


def test_requests_are_paid_once(tmp_path: Path) -> None:
    engine = ScriptedEngine(lambda r: [r.messages[0].content.upper()] * r.n)

    async def main() -> None:
        ledgered = LedgeredEngine(engine, Ledger(tmp_path / "ledger.sqlite"))
        first, replayed = await ledgered.generate(request("hello"))
        assert not replayed and [c.text for c in first.choices] == ["HELLO", "HELLO"]
        again, replayed = await ledgered.generate(request("hello"))
        assert replayed and again == first
        await ledgered.generate(request("hello", seed=2))  # another request
        assert len(engine.calls) == 2 and ledgered.stats.sent == 2
        # a new process (a new Ledger object on the same file) replays too
        fresh = LedgeredEngine(engine, Ledger(tmp_path / "ledger.sqlite"))
        _, replayed = await fresh.generate(request("hello"))
        assert replayed and len(engine.calls) == 2
        assert fresh.ledger.totals()["requests"] == 2

    asyncio.run(main())


def test_keys_depend_on_model_and_request() -> None:
    a = request("x")
    assert a.key("m1") == request("x").key("m1")
    assert a.key("m1") != a.key("m2")
    assert a.key("m1") != request("x", seed=2).key("m1")
