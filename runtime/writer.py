"""Stage 8, write: sharded JSONL or Parquet, each shard written atomically."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from taskseed.runtime.atomic import write_atomic

Format = Literal["jsonl", "parquet"]


def _jsonl(rows: Sequence[Any]) -> bytes:
    encoder = msgspec.json.Encoder()
    buffer = bytearray()
    for row in rows:
        encoder.encode_into(row, buffer, len(buffer))
        buffer.extend(b"\n")
    return bytes(buffer)


def _parquet(rows: Sequence[Any]) -> bytes:
    import polars as pl

    plain = [msgspec.to_builtins(row) for row in rows]
    stream = io.BytesIO()
    pl.DataFrame(plain, infer_schema_length=None).write_parquet(stream)
    return stream.getvalue()


def write_shards(
    rows: Sequence[Any], folder: Path, fmt: Format, shard_size: int, root: Path
) -> list[dict[str, Any]]:
    """Write `rows` as part-00000.<fmt>, ...; remove stale parts; describe the files."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".jsonl" if fmt == "jsonl" else ".parquet"
    count = max((len(rows) + shard_size - 1) // shard_size, 1 if rows else 0)
    wanted = {folder / f"part-{i:05d}{suffix}" for i in range(count)}
    for stale in [*folder.glob("part-*"), *folder.glob(".part-*.tmp")]:
        if stale not in wanted:
            stale.unlink()  # parts of an earlier, larger run, or a write that was killed
    files = []
    for index in range(count):
        chunk = rows[index * shard_size : (index + 1) * shard_size]
        data = _jsonl(chunk) if fmt == "jsonl" else _parquet(chunk)
        path = folder / f"part-{index:05d}{suffix}"
        write_atomic(path, data)
        files.append(
            {
                "path": path.relative_to(root).as_posix(),
                "records": len(chunk),
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
        )
    return files
