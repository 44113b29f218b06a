"""The worked example of docs/authoring.md is what the importer writes, and it compiles."""

from __future__ import annotations

import io
import re
from pathlib import Path

from taskseed.compiler.driver import compile_paths
from taskseed.importers.lm_eval import import_lm_eval
from taskseed.importers.lm_eval_families import FamilyFinder
from tests.importers.helpers import REPO, scratch_catalog

DOC = (REPO / "docs/authoring.md").read_text(encoding="utf-8")
EXAMPLE = DOC.split("## Worked example", 1)[1]


def block(after: str, language: str) -> str:
    """The first fenced block of `language` after the text `after` in the worked example."""
    found = re.search(re.escape(after) + r".*?```" + language + r"\n(.*?)```", EXAMPLE, re.DOTALL)
    assert found is not None, f"no {language} block after {after!r}"
    return found.group(1)


def test_the_documented_import_is_what_the_importer_writes(
    tmp_path: Path, finder: FamilyFinder
) -> None:
    catalog = scratch_catalog(tmp_path)
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas/taskspec.schema.json").write_text("{}")
    err = io.StringIO()
    code = import_lm_eval(["logiqa"], catalog / "reasoning", err, finder)
    assert code == 1
    written = (catalog / "reasoning/logiqa.yaml").read_text()
    assert written == block("(the imported spec)", "yaml")
    console = block("Import it into the reasoning folder", "console").splitlines()
    shown = [line.replace(str(catalog), "taskspecs") for line in err.getvalue().splitlines()]
    assert shown == console[1:]


def test_the_finished_example_compiles_clean(tmp_path: Path) -> None:
    catalog = scratch_catalog(tmp_path)
    (catalog / "reasoning/fixtures").mkdir(parents=True)
    (catalog / "reasoning/logiqa.yaml").write_text(block("(the hand-finished spec)", "yaml"))
    (catalog / "reasoning/fixtures/logiqa.jsonl").write_text(block("Write the fixture", "json"))
    result = compile_paths([catalog])
    assert not result.diagnostics.items, [d.message for d in result.diagnostics]
    assert result.plan is not None
    (unit,) = result.plan.units
    assert unit.imported_from == "lm-eval 0.4.13: lm_eval/tasks/logiqa/logiqa.yaml"
    assert unit.mapping.answer.source == "label"
