"""The ledger: every engine request and its response, in SQLite, keyed by request hash.

A request whose response is in the ledger is never sent again: a run that was killed
(SIGKILL included) and started again replays what had completed and pays only for the
rest. Each response is committed as soon as it arrives; SQLite's write-ahead log makes
that durable against a killed process. `LedgeredEngine` wraps any engine with it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from taskseed.runtime.engines.base import ChatRequest, Completion, Engine

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    request BLOB NOT NULL,
    response BLOB NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
);
"""


@dataclass
class LedgerStats:
    sent: int = 0  # requests answered by the engine in this process
    replayed: int = 0  # requests answered from the ledger
    prompt_tokens: int = 0  # tokens of the requests sent in this process
    completion_tokens: int = 0
    engine_seconds: float = 0.0


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Completion | None:
        row = self._conn().execute("SELECT response FROM requests WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        return msgspec.json.decode(row[0], type=Completion)

    def put(
        self, key: str, model: str, request: ChatRequest, response: Completion, seconds: float
    ) -> None:
        self._conn().execute(
            "INSERT OR IGNORE INTO requests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                model,
                msgspec.json.encode(request),
                msgspec.json.encode(response),
                response.prompt_tokens,
                response.completion_tokens,
                seconds,
                time.time(),
            ),
        )

    def totals(self) -> dict[str, Any]:
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
                "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(seconds), 0) FROM requests"
            )
            .fetchone()
        )
        return {
            "requests": row[0],
            "prompt_tokens": row[1],
            "completion_tokens": row[2],
            "engine_seconds": round(row[3], 3),
        }

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


@dataclass
class LedgeredEngine:
    """An engine whose every answer goes through the ledger first."""

    engine: Engine
    ledger: Ledger
    stats: LedgerStats = field(default_factory=LedgerStats)

    @property
    def model(self) -> str:
        return self.engine.model

    async def generate(self, request: ChatRequest) -> tuple[Completion, bool]:
        """The completion, and whether it came from the ledger."""
        key = request.key(self.engine.model)
        cached = self.ledger.get(key)
        if cached is not None:
            self.stats.replayed += 1
            return cached, True
        start = time.perf_counter()
        completion = await self.engine.generate(request)
        seconds = time.perf_counter() - start
        self.ledger.put(key, self.engine.model, request, completion, seconds)
        self.stats.sent += 1
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        self.stats.engine_seconds += seconds
        return completion, False
