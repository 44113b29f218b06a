"""The worked example of docs/authoring.md is what the importer writes, and it compiles."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

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
    err, out = io.StringIO(), io.StringIO()
    code = import_lm_eval(["logiqa"], catalog / "reasoning", err, finder, out=out)
    assert code == 0
    written = (catalog / "reasoning/logiqa.yaml").read_text()
    assert written == block("(the imported spec)", "yaml")
    console = block("Import it into the reasoning folder", "console").splitlines()
    printed = err.getvalue().splitlines() + out.getvalue().splitlines()
    shown = [line.replace(str(catalog), "taskspecs") for line in printed]
    assert shown == console[1:]
    validated = compile_paths([catalog / "reasoning/logiqa.yaml"])
    assert [d.code for d in validated.diagnostics] == ["TS405"]


def test_the_documented_family_import(tmp_path: Path, finder: FamilyFinder) -> None:
    catalog = scratch_catalog(tmp_path)
    err, out = io.StringIO(), io.StringIO()
    code = import_lm_eval([], catalog / "reasoning", err, finder, families=["code_x_glue"], out=out)
    assert code == 0, err.getvalue()
    family = DOC.split("### A whole family", 1)[1]
    console = re.search(r"```console\n(.*?)```", family, re.DOTALL)
    assert console is not None
    lines = console.group(1).splitlines()
    printed = err.getvalue().splitlines() + out.getvalue().splitlines()
    shown = [line.replace(str(catalog), "taskspecs") for line in printed]
    assert shown == lines[1:-1]
    mapping = re.search(r"```yaml\n(.*?)```", family, re.DOTALL)
    assert mapping is not None
    written = YAML(typ="safe").load((catalog / "reasoning/code_x_glue.yaml").read_text())
    assert YAML(typ="safe").load(mapping.group(1))["mapping"] == written["mapping"]
    validated = compile_paths([catalog / "reasoning/code_x_glue.yaml"])
    assert not validated.diagnostics.errors
    assert {d.code for d in validated.diagnostics} == {"TS405"}


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
    assert unit.mapping.answer.given_as == "label"


def test_the_readme_family_import_works_on_a_copy_of_the_catalog(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```sh\n(taskseed import lm-eval --family .*?)```", readme, re.DOTALL)
    assert found is not None
    commands = [line.split("#")[0].split() for line in found.group(1).splitlines()]
    scratch_catalog(tmp_path)
    for command in commands:
        proc = subprocess.run(
            [sys.executable, "-m", "taskseed.cli", *command[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
    assert "warning[TS405]" in proc.stdout  # the last command validates: no fixture yet
