"""The ledger: answers are stored once and replayed, across processes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import msgspec

from taskseed.runtime.engines.base import ChatRequest, Choice, Completion, Message
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.ledger import Ledger, LedgeredEngine
from tests.runtime.sampling import TEST_SAMPLING


def request(text: str, seed: int = 1) -> ChatRequest:
    return ChatRequest(messages=(Message("user", text),), sampling=TEST_SAMPLING(seed=seed), n=2)


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


def answer_engine() -> ScriptedEngine:
    return ScriptedEngine(lambda r: [f'{{"answer": "{r.messages[0].content} " }}' * 8] * r.n)


def test_rows_hold_the_key_and_a_compressed_answer(tmp_path: Path) -> None:
    """Without the audit flag no request body is kept; with it, every body is, and both
    ledgers replay the same answers."""

    async def fill(path: Path, keep: bool) -> Ledger:
        ledger = Ledger(path, keep_requests=keep)
        ledgered = LedgeredEngine(answer_engine(), ledger)
        for i in range(200):
            await ledgered.generate(request(f"question number {i} " + "padding " * 60, seed=i))
        return ledger

    async def main() -> None:
        lean = await fill(tmp_path / "lean.sqlite", keep=False)
        audit = await fill(tmp_path / "audit.sqlite", keep=True)
        with sqlite3.connect(tmp_path / "lean.sqlite") as conn:
            assert conn.execute("SELECT COUNT(*) FROM bodies").fetchone()[0] == 0
            keys = [row[0] for row in conn.execute("SELECT key FROM answers")]
            answers = conn.execute("SELECT SUM(LENGTH(response)) FROM answers").fetchone()[0]
        assert len(keys) == 200 and all(len(k) == 16 for k in keys)
        # the answers are compressed: smaller than their text
        texts = 0
        for i in range(200):
            req = request(f"question number {i} " + "padding " * 60, seed=i)
            completion = lean.get(req.key("scripted"))
            assert completion is not None and completion == audit.get(req.key("scripted"))
            texts += sum(len(c.text) for c in completion.choices)
        assert answers < texts / 2
        bodies = list(audit.requests())
        assert len(bodies) == 200 and bodies[0].messages[0].content.startswith("question number 0 ")
        assert list(lean.requests()) == []
        lean.close()
        audit.close()

    asyncio.run(main())


def test_a_ledger_of_the_first_layout_is_replayed(tmp_path: Path) -> None:
    """Answers recorded before the ledger kept only what resume needs are not paid again."""
    path = tmp_path / "ledger.sqlite"
    old = request("paid for long ago")
    answer = Completion(choices=(Choice(text="an old answer"),), model="scripted")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE requests (key TEXT PRIMARY KEY, model TEXT NOT NULL, request BLOB "
            "NOT NULL, response BLOB NOT NULL, prompt_tokens INTEGER NOT NULL, "
            "completion_tokens INTEGER NOT NULL, seconds REAL NOT NULL, created REAL NOT NULL)"
        )
        conn.execute(
            "INSERT INTO requests VALUES (?, ?, ?, ?, 0, 0, 0.1, 0)",
            (
                old.key("scripted"),
                "scripted",
                msgspec.json.encode(old),
                msgspec.json.encode(answer),
            ),
        )
    engine = answer_engine()

    async def main() -> None:
        ledgered = LedgeredEngine(engine, Ledger(path))
        replayed, was_replayed = await ledgered.generate(old)
        assert was_replayed and replayed == answer and engine.calls == []
        await ledgered.generate(request("new"))
        assert len(engine.calls) == 1 and ledgered.ledger.totals()["requests"] == 1

    asyncio.run(main())
