"""Property tests: random valid specs and mutated invalid ones.

Invariants: the compiler never raises; every span lies inside its file; compiling
twice gives the same diagnostics and the same plan bytes; plans round-trip; valid
specs compile clean.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskseed.compiler.driver import CompileResult, compile_paths
from taskseed.compiler.source import split_lines
from taskseed.contract.plan import decode, encode


def dump_yaml(value: object) -> str:
    import io

    from ruamel.yaml import YAML

    stream = io.StringIO()
    YAML(typ="safe", pure=True).dump(value, stream)
    return stream.getvalue()


REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
words = st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=20).map(str.strip).filter(bool)


@contextmanager
def workspace(files: dict[str, str]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, text in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        previous = Path.cwd()
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(previous)


def spans_inside_files(result: CompileResult) -> None:
    for diag in result.diagnostics:
        span = diag.span
        if span is None:
            continue
        source = result.sources.get(span.file)
        text = source.text if source is not None else _raw_text(Path(span.file))
        lines = split_lines(text) or [""]
        assert 1 <= span.line <= len(lines) + 1, (diag, len(lines))
        width = len(lines[span.line - 1]) if span.line <= len(lines) else 0
        assert 1 <= span.col <= width + 1, (diag, width)
        assert (span.end_line, span.end_col) >= (span.line, span.col), diag


def _raw_text(path: Path) -> str:
    """A file the compiler did not keep (one it refused, such as text that is not
    UTF-8), as the positions in its diagnostics count it."""
    return path.read_bytes().decode("utf-8", errors="replace")


def compile_twice(paths: list[str]) -> CompileResult:
    first = compile_paths(paths, root=Path("."))
    second = compile_paths(paths, root=Path("."))
    assert [(d.code, d.span, d.message) for d in first.diagnostics] == [
        (d.code, d.span, d.message) for d in second.diagnostics
    ]
    if first.plan is not None:
        assert second.plan is not None
        data = encode(first.plan)
        assert data == encode(second.plan)
        assert decode(data) == first.plan
    spans_inside_files(first)
    return first


@st.composite
def valid_specs(draw: st.DrawFn) -> dict[str, str]:
    """A small catalog of valid specs, each with a fixture that maps."""
    files: dict[str, str] = {}
    task_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    for task in task_names:
        fmt = draw(st.sampled_from(["multiple_choice", "numeric", "short_answer"]))
        n_choices = draw(st.integers(2, 5))
        rows = []
        for i in range(3):
            row: dict[str, object] = {"q": draw(words), "id": f"{task}-{i}"}
            if fmt == "multiple_choice":
                row["opts"] = [f"{draw(words)} {j}" for j in range(n_choices)]
                row["gold"] = draw(st.integers(0, n_choices - 1))
            else:
                row["a"] = str(draw(st.integers(0, 999)))
            rows.append(row)
        files[f"taskspecs/fixtures/{task}.jsonl"] = "".join(json.dumps(r) + "\n" for r in rows)
        spec: dict[str, object] = {
            "task": task,
            "title": draw(words),
            "domain": draw(st.sampled_from(["knowledge", "reasoning"])),
            "source": {"citation": draw(words), "license": "CC0-1.0"},
            "seeds": {
                "dataset": f"org/{task}",
                "split": draw(st.sampled_from(["train", "auxiliary_train", "train_v2"])),
                "eval_splits": ["test"],
                "fixture": f"fixtures/{task}.jsonl",
            },
            "mapping": {"id": "id", "question": "q"},
            "answer_format": {"type": fmt},
            "generate": {
                "similar_question": {
                    "prompt": "Like this: {{ seed.question }} -> {{ seed.answer }}",
                    "per_seed": draw(st.integers(1, 4)),
                    "sampling": {
                        "temperature": draw(st.floats(0, 2)),
                        "max_tokens": draw(st.integers(1, 4096)),
                    },
                }
            },
            "verify": {
                "prompt": "{{ item.question }}",
                "k": draw(st.integers(1, 8)),
                "threshold": draw(st.floats(0.01, 1.0)),
            },
            "dedup": {
                "threshold": draw(st.floats(0.3, 0.95)),
                "num_perm": draw(st.sampled_from([32, 64, 128])),
            },
        }
        mapping = spec["mapping"]
        assert isinstance(mapping, dict)
        if fmt == "multiple_choice":
            mapping["choices"] = "opts"
            mapping["answer"] = {"index": "gold"}
        else:
            mapping["answer"] = {"text": "a"}
        if draw(st.booleans()):
            axis = draw(st.lists(names, min_size=1, max_size=4, unique=True))
            spec["subtasks"] = {
                "matrix": {"part": axis},
                "name": "${part}",
                "with": {"seeds": {"config": "${part}"}},
            }
        files[f"taskspecs/{task}.yaml"] = dump_yaml(spec)
    return files


@SETTINGS
@given(valid_specs())
def test_valid_specs_compile_clean(files: dict[str, str]) -> None:
    with workspace(files):
        result = compile_twice(["taskspecs"])
        assert not result.diagnostics.has_errors, [d.message for d in result.diagnostics]
        assert result.plan is not None and result.plan.units


def _catalog_files() -> dict[str, str]:
    files = {}
    for path in (REPO / "taskspecs").rglob("*"):
        if path.is_file():
            files[path.relative_to(REPO).as_posix()] = path.read_text(encoding="utf-8")
    return files


CATALOG = _catalog_files()
SPEC_NAMES = sorted(n for n in CATALOG if n.endswith(".yaml"))
NOISE = st.text(alphabet=" :-[]{}'\"#|>\n\t!&*%@`abc01.", max_size=12)


@st.composite
def mutated_catalog(draw: st.DrawFn) -> dict[str, str]:
    files = dict(CATALOG)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(SPEC_NAMES))
        text = files[name]
        kind = draw(st.sampled_from(["delete", "insert", "replace_value", "dedent", "dup"]))
        start = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "delete":
            end = draw(st.integers(start, min(len(text), start + 40)))
            text = text[:start] + text[end:]
        elif kind == "insert":
            text = text[:start] + draw(NOISE) + text[start:]
        else:
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, max(len(lines) - 1, 0)))
            line = lines[index] if lines else ""
            if kind == "replace_value" and ":" in line:
                key = line.split(":", 1)[0]
                value = draw(st.sampled_from(["3", "true", "[x]", "{a: 1}", "null", "'t'", ""]))
                lines[index] = f"{key}: {value}\n"
            elif kind == "dedent":
                lines[index] = line.lstrip(" ")
            elif lines:
                lines.insert(index, line)
            text = "".join(lines)
        files[name] = text
    return files


@SETTINGS
@given(mutated_catalog())
def test_mutated_specs_never_crash_and_spans_stay_inside(files: dict[str, str]) -> None:
    with workspace(files):
        compile_twice(["taskspecs"])
