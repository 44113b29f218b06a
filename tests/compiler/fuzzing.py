"""A compile worker for fuzz tests: each case runs in a child process under a time
bound, so that a hang is a failure the test reports, not a CI job that never ends.

The child holds a copy of the real catalog. A case replaces some of its files (bytes,
which may be any bytes), compiles one spec file, renders the diagnostics in every
format, checks that each span lies inside its file, and puts the files back.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from taskseed.contract.jinja_budget import Budgets, use_budgets

REPO = Path(__file__).resolve().parents[2]
# Jinja's time budget in the child: small, so that cases that spend it stay quick.
CASE_BUDGETS = Budgets(seconds=0.25)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str = ""
    codes: tuple[str, ...] = ()


def _spans_inside(result: Any) -> str | None:
    from taskseed.compiler.source import split_lines

    for diag in result.diagnostics:
        span = diag.span
        if span is None:
            continue
        source = result.sources.get(span.file)
        if source is not None:
            text = source.text
        else:  # a file the compiler refused (not UTF-8): counted as its bytes decode
            text = Path(span.file).read_bytes().decode("utf-8", errors="replace")
        lines = split_lines(text) or [""]
        if not 1 <= span.line <= len(lines) + 1:
            return f"{diag.code} at {span}: line outside the file ({len(lines)} lines)"
        width = len(lines[span.line - 1]) if span.line <= len(lines) else 0
        if not 1 <= span.col <= width + 1:
            return f"{diag.code} at {span}: column outside its line ({width} characters)"
        if (span.end_line, span.end_col) < (span.line, span.col):
            return f"{diag.code} at {span}: ends before it starts"
    return None


def _compile_case(root: Path, target: str) -> Outcome:
    from taskseed.compiler.diagnostic_formats import RENDERERS
    from taskseed.compiler.driver import compile_paths
    from taskseed.contract.plan import decode, encode

    result = compile_paths([root / target], root=root)
    items = result.diagnostics.sorted()
    for render in RENDERERS.values():
        render(items, result.sources)
    if result.plan is not None:
        assert decode(encode(result.plan)) == result.plan
    problem = _spans_inside(result)
    codes = tuple(sorted({d.code for d in items}))
    return Outcome(problem is None, problem or "", codes)


def _serve(conn: Connection, root: Path, compile_case: Callable[[Path, str], Outcome]) -> None:
    os.chdir(root)
    with use_budgets(CASE_BUDGETS):
        _loop(conn, root, compile_case)


def _loop(conn: Connection, root: Path, compile_case: Callable[[Path, str], Outcome]) -> None:
    while True:
        message = conn.recv()
        if message is None:
            return
        files, target = message
        saved: dict[Path, bytes | None] = {}
        try:
            for name, data in files.items():
                path = root / name
                saved[path] = path.read_bytes() if path.is_file() else None
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            outcome = compile_case(Path("."), target)
        except BaseException:  # an internal error: the finding
            outcome = Outcome(False, traceback.format_exc())
        finally:
            for path, data in saved.items():
                if data is None:
                    path.unlink(missing_ok=True)
                else:
                    path.write_bytes(data)
        conn.send(outcome)


class CompileWorker:
    """A child process that compiles fuzz cases; restarted after a case that hangs."""

    def __init__(
        self, workdir: Path, compile_case: Callable[[Path, str], Outcome] = _compile_case
    ) -> None:
        self.root = workdir / "catalog"
        shutil.copytree(REPO / "taskspecs", self.root / "taskspecs")
        self._compile_case = compile_case
        self._context = multiprocessing.get_context("fork")
        self._start()

    def _start(self) -> None:
        self._conn, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve, args=(child, self.root, self._compile_case), daemon=True
        )
        self._process.start()
        child.close()

    def run(self, files: dict[str, bytes], target: str, timeout: float) -> Outcome:
        self._conn.send((files, target))
        if not self._conn.poll(timeout):
            self._process.kill()
            self._process.join()
            self._restore(files)
            self._start()
            return Outcome(False, f"hang: no answer within {timeout:g} s")
        outcome: Outcome = self._conn.recv()
        return outcome

    def _restore(self, files: dict[str, bytes]) -> None:
        """Put back the files a killed child had replaced."""
        for name in files:
            original = REPO / name
            path = self.root / name
            if original.is_file():
                shutil.copyfile(original, path)
            else:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(None)
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.kill()
