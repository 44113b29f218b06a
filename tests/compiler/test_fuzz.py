"""Fuzzing the compiler with mutated and hostile versions of the real catalog's specs.

Each case mutates a spec (and sometimes its fixture, a shared template or a shared
defaults file) of the real catalog: text mutations, hostile values (paths out of the
catalog, alias bombs, deep nesting, Jinja that would run forever or fill memory),
bytes that are not UTF-8, other line ends. Every case compiles in a child process
under a time bound (`fuzzing.py`) and must end with diagnostics, never with an
internal error or a hang, and every span must lie inside its file.

The run is deterministic (Hypothesis derandomized: the same cases on every run) and
bounded: `FUZZ_EXAMPLES` cases per test (a few tens of seconds in all on this
project's 2-core machines); set TASKSEED_FUZZ_EXAMPLES to explore more.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from taskseed.compiler.driver import compile_paths
from tests.compiler.fuzzing import REPO, CompileWorker, Outcome

FUZZ_EXAMPLES = int(os.environ.get("TASKSEED_FUZZ_EXAMPLES", "300"))
CASE_SECONDS = 20.0  # a case's time bound: a normal case takes well under a second

CATALOG = REPO / "taskspecs"
TASK_SPECS = sorted(
    p.relative_to(REPO).as_posix()
    for p in CATALOG.rglob("*.yaml")
    if not p.name.startswith("_") and "fixtures" not in p.parts
)

FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the case is printed whole
    suppress_health_check=list(HealthCheck),
)

NOISE = st.text(
    alphabet=" :-[]{}'\"#|>\n\t!&*%@`abc01.,?\\\r\u2028\u2029\x85\ufeff\u00e9\U0001f600",
    max_size=16,
)
HOSTILE_VALUES = [
    # paths
    "/etc/passwd",
    "../../../../../../etc/hostname",
    "../_defaults.yaml",
    ".git/config",
    "fixtures/../../../x.jsonl",
    '"a\\0b.yaml"',
    "n" * 300 + ".yaml",
    "/".join(["d"] * 2100),
    "..",
    "'~/.ssh/id_rsa'",
    "/dev/zero",
    '"data/*.parquet"',
    # Jinja that would not end or would fill memory
    "\"'a' * 10**10\"",
    '"9 ** (9 ** 9)"',
    '"range(10**10) | list"',
    '"question | center(10**10)"',
    "\"question | regex_search('(a|a)+$')\"",
    "\"question | regex_replace('(?:a{1000}){1000}', '')\"",
    '"{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"',
    '"{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"',
    '"' + "(" * 400 + "x" + ")" * 400 + '"',
    '"{{ lipsum(1000) }}"',
    "\"'%0999999999d' % 1\"",
    '"{{ ().__class__.__mro__ }}"',
    # YAML
    "*undefined",
    "&a [1, *a]",
    "!!python/object:os.system",
    "[" * 400 + "]" * 400,
    "{a: 1, a: 2}",
    "0x" + "f" * 200,
    "1" * 5000,
    "1e99999",
    "- - - - - x",
    "? [a]",
    "<<: *x",
    "|\n" + "  x\u2028y\n" * 3,
]
BOMB = "".join(
    [
        'bomb_a: &a ["l", "l", "l", "l", "l", "l", "l", "l", "l", "l"]\n',
        *(
            f"bomb_{n}: &{n} [" + ", ".join([f"*{p}"] * 10) + "]\n"
            for p, n in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)
# Hostile values and bytes weigh more than plain noise.
MUTATIONS = [
    "value",
    "value",
    "value",
    "bytes",
    "bytes",
    "bomb",
    "deep",
    "ends",
    "insert",
    "delete",
    "line",
    "dup",
]
BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x00", b"\xfe\xff", b"\xe2\x80"]


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> bytes:
    """One to three mutations of a text, as bytes (some mutations are not text)."""
    data = text
    raw: bytes | None = None
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        lines = data.splitlines(keepends=True) or [""]
        index = draw(st.integers(0, len(lines) - 1))
        start = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "delete":
            data = data[:start] + data[start + draw(st.integers(1, 60)) :]
        elif kind == "insert":
            data = data[:start] + draw(NOISE) + data[start:]
        elif kind == "value":
            line = lines[index]
            key = line.split(":", 1)[0] if ":" in line else "  extra"
            lines[index] = f"{key}: {draw(st.sampled_from(HOSTILE_VALUES))}\n"
            data = "".join(lines)
        elif kind == "line":
            lines[index] = draw(st.sampled_from(["", lines[index].lstrip(), "\t" + lines[index]]))
            data = "".join(lines)
        elif kind == "dup":
            lines.insert(index, lines[index])
            data = "".join(lines)
        elif kind == "bomb":
            data = data + "\n" + BOMB + draw(st.sampled_from(["vars: {x: *i}\n", "tags: *g\n"]))
        elif kind == "deep":
            depth = draw(st.sampled_from([63, 64, 65, 330, 2000]))
            data = data + f"\nvars: {{deep: {'[' * depth}{']' * depth}}}\n"
        elif kind == "ends":
            ending = draw(st.sampled_from(["\r\n", "\r", "\u2028", "\x85"]))
            data = draw(st.sampled_from(["", "\ufeff"])) + data.replace("\n", ending)
        else:
            raw = data.encode("utf-8", "surrogatepass")
            at = draw(st.integers(0, len(raw)))
            raw = raw[:at] + draw(st.sampled_from(BAD_BYTES)) + raw[at:]
            data = raw.decode("utf-8", errors="surrogateescape")
    return data.encode("utf-8", errors="surrogateescape")


@cache
def dependencies(target: str) -> tuple[str, ...]:
    """The files a spec reads besides itself (what it extends, its fixture, templates)."""
    result = compile_paths([REPO / target], root=REPO)
    read = {Path(os.path.realpath(source.path)) for source in result.sources.values()}
    return tuple(sorted(p.relative_to(REPO).as_posix() for p in read if p != REPO / target))


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, bytes], str]:
    """Files to replace in the catalog, and the spec to compile: the spec, and at times
    one of the files it reads, mutated."""
    target = draw(st.sampled_from(TASK_SPECS))
    others = dependencies(target)
    files: dict[str, bytes] = {}
    if others and draw(st.booleans()):
        name = draw(st.sampled_from(others))
        files[name] = draw(mutated_text((REPO / name).read_text(encoding="utf-8")))
    # A spec that is itself broken may stop before the file it reads is checked.
    if not files or draw(st.booleans()):
        files[target] = draw(mutated_text((REPO / target).read_text(encoding="utf-8")))
    return files, target


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CompileWorker]:
    compile_worker = CompileWorker(tmp_path_factory.mktemp("fuzz"))
    yield compile_worker
    compile_worker.close()


@pytest.mark.timeout(600)
def test_mutated_specs_end_in_diagnostics(worker: CompileWorker) -> None:
    findings: list[str] = []

    @FUZZ
    @given(cases())
    def one(case: tuple[dict[str, bytes], str]) -> None:
        files, target = case
        outcome = worker.run(files, target, CASE_SECONDS)
        if not outcome.ok:
            shown = {name: data[:2000] for name, data in files.items()}
            findings.append(f"{target}: {outcome.detail}\nfiles: {shown!r}")

    one()
    assert not findings, f"{len(findings)} failing cases; the first:\n{findings[0]}"


def _never_ends(root: Path, target: str) -> Outcome:
    time.sleep(3600)
    return Outcome(True)


def test_the_worker_reports_a_hang_and_goes_on(tmp_path: Path) -> None:
    """The time bound is real: a case that does not end is reported as a hang, and the
    catalog copy is put back for the next case."""
    stuck = CompileWorker(tmp_path / "stuck", compile_case=_never_ends)
    target = TASK_SPECS[0]
    text = (REPO / target).read_text(encoding="utf-8")
    try:
        outcome = stuck.run({target: b"changed: [\n"}, target, 1.0)
        assert not outcome.ok and outcome.detail.startswith("hang")
        assert (stuck.root / target).read_text(encoding="utf-8") == text
    finally:
        stuck.close()
    fresh = CompileWorker(tmp_path / "fresh")
    try:
        assert fresh.run({target: text.encode()}, target, CASE_SECONDS).ok
    finally:
        fresh.close()
