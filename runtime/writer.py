"""Sharded JSONL or Parquet files, written one shard at a time, each atomically."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from taskseed.runtime.atomic import write_atomic

Format = Literal["jsonl", "parquet"]


def _parquet(rows: Sequence[Any]) -> bytes:
    import polars as pl

    plain = [msgspec.to_builtins(row) for row in rows]
    stream = io.BytesIO()
    pl.DataFrame(plain, infer_schema_length=None).write_parquet(stream)
    return stream.getvalue()


class ShardWriter:
    """Rows in, `part-00000.<fmt>`, `part-00001.<fmt>`, ... out, `shard_size` rows each.

    Only one shard is held at a time. `close` writes the last one, removes parts left
    by an earlier, larger run (or a killed write) and describes the files written.
    """

    def __init__(self, folder: Path, fmt: Format, shard_size: int, root: Path) -> None:
        self.folder = folder
        self.fmt = fmt
        self.shard_size = shard_size
        self.root = root
        self.suffix = ".jsonl" if fmt == "jsonl" else ".parquet"
        self.files: list[dict[str, Any]] = []
        self._lines = bytearray()
        self._rows: list[Any] = []
        self._count = 0
        self._encoder = msgspec.json.Encoder()
        folder.mkdir(parents=True, exist_ok=True)

    def add(self, row: Any) -> None:
        if self.fmt == "jsonl":
            self._encoder.encode_into(row, self._lines, len(self._lines))
            self._lines.extend(b"\n")
        else:
            self._rows.append(row)
        self._added()

    def add_line(self, line: bytes) -> None:
        """A row already encoded as JSON (JSONL only)."""
        assert self.fmt == "jsonl"
        self._lines.extend(line)
        self._lines.extend(b"\n")
        self._added()

    def _added(self) -> None:
        self._count += 1
        if self._count == self.shard_size:
            self._flush()

    def _flush(self) -> None:
        if not self._count:
            return
        data = bytes(self._lines) if self.fmt == "jsonl" else _parquet(self._rows)
        path = self.folder / f"part-{len(self.files):05d}{self.suffix}"
        write_atomic(path, data)
        self.files.append(
            {
                "path": path.relative_to(self.root).as_posix(),
                "records": self._count,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
        self._lines = bytearray()
        self._rows = []
        self._count = 0

    def close(self) -> list[dict[str, Any]]:
        self._flush()
        wanted = {self.root / f["path"] for f in self.files}
        for stale in [*self.folder.glob("part-*"), *self.folder.glob(".part-*.tmp")]:
            if stale not in wanted:
                stale.unlink()  # parts of an earlier, larger run, or a write that was killed
        return self.files
