"""`taskseed import lm-eval` against the real task files of the installed lm-eval 0.4.13."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from taskseed.compiler.driver import compile_paths
from taskseed.importers.lm_eval import import_lm_eval
from taskseed.importers.lm_eval_families import FamilyFinder, ImportInputError
from taskseed.importers.lm_eval_index import installed_version, tasks_root
from taskseed.importers.lm_eval_yaml import FunctionRef, load_config
from taskseed.importers.spec_yaml import HAND
from tests.importers.helpers import REPO, Imported, scratch_catalog

Run = Callable[..., Imported]
WARNING = re.compile(r"taskseed: warning: (\S+:\d+): .*; finish (\S+):(\d+) by hand")

ARC_ROWS = [
    {
        "id": "t-arc-1",
        "question": "Which tool is best for measuring the mass of a rock?",
        "choices": {"text": ["a ruler", "a balance", "a thermometer"], "label": ["A", "B", "C"]},
        "answerKey": "B",
    },
    {
        "id": "t-arc-2",
        "question": "What do green plants need from the air to make their food?",
        "choices": {
            "text": ["oxygen", "nitrogen", "carbon dioxide", "helium"],
            "label": ["1", "2", "3", "4"],
        },
        "answerKey": "3",
    },
    {
        "id": "t-arc-3",
        "question": "Which season follows winter in places with four seasons?",
        "choices": {"text": ["spring", "summer", "autumn", "winter"], "label": list("ABCD")},
        "answerKey": "A",
    },
]


def lm_eval_root() -> Path:
    root = tasks_root()
    assert root is not None
    return root


def warnings(err: str) -> list[tuple[str, str, int]]:
    """(lm-eval file:line, spec file, spec line) of every hand-completion warning."""
    return [(m[1], m[2], int(m[3])) for m in WARNING.finditer(err)]


def comments(text: str) -> str:
    """A spec's comments as one line of text, however they were wrapped."""
    return " ".join(line.strip()[2:] for line in text.splitlines() if line.strip().startswith("# "))


def add_fixture(spec: Path, rows: list[dict[str, object]]) -> None:
    """Write rows next to the spec and point `seeds.fixture` at them."""
    fixture = spec.parent / "fixtures" / f"{spec.stem}.jsonl"
    fixture.parent.mkdir(exist_ok=True)
    fixture.write_text("".join(json.dumps(row) + "\n" for row in rows))
    text = spec.read_text()
    marker = "\n  split: train\n"
    assert marker in text
    spec.write_text(text.replace(marker, f"{marker}  fixture: fixtures/{spec.stem}.jsonl\n", 1))


# --------------------------------------------------------------------------- reading


def test_function_tags_become_markers_and_nothing_is_imported(lm_eval_tasks: Path) -> None:
    config = load_config(lm_eval_tasks / "hellaswag/hellaswag.yaml")
    assert config.get("process_docs") == FunctionRef("utils.process_docs")
    assert config.origin("process_docs").line == 10
    # The importer never imports lm_eval (which fails on purpose without its dependencies)
    # nor any task module.
    probe = (
        "import sys; from pathlib import Path;"
        "from taskseed.importers.lm_eval_families import FamilyFinder;"
        "FamilyFinder.default().resolve('hellaswag');"
        "print(sorted(m for m in sys.modules if m.startswith('lm_eval') or m == 'utils'))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert proc.stdout.strip() == "[]"


def test_include_chain_keeps_the_including_files_keys(lm_eval_tasks: Path) -> None:
    config = load_config(lm_eval_tasks / "arc/arc_challenge.yaml")
    assert config.get("dataset_name") == "ARC-Challenge"
    assert config.origin("dataset_name").path.name == "arc_challenge.yaml"
    assert config.get("doc_to_target") == "{{choices.label.index(answerKey)}}"
    assert config.origin("doc_to_target").path.name == "arc_easy.yaml"
    assert config.origin("doc_to_target").line == 11
    assert "include" not in config.values


# ------------------------------------------------------------------ single tasks


def test_arc_easy_imports_clean_with_an_index_expression(run_import: Run) -> None:
    result = run_import("arc_easy")
    assert result.code == 0, result.err
    spec = result.spec("arc_easy")
    assert spec["extends"] == "../_multiple_choice.yaml"
    assert spec["imported_from"] == "lm-eval 0.4.13: lm_eval/tasks/arc/arc_easy.yaml"
    assert spec["domain"] == "reasoning"
    assert spec["seeds"] == {
        "dataset": "allenai/ai2_arc",
        "config": "ARC-Easy",
        "split": "train",
        "eval_splits": ["validation", "test"],
    }
    assert spec["mapping"] == {
        "question": "question",
        "choices": "choices.text",
        "answer": {"index": "choices.label.index(answerKey)"},
    }
    assert spec["answer_format"] == {"type": "multiple_choice"}
    assert "Target kind: the position of a label in a list" in comments(result.text("arc_easy"))
    assert "needs `seeds.fixture`" in result.err and "TS405" in result.err


def test_an_imported_spec_with_a_fixture_compiles_clean(run_import: Run) -> None:
    result = run_import("arc_challenge")
    spec = result.out_dir / "arc_challenge.yaml"
    before = compile_paths([spec])
    assert [d.code for d in before.diagnostics] == ["TS405"]
    add_fixture(spec, ARC_ROWS)
    after = compile_paths([spec])
    assert not after.diagnostics.items, [d.message for d in after.diagnostics]
    assert after.plan is not None
    (unit,) = after.plan.units
    assert unit.id == "arc_challenge/default"
    assert unit.imported_from == "lm-eval 0.4.13: lm_eval/tasks/arc/arc_challenge.yaml"
    assert unit.seeds.config == "ARC-Challenge"


def test_generate_until_tasks_become_short_answers(run_import: Run) -> None:
    result = run_import("gsm8k", "triviaqa")
    assert result.code == 0, result.err
    gsm8k = result.spec("gsm8k")
    assert gsm8k["extends"] == "../_short_answer.yaml"
    assert gsm8k["answer_format"] == {"type": "short_answer"}
    assert gsm8k["seeds"] == {
        "dataset": "openai/gsm8k",
        "config": "main",
        "split": "train",
        "eval_splits": ["test"],  # fewshot_split is the training split: not held out
    }
    assert gsm8k["mapping"] == {"question": "question", "answer": {"text": "answer"}}
    assert "scored by exact_match: a short answer" in comments(result.text("gsm8k"))
    trivia = result.spec("triviaqa")
    assert trivia["mapping"] == {
        "question": "{{question}}?",  # the prompt's labels go, the template stays
        "answer": {"text": "answer.aliases"},
    }
    assert "write `text: answer.aliases[0]` and `aliases: answer.aliases`" in comments(
        result.text("triviaqa")
    )


def test_label_and_number_targets(run_import: Run) -> None:
    result = run_import("mutual", "social_iqa")
    mutual = result.spec("mutual")["mapping"]
    assert isinstance(mutual, dict)
    assert mutual["answer"] == {"label": "answers", "labels": ["A", "B", "C", "D"]}
    siqa = result.spec("social_iqa")["mapping"]
    assert siqa == {
        "question": "{{context}} {{question}}",
        "choices": "[answerA, answerB, answerC]",
        "answer": {"index": "(label|int) - 1"},
    }


# ------------------------------------------------------------------ hand completion


def test_a_process_docs_that_builds_new_rows_is_marked_for_hand_completion(
    run_import: Run,
) -> None:
    result = run_import("qasper_bool", folder="knowledge")
    assert result.code == 1
    (found,) = warnings(result.err)
    source, spec_file, line = found
    assert source == "lm_eval/tasks/qasper/bool.yaml:7"
    assert "process_docs is the Python function process_docs_bool" in result.err
    lines = Path(spec_file).read_text().splitlines()
    assert lines[line - 1].strip().startswith(f'process_docs: "{HAND}')
    above = comments("\n".join(lines[line - 8 : line - 1]))
    assert "lm-eval process_docs: !function utils.process_docs_bool" in above
    assert "taskseed could not translate it (`datasets.Dataset`)" in above
    validated = compile_paths([spec_file])
    errors = [(d.code, d.span.line if d.span else None) for d in validated.diagnostics.errors]
    assert errors == [("TS504", line)]


def test_hooks_it_cannot_follow_fail_validation_at_their_lines(run_import: Run) -> None:
    # ethics_utilitarianism orders its two scenarios by a seeded random shuffle.
    result = run_import("ethics_utilitarianism")
    assert result.code == 1
    found = warnings(result.err)
    assert [source for source, _, _ in found] == [
        "lm_eval/tasks/hendrycks_ethics/utilitarianism.yaml:6",
        "lm_eval/tasks/hendrycks_ethics/utilitarianism.yaml:7",
    ]
    text = comments(result.text("ethics_utilitarianism"))
    assert "lm-eval's version is doc_to_text in lm_eval/tasks/hendrycks_ethics/utils.py" in text
    assert "a call that may change its arguments" in text
    spec_file = found[0][1]
    validated = compile_paths([spec_file])
    lines = sorted(d.span.line for d in validated.diagnostics.errors if d.span)
    assert lines == sorted(line for _, _, line in found)
    assert {d.code for d in validated.diagnostics.errors} == {"TS504"}


def test_a_spec_outside_a_domain_folder_leaves_the_domain_open(run_import: Run) -> None:
    result = run_import("arc_easy", folder="imported")
    assert result.code == 1
    assert "lm-eval has no domain; set `knowledge` or `reasoning`" in result.err
    assert result.spec("arc_easy")["domain"] is None


# ------------------------------------------------------------------- groups and tags


def test_a_tag_whose_tasks_differ_by_config_becomes_a_matrix(run_import: Run) -> None:
    result = run_import("ai2_arc")
    assert result.code == 0, result.err
    spec = result.spec("ai2_arc")
    assert spec["imported_from"] == "lm-eval 0.4.13: lm_eval/tasks/arc/"
    assert "config" not in spec["seeds"]
    assert spec["subtasks"] == {
        "matrix": {"config": ["ARC-Challenge", "ARC-Easy"]},
        "name": "${config}",
        "with": {"seeds": {"config": "${config}"}},
    }
    spec_file = result.out_dir / "ai2_arc.yaml"
    add_fixture(spec_file, ARC_ROWS)
    compiled = compile_paths([spec_file])
    assert not compiled.diagnostics.items
    assert compiled.plan is not None
    assert [u.id for u in compiled.plan.units] == ["ai2_arc/ARC-Challenge", "ai2_arc/ARC-Easy"]


def test_a_group_whose_tasks_differ_otherwise_becomes_a_subtask_list(run_import: Run) -> None:
    # lm-eval's xnli prompts live in doc_to_choice: three whole sentences that share the
    # premise and the hypothesis; the shared text becomes the question, with a blank.
    result = run_import("xnli")
    assert result.code == 0, result.err
    spec = result.spec("xnli")
    assert spec["imported_from"] == "lm-eval 0.4.13: lm_eval/tasks/xnli/_xnli.yaml"
    subtasks = spec["subtasks"]
    assert isinstance(subtasks, list)
    names = [s["name"] for s in subtasks]
    assert names[:3] == ["ar", "bg", "de"] and len(names) == 15
    assert subtasks[0] == {"name": "ar"}  # the first task is the spec's body
    english = next(s for s in subtasks if s["name"] == "en")
    assert english["seeds"] == {"config": "en"}
    assert english["mapping"] == {
        "question": "{{ premise }}, right? ___, {{ hypothesis }}",
        "choices": ["Yes", "Also", "No"],
    }
    assert spec["mapping"]["answer"] == {"index": "label"}
    assert "правилно" in next(s for s in subtasks if s["name"] == "bg")["mapping"]["question"]
    assert warnings(result.err) == []


# --------------------------------------------------------------------------- skipping


def test_tasks_without_a_training_split_are_skipped(run_import: Run) -> None:
    result = run_import("truthfulqa_mc1")
    assert result.code == 1
    assert result.err.startswith("taskseed: skipped: truthfulqa_mc1 has no training split")
    assert "lm_eval/tasks/truthfulqa/truthfulqa_mc1.yaml:7" in result.err
    assert not result.out_dir.exists()


def test_tasks_scored_on_their_training_split_are_skipped(run_import: Run) -> None:
    result = run_import("gpqa_main_zeroshot")
    assert result.code == 1
    assert "is evaluated on its training split `train` (validation_split)" in result.err
    assert "lm_eval/tasks/gpqa/zeroshot/_gpqa_zeroshot_yaml:7" in result.err
    assert not result.out_dir.exists()


def test_a_tag_of_evaluation_only_tasks_imports_nothing(run_import: Run) -> None:
    result = run_import("truthfulqa")
    assert result.code == 1
    assert result.err.count("taskseed: skipped:") == 3
    assert "taskseed: error: nothing to import from tag `truthfulqa`" in result.err


# ----------------------------------------------------------------- paths and input


def test_a_folder_imports_each_task_file(run_import: Run, lm_eval_tasks: Path) -> None:
    result = run_import(str(lm_eval_tasks / "mutual"))
    assert sorted(p.name for p in result.out_dir.iterdir()) == ["mutual.yaml", "mutual_plus.yaml"]
    plus = result.spec("mutual_plus")
    assert plus["imported_from"] == "lm-eval 0.4.13: lm_eval/tasks/mutual/multual_plus.yaml"
    assert plus["seeds"]["config"] == "mutual_plus"


def test_bad_input_is_one_line_each_and_the_rest_still_imports(run_import: Run) -> None:
    result = run_import("arc_esay", "missing/task.yaml", "piqa")
    assert result.code == 1
    lines = result.err.splitlines()
    assert lines[0] == (
        "taskseed: error: no lm-eval task, group or tag is named `arc_esay`; "
        "did you mean `arc_easy`?"
    )
    assert lines[1] == "taskseed: error: no such file or folder: missing/task.yaml"
    assert (result.out_dir / "piqa.yaml").is_file()


def test_an_existing_spec_is_never_overwritten(run_import: Run) -> None:
    first = run_import("piqa")
    edited = first.text("piqa") + "# finished by hand\n"
    (first.out_dir / "piqa.yaml").write_text(edited)
    again = run_import("piqa")
    assert again.code == 1
    assert "exists; delete it first to import `piqa` again" in again.err
    assert again.text("piqa") == edited


def test_a_user_group_file_with_includes_and_inline_tasks(run_import: Run, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "_base_yaml").write_text(
        "dataset_path: example/quiz\noutput_type: multiple_choice\ntraining_split: train\n"
        "test_split: test\ndoc_to_text: \"Q: {{prompt}}\\nA:\"\ndoc_to_choice: '{{options}}'\n"
        "doc_to_target: gold\n"
    )
    (folder / "quiz_a.yaml").write_text("include: _base_yaml\ntask: quiz_a\ndataset_name: a\n")
    (folder / "_quiz.yaml").write_text(
        "group: quiz\ntask:\n  - quiz_a\n  - task: quiz_b\n    include: _base_yaml\n"
        "    dataset_name: b\n    dataset_kwargs: {data_files: {train: b.jsonl}}\n"
    )
    result = run_import(str(folder / "_quiz.yaml"))
    assert result.code == 1
    spec = result.spec("quiz")
    assert spec["mapping"] == {
        "question": "prompt",
        "choices": "options",
        "answer": {"index": "gold"},
    }
    assert spec["subtasks"] == [
        {"name": "a"},
        {"name": "b", "seeds": {"dataset": None, "config": "b"}},
    ]
    (found,) = warnings(result.err)
    assert found[0].endswith("_quiz.yaml:2")
    assert "dataset_kwargs" in result.err


# ------------------------------------------------------------------------ the CLI


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "import", "lm-eval", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_end_to_end(tmp_path: Path) -> None:
    scratch_catalog(tmp_path)
    proc = cli("piqa", "ethics_utilitarianism", "-o", "taskspecs/reasoning", cwd=tmp_path)
    assert proc.returncode == 1  # ethics_utilitarianism needs finishing by hand
    assert "Traceback" not in proc.stderr
    assert "wrote taskspecs/reasoning/piqa.yaml: task `piqa`, 1 subtask" in proc.stderr
    assert "finish taskspecs/reasoning/ethics_utilitarianism.yaml:" in proc.stderr
    table = proc.stdout.splitlines()
    assert table[0].split()[:3] == ["lm-eval", "task", "result"]
    assert table[1].split()[:2] == ["piqa", "imported"]
    assert table[2].split()[:5] == ["ethics_utilitarianism", "imported", "0", "0", "2"]
    assert table[-1].startswith("2 tasks: 2 imported (1 with nothing to finish by hand)")
    validate = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "validate", "taskspecs/reasoning/piqa.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert validate.returncode == 0
    assert "warning[TS405]" in validate.stdout

    clean = cli("arc_easy", "-o", "taskspecs/reasoning", cwd=tmp_path)
    assert clean.returncode == 0, clean.stderr

    bad = cli("no_such_task_anywhere", "-o", "taskspecs/reasoning", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.splitlines()[0].startswith("taskseed: error: no lm-eval task")
    assert "Traceback" not in bad.stderr


def test_the_version_in_imported_from_is_the_installed_one() -> None:
    assert installed_version() == "0.4.13"


def test_without_lm_eval_installed_names_fail_and_paths_work(tmp_path: Path) -> None:
    finder = FamilyFinder(None)
    with pytest.raises(ImportInputError, match="lm_eval is not installed; give the path"):
        finder.resolve("arc_easy")
    task = tmp_path / "quiz.yaml"
    task.write_text(
        "task: quiz\ndataset_path: example/quiz\ntraining_split: train\ntest_split: test\n"
        "output_type: generate_until\ndoc_to_text: '{{prompt}}'\ndoc_to_target: reply\n"
    )
    catalog = scratch_catalog(tmp_path)
    err = io.StringIO()
    assert import_lm_eval([str(task)], catalog / "knowledge", err, finder) == 1
    assert "lm-eval's README gives no citation" in err.getvalue()
    (tmp_path / "README.md").write_text(
        "# Quiz\n\n```\n@misc{q, title={A Quiz}, author={Ada Byron}, year={2024}}\n```\n"
    )
    (catalog / "knowledge/quiz.yaml").unlink()
    err = io.StringIO()
    assert import_lm_eval([str(task)], catalog / "knowledge", err, finder) == 0, err.getvalue()
    spec = (catalog / "knowledge/quiz.yaml").read_text()
    assert "extends: ../_free_form.yaml" in spec  # no exact-match metric: free-form answers
    assert "title: Quiz\n" in spec and "domain: knowledge" in spec
    assert 'citation: "Byron (2024), A Quiz."' in spec


# ------------------------------------------------------------- families and hooks


def test_a_family_folder_becomes_one_spec_per_template(run_import: Run) -> None:
    result = run_import(families=("hendrycks_math",))
    assert result.code == 1  # hendrycks_math500 is evaluation only
    spec = result.spec("hendrycks_math")
    assert spec["subtasks"]["matrix"] == {
        "config": [
            "algebra",
            "counting_and_probability",
            "geometry",
            "intermediate_algebra",
            "number_theory",
            "prealgebra",
            "precalculus",
        ]
    }
    # process_docs made `answer` with lm-eval's boxed-answer helpers: the `boxed` filter.
    assert spec["mapping"] == {"question": "problem", "answer": {"text": "solution|boxed"}}
    rows = [line.split() for line in result.table.splitlines()]
    assert rows[1][:2] == ["hendrycks_math500", "skipped"]
    assert [r[:5] for r in rows[2:9]] == [[r[0], "imported", "1", "0", "0"] for r in rows[2:9]]
    assert result.table.splitlines()[-1] == (
        "8 tasks: 7 imported (7 with nothing to finish by hand); hooks: 7 translated, "
        "0 referenced; 1 skipped (1 no training split)"
    )
    assert not compile_paths([result.out_dir / "hendrycks_math.yaml"]).diagnostics.errors


def test_a_family_with_several_templates_gets_a_spec_for_each(run_import: Run) -> None:
    result = run_import(families=("noreval",), folder="knowledge")
    written = sorted(p.stem for p in result.out_dir.glob("*.yaml"))
    assert "noreval_norquad" in written and "noreval_noropenbookqa" in written
    norquad = result.spec("noreval_norquad")
    assert [s["name"] for s in norquad["subtasks"]] == ["p0", "p1", "p2", "p3", "p4"]
    assert "tatoeba" not in " ".join(written)  # lm-eval seeds it from `validation`
    assert "has no training split: lm-eval draws its few-shot examples from `validation`" in (
        result.err
    )


def test_an_unknown_family_is_one_line_with_a_suggestion(run_import: Run) -> None:
    result = run_import(families=("hendrycks_mat",))
    assert result.code == 1
    assert result.err.strip() == (
        "taskseed: error: no lm-eval task folder, group or tag is named `hendrycks_mat`; "
        "did you mean `hendrycks_math`?"
    )


def test_hooks_that_do_not_translate_can_be_referenced(run_import: Run) -> None:
    result = run_import("ethics_utilitarianism", refer=True)
    assert result.code == 0, result.err
    copied = result.out_dir / "hooks/hendrycks_ethics_utils.py"
    assert copied.read_bytes() == (lm_eval_root() / "hendrycks_ethics/utils.py").read_bytes()
    spec = result.spec("ethics_utilitarianism")
    assert spec["mapping"]["question"] == {"hook": "hooks/hendrycks_ethics_utils.py:doc_to_text"}
    assert spec["mapping"]["answer"] == {
        "index": {"hook": "hooks/hendrycks_ethics_utils.py:doc_to_target"}
    }
    assert result.table.splitlines()[1].split()[:5] == [
        "ethics_utilitarianism",
        "imported",
        "0",
        "2",
        "0",
    ]
    spec_file = result.out_dir / "ethics_utilitarianism.yaml"
    checked = compile_paths([spec_file])
    assert sorted(d.code for d in checked.diagnostics) == ["TS405", "TS604", "TS604"]
    rows = [
        {"activity": "I ate a warm meal.", "baseline": "I ate a cold meal.", "rating": 1},
        {"activity": "I lost my keys.", "baseline": "I found my keys.", "rating": -1},
        {"activity": "The bus came early.", "baseline": "The bus came late.", "rating": 2},
    ]
    add_fixture(spec_file, rows)
    trusted = compile_paths([spec_file], root=result.out_dir, trust_hooks=True)
    assert not trusted.diagnostics.items, [d.message for d in trusted.diagnostics]
    assert trusted.plan is not None
    (unit,) = trusted.plan.units
    assert {h.function for h in unit.hooks} == {"doc_to_text", "doc_to_target"}
