"""The complete example in docs/taskspec.md compiles clean inside the catalog."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from taskseed.compiler.driver import compile_paths

REPO = Path(__file__).resolve().parents[2]


def test_complete_example_compiles(tmp_path: Path) -> None:
    doc = (REPO / "docs/taskspec.md").read_text(encoding="utf-8")
    section = doc.split("## A complete example", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    shutil.copytree(REPO / "taskspecs", tmp_path / "taskspecs")
    (tmp_path / "taskspecs/reasoning/arc.yaml").write_text(example.group(1), encoding="utf-8")
    result = compile_paths([tmp_path / "taskspecs"], root=tmp_path)
    assert not result.diagnostics.items, [
        f"{d.code} {d.message} at {d.span}" for d in result.diagnostics
    ]
    unit = result.plan.unit("arc/easy") if result.plan else None
    assert unit is not None and [s.kind for s in unit.steps] == [
        "similar_question",
        "answer_enriched",
    ]
