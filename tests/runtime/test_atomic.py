"""Atomic writes: whole files only, with the permissions the umask allows."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskseed.runtime.atomic import write_atomic


@pytest.fixture
def umask() -> Iterator[object]:
    previous = os.umask(0o022)
    try:
        yield os.umask
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_files_get_the_mode_the_umask_allows(
    tmp_path: Path, umask: object, mask: int, expected: int
) -> None:
    os.umask(mask)
    path = tmp_path / "sub" / "data.jsonl"
    write_atomic(path, b"one\n")
    assert path.read_bytes() == b"one\n"
    assert mode(path) == expected


def test_a_rewrite_replaces_the_file_and_leaves_no_temporary(tmp_path: Path, umask: object) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new"
    assert mode(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]
