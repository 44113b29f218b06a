"""The judge stage on the scripted engine: kept items carry their judgement, items
below the threshold and items without one usable scoring are rejects with the reason,
and a unit whose judge is off sends it nothing."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from rich.console import Console

from taskseed.contract.mapping import normalize
from taskseed.contract.plan import Plan
from taskseed.runtime.engines.base import ChatRequest, Choice
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.judging import judge, parse_scoring
from taskseed.runtime.options import RunOptions
from taskseed.runtime.parse import Malformed
from taskseed.runtime.preview import render_prompts
from taskseed.runtime.progress import StageProgress, funnel_table
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.writer import Format
from tests.runtime import scripted
from tests.runtime.catalog import BASE, QUIZ_ROWS, SPEC, compile_catalog, write_catalog
from tests.runtime.funnel import check_funnel, read_jsonl

JUDGE = """
judge:
  enabled: true
  k: 3
  threshold: 3.0
  scores: {criteria: [correctness, clarity], min: 1, max: 5}
  prompt: |
    Judge {{ item.question }} ANSWER={{ item.answer }} SEED={{ seed.id }}
    on {{ scores.criteria | join(",") }} from {{ scores.min }} to {{ scores.max }}
"""

REPO = Path(__file__).resolve().parents[3]
Script = Callable[[ChatRequest], list[str]]


def judged_plan(root: Path, judge_spec: str = JUDGE) -> Plan:
    return compile_catalog(root, base=BASE + judge_spec)


def is_judge(request: ChatRequest) -> bool:
    props = (request.json_schema or {}).get("properties", {})
    return set(props) == {"verdict", "scores"}


def seed_of(request: ChatRequest) -> str:
    return request.messages[-1].content.split("SEED=", 1)[1].split()[0]


def scoring(correctness: Any, clarity: Any, verdict: str = "fine") -> str:
    return json.dumps(
        {"verdict": verdict, "scores": {"correctness": correctness, "clarity": clarity}}
    )


def with_judge(answers: dict[str, list[str]]) -> Script:
    """The scripted engine, with the judge's samples given per seed."""

    def script(request: ChatRequest) -> list[str]:
        if is_judge(request):
            return answers[seed_of(request)][: request.n]
        return scripted.script(request)

    return script


def run(
    plan: Plan, out: Path, script: Script, fmt: Format = "jsonl"
) -> tuple[dict[str, Any], ScriptedEngine]:
    engine = ScriptedEngine(script)
    options = RunOptions(use_fixtures=True, backoff_s=0.0)
    config = RunConfig(out=out, options=options, fmt=fmt)
    progress = StageProgress(Console(quiet=True), enabled=False, units=len(plan.units))
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    return manifest, engine


SAMPLES = {
    "q0": [scoring(5, 4, "right and clear"), scoring(4, 4, "good"), scoring(5, 5, "")],
    "q1": [scoring(2, 3), scoring(2, 2), scoring(3, 2)],  # mean 2.33
    "q2": ["not json", scoring(9, 1), '{"scores": {"correctness": 4}}'],  # all malformed
    "q3": [scoring(3, 3), scoring(3, 3), scoring(3, 3)],  # exactly the threshold
    "q4": [scoring(4, 4), "{", scoring(2, "2")],  # one abstains; mean 3.0
}


def test_judge_keeps_scores_and_rejects_with_reasons(tmp_path: Path) -> None:
    plan = judged_plan(tmp_path)
    out = tmp_path / "out"
    manifest, engine = run(plan, out, with_judge(SAMPLES))
    check_funnel(out)
    records = read_jsonl(out / "data")
    rejects = [r for r in read_jsonl(out / "rejects") if r["stage"] == "judge"]
    judged_seeds = {seed_of(r) for r in engine.calls if is_judge(r)}
    assert judged_seeds == {"q0", "q1", "q2", "q3", "q4"}
    assert all(r.n == 3 for r in engine.calls if is_judge(r))

    similar = [r for r in records if r["kind"] == "similar_question"]
    assert {r["seed_id"] for r in similar} == {"q0", "q3", "q4"}
    by_seed = {r["seed_id"]: r["judgement"] for r in similar}  # each seed's are alike
    assert all(r["judgement"] == by_seed[r["seed_id"]] for r in similar)
    q0 = by_seed["q0"]
    assert q0["k"] == 3 and q0["abstained"] == 0 and q0["threshold"] == 3.0
    assert q0["scores"] == {"correctness": 4.6667, "clarity": 4.3333}
    assert q0["overall"] == 4.5
    assert q0["verdicts"] == ["right and clear", "good"]
    q4 = by_seed["q4"]
    assert q4["abstained"] == 1 and q4["overall"] == 3.0  # "2" as digits counts as 2
    # Enrichments of judged items keep the judgement they were judged with.
    enriched = [r for r in records if r["kind"] != "similar_question"]
    assert enriched and all(r["judgement"] == by_seed[r["seed_id"]] for r in enriched)

    reasons = {r["seed_id"]: r["reason"] for r in rejects}
    assert set(reasons) == {"q1", "q2"} and len(rejects) == 4  # two items of each
    assert reasons["q1"] == (
        "[judge] mean score 2.33 below threshold 3.0 (correctness 2.33, clarity 2.33)"
    )
    assert reasons["q2"].startswith("[judge] no usable scoring: 3 of 3 samples malformed")
    assert "invalid JSON" in reasons["q2"]
    rejected = next(r for r in rejects if r["seed_id"] == "q1")
    assert rejected["item"]["judgement"]["overall"] == 2.3333  # kept with the reject

    counts = manifest["units"]["quiz/default"]["counts"]
    assert counts["judged"] == counts["verified"] - 4 >= len(similar)
    judge_calls = sum(1 for r in engine.calls if is_judge(r))
    assert manifest["stages"]["judge"]["requests"] == judge_calls == counts["verified"]


def test_judge_off_sends_nothing(tmp_path: Path) -> None:
    plan = judged_plan(tmp_path, JUDGE.replace("enabled: true", "enabled: false"))
    assert not plan.units[0].judge.enabled
    out = tmp_path / "out"
    manifest, engine = run(plan, out, with_judge({}))
    check_funnel(out)
    assert not any(is_judge(r) for r in engine.calls)
    assert "judged" not in manifest["units"]["quiz/default"]["counts"]
    assert "judge" not in manifest["stages"]
    assert all("judgement" not in r for r in read_jsonl(out / "data"))


def test_scripted_judge_runs_the_default_engine_end_to_end(tmp_path: Path) -> None:
    """The shared scripted engine answers the judge's schema, for pipeline runs."""
    plan = judged_plan(tmp_path)
    out = tmp_path / "out"
    manifest, _ = run(plan, out, scripted.script)
    check_funnel(out)
    counts = manifest["units"]["quiz/default"]["counts"]
    assert counts["verified"] == counts["judged"] + sum(
        1 for r in read_jsonl(out / "rejects") if r["stage"] == "judge"
    )
    assert 0 < counts["judged"] < counts["verified"]  # the hashed scores keep some
    for record in read_jsonl(out / "data"):
        assert record["judgement"]["overall"] >= 3.0


def test_a_scoring_is_parsed_against_the_schema() -> None:
    criteria = ["correctness", "clarity"]

    def parsed(text: str) -> Any:
        return parse_scoring(Choice(text=text), criteria, 1, 5)

    good = parsed(scoring(4.0, "5", " ok "))
    assert not isinstance(good, Malformed)
    assert good.scores == {"correctness": 4, "clarity": 5} and good.verdict == "ok"
    assert parsed(scoring(True, 3)).reason.startswith("the score for `correctness` is not")
    assert parsed(scoring(3.5, 3)).reason.startswith("the score for `correctness` is not")
    assert parsed(scoring(0, 3)).reason == "the score for `correctness` (0) is outside 1..5"
    assert parsed('{"scores": {"clarity": 3}}').reason == "no score for `correctness`"
    assert parsed('{"verdict": "x"}').reason == "missing field `scores`"
    assert parsed('{"scores": [3, 3]}').reason == "`scores` is not an object"
    assert parsed("[1]").reason == "expected a JSON object, got list"
    no_verdict = parsed('{"scores": {"correctness": 2, "clarity": 2}}')
    assert not isinstance(no_verdict, Malformed) and no_verdict.verdict == ""


def test_the_mean_that_equals_the_threshold_reaches_it() -> None:
    criteria = ["a", "b", "c"]
    samples = [
        parse_scoring(Choice(text=json.dumps({"scores": s})), criteria, 1, 5)
        for s in ({"a": 4, "b": 3, "c": 3}, {"a": 3, "b": 4, "c": 3}, {"a": 3, "b": 3, "c": 3})
    ]
    # 29 / 9 = 3.2222...: compared exactly, then rounded for the record
    assert judge(samples, criteria, 3, 3.2222).passed
    assert not judge(samples, criteria, 3, 3.2223).passed
    assert judge(samples, criteria, 3, 3.0).judgement.overall == 3.2222
    assert judge(samples[2:], criteria, 3, 3.0).passed  # a mean of exactly 3
    assert not judge(samples[2:], criteria, 3, 3.01).passed


def test_judgements_round_trip_through_parquet(tmp_path: Path) -> None:
    """Staged as JSON, written as a struct: a judged and an unjudged subtask share the
    family's Parquet file, the unjudged records with a null judgement."""
    subtasks = "\nsubtasks:\n  - name: judged\n  - name: plain\n    judge: {enabled: false}\n"
    plan = compile_catalog(tmp_path, spec=SPEC + subtasks, base=BASE + JUDGE)
    out = tmp_path / "out"
    run(plan, out, with_judge(SAMPLES), fmt="parquet")
    frame = pl.read_parquet(out / "data/multiple_choice/*.parquet")
    rows = frame.select("subtask", "kind", "seed_id", "judgement").to_dicts()
    judged = [r for r in rows if r["subtask"] == "judged"]
    assert judged and all(r["judgement"] is not None for r in judged)
    assert all(r["judgement"] is None for r in rows if r["subtask"] == "plain")
    q0 = next(r["judgement"] for r in judged if r["seed_id"] == "q0")
    assert q0["overall"] == 4.5 and q0["verdicts"] == ["right and clear", "good"]
    assert q0["scores"] == {"correctness": 4.6667, "clarity": 4.3333}


@pytest.mark.model
def test_the_judge_on_the_embedded_model(tmp_path: Path) -> None:
    """The catalog's rubric template on SmolLM2-135M, with the vote off and loose filters
    (so that the small model's items reach the judge): its scorings follow the grammar,
    and every item that reached the judge carries a judgement or is a `[judge]` reject."""
    catalog = write_catalog(tmp_path, spec=SPEC + MODEL_RUN)
    (catalog / "_templates/judge").mkdir(parents=True)
    shutil.copy(REPO / "taskspecs/_templates/judge/default.j2", catalog / "_templates/judge")
    out = tmp_path / "out"
    args = ["run", str(catalog), "--root", str(tmp_path), "--fixtures", "--limit-seeds", "3"]
    args += ["--max-tokens", "160", "-o", str(out), "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    manifest = check_funnel(out)
    counts = manifest["counts"]
    judge_rejects = [r for r in read_jsonl(out / "rejects") if r["stage"] == "judge"]
    assert counts.get("verified", 0) > 0, "no item reached the judge"
    assert manifest["stages"]["judge"]["requests"] == counts["verified"]
    assert counts["verified"] == counts.get("judged", 0) + len(judge_rejects)
    for reject in judge_rejects:
        assert reject["reason"].startswith("[judge] "), reject["reason"]
    judgements = [r["item"]["judgement"] for r in judge_rejects if "judgement" in r["item"]]
    judgements += [r["judgement"] for r in read_jsonl(out / "data")]
    assert judgements, "no scoring parsed"
    for judgement in judgements:
        assert judgement["k"] == 2 and set(judgement["scores"]) == {"correctness", "clarity"}
        assert all(1 <= score <= 5 for score in judgement["scores"].values())


MODEL_RUN = """
generate: {answer_enriched: null, context_enriched: null}
verify: {enabled: false}
judge:
  enabled: true
  k: 2
  scores: {criteria: [correctness, clarity]}
  template: judge/default
  system: You judge training items. Reply with one JSON object and nothing else.
"""


def test_the_funnel_table_and_the_preview_show_the_judge(tmp_path: Path) -> None:
    plan = judged_plan(tmp_path)
    manifest, _ = run(plan, tmp_path / "out", with_judge(SAMPLES))
    console = Console(record=True, width=200)
    console.print(funnel_table(manifest["units"]))
    lines = console.export_text().splitlines()
    labels = [c.strip() for c in next(line for line in lines if "┃" in line).split("┃")]
    cells = [c.strip() for c in next(line for line in lines if "│" in line).split("│")]
    counts = manifest["units"]["quiz/default"]["counts"]
    assert cells[labels.index("judged")] == str(counts["judged"])
    assert labels.index("judged") == labels.index("verified") + 1
    unit = plan.units[0]
    seed = normalize(QUIZ_ROWS[0], unit.mapping, unit.format, unit.task, unit.subtask)
    [prompt] = [p for p in render_prompts(plan, unit, seed) if p.stage == "judge"]
    assert prompt.messages is not None
    assert "on correctness,clarity from 1 to 5" in prompt.messages[-1].content
