"""`taskseed plan diff`: real plans compiled from a catalog, edited, compiled again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskseed.compiler.driver import compile_paths
from taskseed.compiler.plan_diff import ABSENT, PlanDiff, diff_plans, stage_of
from taskseed.compiler.plan_diff_formats import render_github, render_json, render_text
from taskseed.contract.plan import Plan, encode
from tests.runtime.catalog import SPEC, write_catalog

REPO = Path(__file__).resolve().parents[2]

SUBTASKS = """
subtasks:
  - name: alpha
  - name: beta
    seeds: {where: "gold != 2"}
"""


def compile_at(root: Path) -> Plan:
    result = compile_paths([root / "taskspecs"], root=root)
    assert result.plan is not None, [d.message for d in result.diagnostics]
    return result.plan


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    write_catalog(tmp_path, spec=SPEC + SUBTASKS)
    return tmp_path


def diff_after(catalog: Path, *edits: tuple[str, str, str]) -> PlanDiff:
    old = compile_at(catalog)
    for file, a, b in edits:
        edit(catalog / "taskspecs" / file, a, b)
    return diff_plans(old, compile_at(catalog))


def test_same_specs_diff_to_nothing(catalog: Path) -> None:
    diff = diff_plans(compile_at(catalog), compile_at(catalog))
    assert (diff.added, diff.removed, diff.changed, diff.unchanged) == ([], [], [], 2)
    assert "nothing runs again" in render_text(diff)


def test_a_verify_setting_reruns_from_verification(catalog: Path) -> None:
    diff = diff_after(catalog, ("_base.yaml", "  k: 3", "  k: 5"))
    assert [c.id for c in diff.changed] == ["quiz/alpha", "quiz/beta"]
    change = diff.changed[0]
    assert [(s.path, s.old, s.new) for s in change.settings] == [("verify.k", 3, 5)]
    assert change.old_fingerprint != change.new_fingerprint
    assert change.first_stage == "verify" and change.new_requests
    text = render_text(diff)
    assert "~ 2 units with the same change: quiz/alpha, quiz/beta" in text
    assert "verify.k: 3 -> 5" in text
    assert "first stage reached `verify`" in text
    assert "rerun: 2 units run again (0 added, 2 changed)" in text


def test_a_judge_setting_reruns_from_the_judge(catalog: Path) -> None:
    judge = "\njudge:\n  enabled: true\n  prompt: 'Judge {{ item.question }}'\n"
    edit(catalog / "taskspecs/_base.yaml", "dedup:", judge.lstrip("\n") + "dedup:")
    diff = diff_after(
        catalog, ("_base.yaml", "  enabled: true\n  prompt", "  k: 5\n  enabled: true\n  prompt")
    )
    change = diff.changed[0]
    assert [(s.path, s.old, s.new) for s in change.settings] == [("judge.k", 3, 5)]
    assert change.first_stage == "judge" and change.new_requests
    diff = diff_after(catalog, ("_base.yaml", "Judge {{", "Rate {{"))
    assert [t.path for t in diff.changed[0].templates] == ["judge.prompt.user"]
    assert diff.changed[0].first_stage == "judge"


def test_a_template_edit_shows_a_unified_diff(catalog: Path) -> None:
    diff = diff_after(catalog, ("_base.yaml", 'prompt: "Seed: {{', 'prompt: "New seed: {{'))
    change = diff.changed[0]
    assert change.settings == []
    [template] = change.templates
    assert template.path == "steps.similar_question.prompt.user"
    assert any(line.startswith("-Seed: ") for line in template.diff)
    assert any(line.startswith("+New seed: ") for line in template.diff)
    assert change.first_stage == "generate"
    assert "+New seed: {{ seed.question }}" in render_text(diff)


def test_dedup_and_metadata_changes_send_no_new_request(catalog: Path) -> None:
    diff = diff_after(
        catalog,
        ("_base.yaml", "threshold: 0.8", "threshold: 0.7"),
        ("knowledge/quiz.yaml", "title: Quiz", "title: Quiz\ndescription: A quiz."),
    )
    change = diff.changed[0]
    # the LSH bands and rows are derived from the threshold by the compiler
    paths = {s.path for s in change.settings}
    assert paths == {"dedup.threshold", "dedup.bands", "dedup.rows", "description"}
    description = next(s for s in change.settings if s.path == "description")
    assert description.old is None and description.new == "A quiz."
    assert change.first_stage == "dedup" and not change.new_requests
    assert "1 of them" not in render_text(diff)  # both units are free
    assert "2 of them without a new engine request" in render_text(diff)


def test_added_removed_and_a_changed_subtask(catalog: Path) -> None:
    diff = diff_after(
        catalog,
        ("knowledge/quiz.yaml", "  - name: alpha\n", "  - name: gamma\n"),
        ("knowledge/quiz.yaml", 'where: "gold != 2"', 'where: "gold != 1"'),
    )
    assert [u.id for u in diff.added] == ["quiz/gamma"]
    assert [u.id for u in diff.removed] == ["quiz/alpha"]
    [change] = diff.changed
    assert change.id == "quiz/beta"
    assert [(s.path, s.old, s.new) for s in change.settings] == [
        ("seeds.where", "gold != 2", "gold != 1")
    ]
    assert change.first_stage == "seeds"
    text = render_text(diff)
    assert (
        f"~ quiz/beta  (taskspecs/knowledge/quiz.yaml)\n      fingerprint {change.old_fingerprint}"
        in text
    )
    assert "  + quiz/gamma" in text and "  - quiz/alpha" in text
    assert "units: 1 added, 1 removed, 1 changed, 0 unchanged" in text


def test_fixture_rows_and_new_settings(catalog: Path) -> None:
    extra = {"id": "q9", "question": "Which gauge reads pressure?", "options": ["a", "b", "c"]}
    fixture = catalog / "taskspecs/knowledge/fixtures/quiz.jsonl"
    old = compile_at(catalog)
    fixture.write_text(fixture.read_text() + json.dumps({**extra, "gold": 1}) + "\n")
    edit(
        catalog / "taskspecs/_base.yaml",
        "  question_chars:",
        "  answer_chars: {max: 80}\n  question_chars:",
    )
    diff = diff_plans(old, compile_at(catalog))
    change = diff.changed[0]
    assert change.fixture is not None
    assert (change.fixture.rows_added, change.fixture.rows_removed) == (1, 0)
    bound = next(s for s in change.settings if s.path == "filters.bounds.answer.max")
    assert bound.old is ABSENT and bound.new == 80
    assert change.first_stage == "seeds"  # the fixture: seeds change
    payload = json.loads(render_json(diff))
    setting = next(
        s for s in payload["changed"][0]["settings"] if s["path"] == "filters.bounds.answer.max"
    )
    assert setting == {"path": "filters.bounds.answer.max", "new": 80}
    assert payload["changed"][0]["fixture"]["rows_added"] == 1


def test_plans_from_different_roots_are_flagged(catalog: Path) -> None:
    old = compile_at(catalog)
    moved = compile_paths([catalog / "taskspecs"], root=catalog.parent).plan
    assert moved is not None
    diff = diff_plans(old, moved)
    assert len(diff.changed) == 2 and not diff.same_roots
    assert all(c.first_stage == "metadata" for c in diff.changed)
    assert "different roots" in render_text(diff)


def test_stage_of_paths() -> None:
    assert stage_of("steps.similar_question.sampling.temperature") == "generate"
    assert stage_of("steps.answer_enriched.per_seed") == "enrich"
    assert stage_of("filters.bounds.question_chars.min") == "filter"
    assert stage_of("origin") == "metadata"
    assert stage_of("some_future_field") == "seeds"  # unknown: assume everything reruns


def test_github_annotations_group_units_by_spec_file(catalog: Path) -> None:
    diff = diff_after(
        catalog,
        ("_base.yaml", "  k: 3", "  k: 4"),
        ("knowledge/quiz.yaml", "  - name: alpha\n", "  - name: gamma\n"),
    )
    lines = render_github(diff).splitlines()
    assert lines[0].startswith("::notice title=taskseed plan diff%3A 1 added%2C 1 removed")
    notice = next(line for line in lines if line.startswith("::notice file="))
    assert notice.startswith("::notice file=taskspecs/knowledge/quiz.yaml,")
    assert "2 units in this file" in notice
    assert "quiz/gamma added" in notice and "verify.k: 3 -> 4" in notice
    assert "\n" not in notice  # multi-line messages are escaped
    warning = next(line for line in lines if line.startswith("::warning"))
    assert "quiz/alpha removed" in warning


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_diffs_a_plan_file_against_specs(catalog: Path) -> None:
    (catalog / "old.json").write_bytes(encode(compile_at(catalog)))
    edit(catalog / "taskspecs/_base.yaml", "  k: 3", "  k: 5")
    proc = run_cli("plan", "diff", "old.json", "taskspecs", cwd=catalog)
    assert proc.returncode == 0, proc.stderr
    assert "verify.k: 3 -> 5" in proc.stdout
    proc = run_cli("plan", "diff", "old.json", "taskspecs", "--format", "json", cwd=catalog)
    assert json.loads(proc.stdout)["summary"]["changed"] == 2
    proc = run_cli("plan", "diff", "old.json", "taskspecs", "--exit-code", cwd=catalog)
    assert proc.returncode == 1
    proc = run_cli("plan", "diff", "old.json", "old.json", "--exit-code", cwd=catalog)
    assert proc.returncode == 0 and "0 changed, 2 unchanged" in proc.stdout


def test_cli_reports_broken_specs_and_bad_plans(catalog: Path) -> None:
    (catalog / "old.json").write_bytes(encode(compile_at(catalog)))
    edit(catalog / "taskspecs/_base.yaml", "  k: 3", "  kk: 3")
    proc = run_cli("plan", "diff", "old.json", "taskspecs", cwd=catalog)
    assert proc.returncode == 1
    assert "error[TS200]" in proc.stderr and "NEW specs `taskspecs` have errors" in proc.stderr
    assert "Traceback" not in proc.stderr
    (catalog / "bad.json").write_text("{}")
    proc = run_cli("plan", "diff", "bad.json", "old.json", cwd=catalog)
    assert proc.returncode == 1 and "not a taskseed plan" in proc.stderr


def test_the_real_catalog_after_a_shared_template_edit(tmp_path: Path) -> None:
    """Every unit that uses the multiple-choice verify template reruns from `verify`;
    the others are unchanged."""
    shutil.copytree(REPO / "taskspecs", tmp_path / "taskspecs")
    old = compile_at(tmp_path)
    template = tmp_path / "taskspecs/_templates/verify/multiple_choice.j2"
    template.write_text(template.read_text() + "\nAnswer with the option's text.\n")
    new = compile_at(tmp_path)
    diff = diff_plans(old, new)
    users = {
        u.id
        for u in old.units
        if u.verify.prompt is not None
        and "verify/multiple_choice.j2" in old.templates[u.verify.prompt.user].origin
    }
    assert users and {c.id for c in diff.changed} == users
    assert diff.unchanged == len(old.units) - len(users)
    for change in diff.changed:
        assert [t.path for t in change.templates] == ["verify.prompt.user"]
        assert change.settings == [] and change.first_stage == "verify"
        assert "+Answer with the option's text." in change.templates[0].diff
    # one entry for them all: the change once, with the units it touches
    text = render_text(diff)
    assert f"~ {len(users)} units with the same change: " in text
    assert text.count("+Answer with the option's text.") == 1


def test_cli_compiles_each_side_from_its_own_root(catalog: Path, tmp_path: Path) -> None:
    """A base checkout elsewhere: --old-root keeps its spec paths comparable."""
    base = tmp_path / "base"
    shutil.copytree(catalog / "taskspecs", base / "taskspecs")
    edit(catalog / "taskspecs/_base.yaml", "  k: 3", "  k: 5")
    proc = run_cli("plan", "diff", str(base / "taskspecs"), "taskspecs", cwd=catalog)
    assert "different roots" in proc.stdout  # its paths start with ../base/...
    proc = run_cli(
        "plan",
        "diff",
        str(base / "taskspecs"),
        "taskspecs",
        "--old-root",
        str(base),
        "--format",
        "json",
        cwd=catalog,
    )
    payload = json.loads(proc.stdout)
    assert payload["same_roots"]
    assert [s["path"] for c in payload["changed"] for s in c["settings"]] == [
        "verify.k",
        "verify.k",
    ]
