"""Decontamination: 13-gram and MinHash matches against held-out items, near misses kept,
held-out files read by the seeds' reader, and a whole run that drops a copied item."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest
from rich.console import Console

from taskseed.contract.plan import Plan, Unit
from taskseed.runtime import decontaminate as dc
from taskseed.runtime.engines.base import ChatRequest
from taskseed.runtime.engines.scripted import ScriptedEngine
from taskseed.runtime.errors import SeedError
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan
from taskseed.runtime.seeds import held_out_rows, iter_rows
from taskseed.runtime.unit import RunOptions
from tests.runtime import scripted
from tests.runtime.catalog import SPEC, compile_catalog
from tests.runtime.funnel import check_funnel, read_jsonl

# Held-out items in the quiz's own row format (id, question, options, gold).
EVAL_ROWS = [
    {
        "id": "e1",
        "question": "A student pours warm water into a metal cup and a plastic cup at the "
        "same time and notices that the outside of the metal cup feels hot much sooner.",
        "options": ["metal conducts heat", "plastic is thicker", "water is lighter"],
        "gold": 0,
    },
    {
        "id": "e2",
        "question": "Which gas do green plants take in from the air to make food?",
        "options": ["oxygen", "carbon dioxide", "nitrogen"],
        "gold": 1,
    },
    {
        # a test split with hidden labels: the row does not map, its question still counts
        "id": "e3",
        "question": "The wind can carry maple seeds far away from the parent tree. Maple "
        "seeds spin like small helicopters as they drop.",
        "options": ["a", "b", "c"],
        "gold": -1,
    },
]

DECONTAMINATE = """
decontaminate:
  files: fixtures/quiz_eval.jsonl
"""


def write_eval(root: Path, rows: list[dict[str, Any]] = EVAL_ROWS) -> None:
    folder = root / "taskspecs/knowledge/fixtures"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quiz_eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def quiz_plan(root: Path) -> Plan:
    write_eval(root)
    return compile_catalog(root, spec=SPEC + DECONTAMINATE)


def index_for(root: Path) -> tuple[Unit, dc.HeldOut]:
    plan = quiz_plan(root)
    unit = plan.units[0]
    built = dc.build(unit, use_fixtures=True, root=root)
    assert built.index is not None
    return unit, built.index


EVAL_FILE = "taskspecs/knowledge/fixtures/quiz_eval.jsonl"


def test_a_shared_13_gram_is_a_match(tmp_path: Path) -> None:
    _, index = index_for(tmp_path)
    question = (
        "In a kitchen, a student pours warm water into a metal cup and a plastic cup at the "
        "same time; which cup warms first?"
    )
    reason = index.check({"question": question})
    assert reason is not None
    assert reason.startswith(f"shares a 13-gram with held-out {EVAL_FILE} item e1: '")
    assert "student pours warm water into metal cup" in reason


def test_a_minhash_match_without_a_shared_13_gram(tmp_path: Path) -> None:
    _, index = index_for(tmp_path)
    # the two sentences of e3 swapped: no run of 13 words in common, most shingles shared
    question = (
        "Maple seeds spin like small helicopters as they drop, and the wind can carry "
        "maple seeds far away from the parent tree."
    )
    reason = index.check({"question": question})
    assert reason is not None and "13-gram" not in reason
    assert reason.startswith(f"near-duplicate of held-out {EVAL_FILE} item #3 (estimated Jaccard")


def test_a_short_item_is_compared_whole(tmp_path: Path) -> None:
    _, index = index_for(tmp_path)
    reason = index.check(
        {"question": "Which gas do green plants take in from the air to make food"}
    )
    assert reason is not None and "e2 word for word" in reason


def test_near_misses_are_kept(tmp_path: Path) -> None:
    _, index = index_for(tmp_path)
    near_misses = [
        # 12 words in a row from e1, then different words: no 13-gram, little overlap
        "A student pours warm water into a metal cup and a plastic cup, then asks "
        "her teacher which of the two cups would keep lemonade cold during a picnic lunch.",
        # e2's topic and some of its words, in a different question
        "Which gas do animals breathe out that green plants use during the day?",
        "Which instrument measures quantity number 1 in a lab?",
    ]
    for question in near_misses:
        assert index.check({"question": question}) is None, question


def test_only_the_configured_fields_are_compared(tmp_path: Path) -> None:
    _, index = index_for(tmp_path)
    copied = EVAL_ROWS[0]["question"]
    assert index.check({"question": "What is new here?", "rationale": copied}) is None
    assert index.check({"question": "What is new here?", "context": copied}) is not None


def test_index_stores_hashes_and_counts_sources(tmp_path: Path) -> None:
    unit, index = index_for(tmp_path)
    assert index.counts == {EVAL_FILE: 3}
    assert index._hashes.dtype.name == "uint64" and len(index._hashes) > 0
    built = dc.build(unit, use_fixtures=True, root=tmp_path)
    assert built.info["items"] == {EVAL_FILE: 3}
    assert "not loaded in an offline run" in built.info["skipped"][0]  # eval_splits: [test]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "csv"])
def test_held_out_files_use_the_seed_reader(
    tmp_path: Path, fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import taskseed.runtime.seeds as seeds

    monkeypatch.setattr(seeds, "READ_ROWS", 1)  # read in batches, like seed files
    calls: list[tuple[str, ...]] = []
    reader = seeds.read_files

    def spy(patterns: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(patterns))
        return reader(patterns, *args, **kwargs)

    monkeypatch.setattr(dc, "read_files", spy)
    rows = [{"id": r["id"], "question": r["question"], "gold": r["gold"]} for r in EVAL_ROWS]
    path = tmp_path / f"held_out/eval.{fmt}"
    path.parent.mkdir()
    frame = pl.DataFrame(rows)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    plan = compile_catalog(tmp_path)
    unit = plan.units[0]
    unit = msgspec.structs.replace(
        unit,
        decontaminate=msgspec.structs.replace(unit.decontaminate, files=[f"held_out/*.{fmt}"]),
    )
    built = dc.build(unit, use_fixtures=True, root=tmp_path)
    assert calls == [(f"held_out/*.{fmt}",)]
    assert built.index is not None and built.index.counts == {f"held_out/*.{fmt}": 3}
    assert built.index.check({"question": EVAL_ROWS[0]["question"]}) is not None


def test_missing_held_out_file_is_a_clear_error(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path, spec=SPEC + DECONTAMINATE)  # the file is not written
    with pytest.raises(SeedError, match="no held-out file matches"):
        dc.build(plan.units[0], use_fixtures=True, root=tmp_path)


def test_eval_splits_load_online_and_only_for_decontamination(tmp_path: Path) -> None:
    plan = compile_catalog(tmp_path)
    repo = tmp_path / "hub_copy"
    (repo / "data").mkdir(parents=True)
    pl.DataFrame(EVAL_ROWS[:2]).write_parquet(repo / "data/train-00000-of-00001.parquet")
    pl.DataFrame(EVAL_ROWS[:2]).write_parquet(repo / "data/test-00000-of-00001.parquet")
    unit = plan.units[0]
    unit = msgspec.structs.replace(
        unit, seeds=msgspec.structs.replace(unit.seeds, dataset=str(repo), config=None)
    )
    assert unit.decontaminate.splits == ["test"]
    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.index is not None and built.index.counts == {"test": 2}
    reason = built.index.check({"question": EVAL_ROWS[0]["question"]})
    assert reason is not None and "held-out test item e1" in reason
    # the seed path still refuses the held-out split; the held-out path refuses the others
    test_split = msgspec.structs.replace(
        unit, seeds=msgspec.structs.replace(unit.seeds, split="test")
    )
    with pytest.raises(SeedError, match="evaluated on"):
        next(iter_rows(plan, test_split, use_fixtures=False, root=tmp_path))
    with pytest.raises(SeedError, match="not a held-out split"):
        held_out_rows(unit, "train")


def test_an_unreachable_split_skips_offline_and_stops_a_real_run(tmp_path: Path) -> None:
    plan = quiz_plan(tmp_path)
    unit = plan.units[0]
    unit = msgspec.structs.replace(
        unit, seeds=msgspec.structs.replace(unit.seeds, dataset=str(tmp_path / "nowhere"))
    )
    offline = dc.build(unit, use_fixtures=True, root=tmp_path)
    assert offline.index is not None and offline.index.counts == {EVAL_FILE: 3}
    assert "not loaded in an offline run" in offline.info["skipped"][0]
    with pytest.raises(SeedError, match=r"cannot load .*nowhere \(test\)"):
        dc.build(unit, use_fixtures=False, root=tmp_path)


def test_disabled_decontamination_builds_nothing(tmp_path: Path) -> None:
    plan = quiz_plan(tmp_path)
    unit = plan.units[0]
    off = msgspec.structs.replace(
        unit, decontaminate=msgspec.structs.replace(unit.decontaminate, enabled=False)
    )
    assert dc.build(off, use_fixtures=True, root=tmp_path).index is None


# ------------------------------------------------------------ a whole run


def copying_script(request: ChatRequest) -> list[str]:
    """Similar questions for seed q1 copy held-out item e1; the others are new."""
    props = (request.json_schema or {}).get("properties", {})
    prompt = request.messages[-1].content
    if "choices" in props and "quantity number 1 " in prompt:
        copy = {
            "question": "Here is one: " + str(EVAL_ROWS[0]["question"]),
            "choices": ["x one", "y two", "z three"],
            "answer": "x one",
        }
        return [json.dumps(copy)] * request.n
    return scripted.script(request)


def test_a_run_drops_items_that_copy_held_out_items(tmp_path: Path) -> None:
    plan = quiz_plan(tmp_path)
    engine = ScriptedEngine(copying_script)
    out = tmp_path / "out"
    config = RunConfig(out=out, options=RunOptions(use_fixtures=True, backoff_s=0.0, root=tmp_path))
    progress = StageProgress(Console(quiet=True), enabled=False, units=1)
    manifest = asyncio.run(run_plan(plan, plan.units, engine, config, progress))
    check_funnel(out)
    rejects = [r for r in read_jsonl(out / "rejects") if r["stage"] == "decontaminate"]
    assert len(rejects) == 2  # both samples for seed q1
    for reject in rejects:
        assert reject["seed_id"] == "q1" and reject["kind"] == "similar_question"
        assert reject["reason"].startswith(f"shares a 13-gram with held-out {EVAL_FILE} item e1")
        assert reject["item"]["question"].startswith("Here is one:")
    counts = manifest["units"]["quiz/default"]["counts"]
    assert counts["decontaminated"] == counts["filtered"] - 2
    # contaminated items cost no verification request, and none of them is written
    verify_prompts = [
        c.messages[-1].content for c in engine.calls if "ANSWER=" in c.messages[-1].content
    ]
    assert verify_prompts and not any("Here is one:" in p for p in verify_prompts)
    assert not any(r["question"].startswith("Here is one:") for r in read_jsonl(out / "data"))
    info = manifest["decontamination"]["quiz/default"]
    assert info["items"] == {EVAL_FILE: 3}
    assert "not loaded in an offline run" in info["skipped"][0]


def test_a_changed_held_out_file_reruns_the_unit(tmp_path: Path) -> None:
    """Held-out files are named by the plan, not embedded: their contents key the unit."""
    from taskseed.runtime.run import unit_keys

    plan = quiz_plan(tmp_path)
    options = RunOptions(use_fixtures=True, root=tmp_path)
    before = unit_keys(plan.units, "model", options)
    assert unit_keys(plan.units, "model", options) == before
    eval_file = tmp_path / EVAL_FILE
    eval_file.write_text(eval_file.read_text() + eval_file.read_text().splitlines()[0] + "\n")
    assert unit_keys(plan.units, "model", options) != before


def test_wording_every_held_out_item_shares_is_not_a_match(tmp_path: Path) -> None:
    """BIG-bench-style prompts repeat one instruction; only the items' own content counts."""
    instruction = (
        "Read each short story below carefully, think about what happens in it, and then "
        "answer one question about its main character"
    )
    topics = [
        "a fox who hid apples under the old bridge for the long winter months ahead",
        "two sisters who planted sunflowers along the fence behind their grandmother's barn",
        "a baker who woke at three every morning to fire the brick oven on the square",
        "a lighthouse keeper who counted ships passing the rocks during one stormy night",
        "a boy who trained his dog to carry newspapers to every house on his street",
        "a sailor who mapped the small islands south of the harbour with a brass compass",
        "a teacher who grew tomatoes on the school roof with her class of ten year olds",
        "a clockmaker who repaired the tower clock after lightning struck the town hall",
        "a farmer who built a stone wall around the orchard to keep the deer away",
        "a painter who moved to the coast to paint the cliffs at sunrise every day",
        "a miner who found a fossil fern in the coal seam deep under the valley",
        "a pilot who flew medicine to a village cut off by snow in the mountains",
    ]
    rows = [
        {
            "id": f"b{i}",
            "question": f"{instruction}. Story: {topic}.",
            "options": ["x", "y", "z"],
            "gold": 0,
        }
        for i, topic in enumerate(topics)
    ]
    assert len(rows) > dc.COMMON_ITEMS
    write_eval(tmp_path, rows)
    unit = compile_catalog(tmp_path, spec=SPEC + DECONTAMINATE).units[0]
    built = dc.build(unit, use_fixtures=True, root=tmp_path)
    assert built.index is not None and built.info["common_ngrams_ignored"] > 0
    fresh = f"{instruction}. Story: a cook who sold soup from a cart near the railway station."
    assert built.index.check({"question": fresh}) is None
    # the end of the instruction with one item's own story: 13-grams only b3 has
    copied = f"Now answer one question about its main character. Story: {topics[3]}."
    reason = built.index.check({"question": copied})
    assert reason is not None and "item b3" in reason
