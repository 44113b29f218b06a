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
    """One SQLite ledger to write, and optionally others to read (other shards' ledgers,
    so that a run resumed with another sharding still replays what was paid for)."""

    def __init__(self, path: Path, read_also: list[Path] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read_also = list(read_also or [])
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
        query = "SELECT response FROM requests WHERE key = ?"
        row = self._conn().execute(query, (key,)).fetchone()
        if row is None:
            for other in self._others():
                row = other.execute(query, (key,)).fetchone()
                if row is not None:
                    break
        if row is None:
            return None
        return msgspec.json.decode(row[0], type=Completion)

    def _others(self) -> list[sqlite3.Connection]:
        others: list[sqlite3.Connection] | None = getattr(self._local, "others", None)
        if others is None:
            others = []
            for path in self.read_also:
                try:
                    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
                    conn.execute("SELECT 1 FROM requests LIMIT 1")
                except sqlite3.Error:
                    continue  # not a ledger (yet): nothing to replay from it
                others.append(conn)
            self._local.others = others
        return others

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
        for other in getattr(self._local, "others", None) or []:
            other.close()
        self._local.others = None


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
