"""The ledger: every engine answer in SQLite, keyed by a hash of the request and model.

A request whose answer is in the ledger is never sent again: a run that was killed
(SIGKILL included) and started again replays what had completed and pays only for the
rest. Each answer is committed as soon as it arrives; SQLite's write-ahead log makes
that durable against a killed process. `LedgeredEngine` wraps any engine with it.

What resume needs is the key and the answer, so that is what a row holds: the first
16 bytes of the request's SHA-256 (`ChatRequest.key`), the completion (msgpack, zlib),
its token counts, seconds and time, in a table clustered by key (`WITHOUT ROWID`), so
a lookup is one B-tree search however many rows there are. Request bodies are kept only
when asked (`--ledger-requests`, for audits), in a table of their own. A ledger of the
first layout (full hex keys, JSON request and response in every row) is still read:
its rows are replayed, new answers go to the new table.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from taskseed.runtime.engines.base import ChatRequest, Completion, Engine

LAYOUT = 2
KEY_BYTES = 16
SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key BLOB PRIMARY KEY,
    response BLOB NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    created REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies (
    key BLOB PRIMARY KEY,
    request BLOB NOT NULL
) WITHOUT ROWID;
"""
_encoder = msgspec.msgpack.Encoder()
_completion = msgspec.msgpack.Decoder(Completion)


def ledger_key(hex_key: str) -> bytes:
    """A request's key in the ledger: the first bytes of its SHA-256 (`ChatRequest.key`)."""
    return bytes.fromhex(hex_key)[:KEY_BYTES]


def pack(value: Any) -> bytes:
    return zlib.compress(_encoder.encode(value), 1)


def unpack_completion(data: bytes) -> Completion:
    return _completion.decode(zlib.decompress(data))


@dataclass
class LedgerStats:
    sent: int = 0  # requests answered by the engine in this process
    replayed: int = 0  # requests answered from the ledger
    prompt_tokens: int = 0  # tokens of the requests sent in this process
    completion_tokens: int = 0
    engine_seconds: float = 0.0


class _Source:
    """One ledger file opened for reading: its answers, and a table of the first layout."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        self.current = "answers" in tables
        self.legacy = "requests" in tables

    def get(self, key: bytes, hex_key: str) -> Completion | None:
        if self.current:
            row = self.conn.execute("SELECT response FROM answers WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return unpack_completion(row[0])
        if self.legacy:
            row = self.conn.execute(
                "SELECT response FROM requests WHERE key = ?", (hex_key,)
            ).fetchone()
            if row is not None:
                return msgspec.json.decode(row[0], type=Completion)
        return None


class Ledger:
    """One SQLite ledger to write, and optionally others to read (other shards' ledgers,
    so that a run resumed with another sharding still replays what was paid for)."""

    def __init__(
        self, path: Path, read_also: list[Path] | None = None, *, keep_requests: bool = False
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.read_also = list(read_also or [])
        self.keep_requests = keep_requests
        self._local = threading.local()
        # Every connection any thread opened, so that close() closes them all and the
        # WAL files go away with the last one (a thread's own are not reachable else).
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(SCHEMA)
        conn.execute(f"PRAGMA user_version = {LAYOUT}")

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open(self.path, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def _open(self, target: str | Path, **kwargs: Any) -> sqlite3.Connection:
        # Used by one thread at a time; closed by close(), which may run on another.
        conn: sqlite3.Connection = sqlite3.connect(
            target, timeout=60, check_same_thread=False, **kwargs
        )
        with self._opened_lock:
            self._opened.append(conn)
        return conn

    def _sources(self) -> list[_Source]:
        sources: list[_Source] | None = getattr(self._local, "sources", None)
        if sources is None:
            sources = [_Source(self._conn())]
            for path in self.read_also:
                try:
                    conn = self._open(f"file:{path}?mode=ro", uri=True)
                    source = _Source(conn)
                except sqlite3.Error:
                    continue  # not a ledger (yet): nothing to replay from it
                if source.current or source.legacy:
                    sources.append(source)
                else:
                    conn.close()
            self._local.sources = sources
        return sources

    def get(self, hex_key: str) -> Completion | None:
        """The answer to the request with this key (`ChatRequest.key`), if recorded."""
        key = ledger_key(hex_key)
        for source in self._sources():
            found = source.get(key, hex_key)
            if found is not None:
                return found
        return None

    def put(self, hex_key: str, request: ChatRequest, response: Completion, seconds: float) -> None:
        key = ledger_key(hex_key)
        conn = self._conn()
        values = (key, pack(response), response.prompt_tokens, response.completion_tokens)
        if self.keep_requests:
            conn.execute("BEGIN")
            try:
                conn.execute("INSERT OR IGNORE INTO bodies VALUES (?, ?)", (key, pack(request)))
                conn.execute(
                    "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                    (*values, seconds, time.time()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return
        conn.execute(
            "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
            (*values, seconds, time.time()),
        )

    def requests(self) -> Iterator[ChatRequest]:
        """The request bodies kept (`keep_requests`), in the order they were answered."""
        rows = self._conn().execute(
            "SELECT b.request FROM bodies AS b JOIN answers AS a ON a.key = b.key "
            "ORDER BY a.created"
        )
        decoder = msgspec.msgpack.Decoder(ChatRequest)
        for (data,) in rows:
            yield decoder.decode(zlib.decompress(data))

    def totals(self) -> dict[str, Any]:
        row = (
            self._conn()
            .execute(
                "SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
                "COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(seconds), 0) FROM answers"
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
        """Close every connection of every thread; call it once no call is running."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()
        # Leave the file in rollback-journal mode: a later read-only reader (the report)
        # then needs no -wal or -shm file beside it; the next run turns WAL back on.
        try:
            conn = sqlite3.connect(self.path, timeout=60)
            try:
                conn.execute("PRAGMA journal_mode=DELETE")
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # another process still has it open: it stays in WAL mode


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
        self.ledger.put(key, request, completion, seconds)
        self.stats.sent += 1
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        self.stats.engine_seconds += seconds
        return completion, False
