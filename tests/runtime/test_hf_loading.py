"""Datasets loaded the way real runs load them, without a network.

Each test lays out a folder as the Hugging Face Hub lays out a dataset repository
(Parquet or JSON Lines files, a README.md whose YAML front matter declares `configs:`,
or the Parquet export's `<config>/<split>/0000.parquet` folders) and reads it through
the real `datasets` library by the code `taskseed run` uses: the seeds stage
(`seeds.iter_rows` -> `hf_datasets.load_split`) and decontamination's held-out splits
and benchmark sources (`decontaminate.build`). Only the dataset id is replaced by the
folder's path; what resolves a Hub id to files is `datasets`' own and not exercised.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import msgspec
import polars as pl
import pytest

from taskseed.contract.plan import Plan, PlanEvalSource, Unit
from taskseed.runtime import decontaminate as dc
from taskseed.runtime.errors import SeedError
from taskseed.runtime.seeds import iter_rows
from tests.runtime.catalog import SPEC, compile_catalog

pytest.importorskip("datasets")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No network and no shared cache: any attempt to reach the Hub fails the test."""
    import datasets
    import huggingface_hub.constants

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(
        datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf_home/datasets", raising=False
    )


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows).write_parquet(path)


def with_seeds(unit: Unit, **seeds: Any) -> Unit:
    return msgspec.structs.replace(unit, seeds=msgspec.structs.replace(unit.seeds, **seeds))


def with_sources(unit: Unit, sources: list[PlanEvalSource]) -> Unit:
    decontaminate = msgspec.structs.replace(unit.decontaminate, sources=sources)
    return msgspec.structs.replace(unit, decontaminate=decontaminate)


def seed_ids(plan: Plan, unit: Unit, root: Path) -> list[str]:
    return [str(r["id"]) for r in iter_rows(plan, unit, use_fixtures=False, root=root)]


WORDS = [
    *("amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor"),
    *("indigo", "juniper", "kestrel", "lagoon", "meadow", "nectar", "orchid", "pebble"),
    *("quartz", "raven", "saffron", "tundra", "umber", "valley", "willow", "yarrow"),
]


def question_text(key: str) -> str:
    """Twenty words that depend on `key` alone: texts of different keys share no run."""
    digest = hashlib.sha256(key.encode()).digest()
    return "Which of these " + " ".join(WORDS[b % len(WORDS)] for b in digest[:20]) + "?"


def quiz_rows(prefix: str, count: int, gold: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "question": question_text(f"{prefix}{i}"),
            "options": [f"{prefix} tool {i} a", f"{prefix} tool {i} b", f"{prefix} tool {i} c"],
            "gold": gold,
        }
        for i in range(count)
    ]


# --------------------------------------------------------------- configs, in a card


def test_configs_declared_in_the_dataset_card(tmp_path: Path) -> None:
    """A repository with two configs named in README.md's `configs:`; the unit's config
    picks its files, for the seeds and for the held-out split alike."""
    repo = tmp_path / "hub/multi_config"
    for config in ("en", "fr"):
        write_jsonl(repo / f"{config}/train.jsonl", quiz_rows(f"{config}-train-", 3))
        write_jsonl(repo / f"{config}/test.jsonl", quiz_rows(f"{config}-test-", 2))
    (repo / "README.md").write_text(
        "---\nconfigs:\n"
        + "".join(
            f"- config_name: {c}\n  data_files:\n"
            f"  - split: train\n    path: {c}/train.jsonl\n"
            f"  - split: test\n    path: {c}/test.jsonl\n"
            for c in ("en", "fr")
        )
        + "---\n# A dataset laid out like a Hub repository\n"
    )
    plan = compile_catalog(tmp_path)
    unit = with_seeds(plan.units[0], dataset=str(repo), config="fr")
    assert seed_ids(plan, unit, tmp_path) == ["fr-train-0", "fr-train-1", "fr-train-2"]

    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.index is not None and built.info["items"] == {"test": 2}
    copied = {"question": quiz_rows("fr-test-", 2)[1]["question"]}
    reason = built.index.check(copied)
    assert reason is not None and "held-out test item fr-test-1" in reason
    # The English test items are another config's: not held out for this unit.
    assert built.index.check({"question": quiz_rows("en-test-", 1)[0]["question"]}) is None


# ------------------------------------------------- nested fields, several splits


NESTED_SPEC = """
extends: ../_base.yaml
task: quiz
title: Quiz with nested choices
domain: knowledge
source: {citation: "taskseed tests", license: CC0-1.0}
seeds:
  dataset: example/arc_like
  split: train
  eval_splits: [validation, test]
  fixture: fixtures/quiz.jsonl
mapping:
  id: id
  question: question.stem
  choices: question.choices.text
  answer: {label: answerKey, labels: question.choices.label}
answer_format: {type: multiple_choice, min_options: 3, max_options: 3}
"""


def nested_rows(prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "question": {
                "stem": f"Question {i} of the {prefix} split: which material conducts "
                "heat fastest from a warm drink into the hand that holds the cup?",
                "choices": {"text": ["copper", "wood", "wool"], "label": ["A", "B", "C"]},
            },
            "answerKey": "A",
        }
        for i in range(count)
    ]


def test_nested_fields_and_three_splits_from_parquet(tmp_path: Path) -> None:
    """Struct and list columns in Parquet files named as the Hub names them
    (`data/<split>-00000-of-00001.parquet`, no card): rows keep their nesting, the
    mapping reads it, and both held-out splits are loaded."""
    repo = tmp_path / "hub/arc_like"
    for split, count in (("train", 4), ("validation", 2), ("test", 3)):
        write_parquet(repo / f"data/{split}-00000-of-00001.parquet", nested_rows(split, count))
    plan = compile_catalog(tmp_path, rows=nested_rows("fixture", 3), spec=NESTED_SPEC)
    unit = with_seeds(plan.units[0], dataset=str(repo))
    rows = list(iter_rows(plan, unit, use_fixtures=False, root=tmp_path))
    assert [r["id"] for r in rows] == ["train0", "train1", "train2", "train3"]
    assert rows[0]["question"]["choices"]["label"] == ["A", "B", "C"]

    from taskseed.contract.mapping import normalize

    record = normalize(rows[0], unit.mapping, unit.format, unit.task, unit.subtask)
    assert record.choices == ["copper", "wood", "wool"] and record.answer == "copper"

    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.info["items"] == {"validation": 2, "test": 3}


# ------------------------------------------- the Parquet export of a script dataset


def write_branches(root: Path) -> tuple[Path, Path]:
    """A script dataset's two branches as two folders (a local path has no revisions):
    `main` holds only the loading script; `refs/convert/parquet` holds the Parquet
    export, `<config>/<split>/NNNN.parquet` with no card and a split in two shards."""
    main = root / "main/indicxnli"
    main.mkdir(parents=True)
    (main / "indicxnli.py").write_text("# a loading script\n")
    export = root / "refs-convert-parquet/indicxnli"
    write_parquet(export / "hi/train/0000.parquet", quiz_rows("hi-train-", 2))
    write_parquet(export / "hi/train/0001.parquet", quiz_rows("hi-train-more-", 1))
    write_parquet(export / "hi/test/0000.parquet", quiz_rows("hi-test-", 2))
    write_parquet(export / "ta/train/0000.parquet", quiz_rows("ta-train-", 2))
    write_parquet(export / "ta/test/0000.parquet", quiz_rows("ta-test-", 2))
    return main, export


def test_a_parquet_export_read_with_data_files(tmp_path: Path) -> None:
    """A repository that loads through a script is refused by `datasets`; its Parquet
    export, read through `data_files` (every shard of a split) and no config, loads."""
    main, export = write_branches(tmp_path / "hub")
    plan = compile_catalog(tmp_path)
    unit = with_seeds(
        plan.units[0],
        dataset=str(export),
        config=None,
        revision="refs/convert/parquet",
        data_files={"train": ["hi/train/*.parquet"], "test": ["hi/test/*.parquet"]},
    )
    assert seed_ids(plan, unit, tmp_path) == ["hi-train-0", "hi-train-1", "hi-train-more-0"]
    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.info["items"] == {"test": 2}

    # The main branch: the loading script is found and refused, as on the Hub.
    script = with_seeds(unit, dataset=str(main), revision=None, data_files=None)
    with pytest.raises(SeedError, match="scripts are no longer supported"):
        seed_ids(plan, script, tmp_path)
    # A config name beside data_files names a config that the files do not define.
    named = with_seeds(unit, config="hi")
    with pytest.raises(SeedError, match="BuilderConfig 'hi' not found"):
        seed_ids(plan, named, tmp_path)


def test_a_split_the_data_files_leave_out_is_a_clear_error(tmp_path: Path) -> None:
    _, export = write_branches(tmp_path / "hub")
    plan = compile_catalog(tmp_path)
    unit = with_seeds(
        plan.units[0], dataset=str(export), config=None, data_files={"train": ["ta/train/*"]}
    )
    assert seed_ids(plan, unit, tmp_path) == ["ta-train-0", "ta-train-1"]
    with pytest.raises(SeedError, match=r"cannot load .* \(test\)"):
        dc.build(unit, use_fixtures=False, root=tmp_path)


# --------------------------------------------- a benchmark in another dataset


def write_benchmark(repo: Path, items: list[dict[str, str]]) -> None:
    """A BBH-like repository: one config per task, rows {input, target}, `test` only."""
    write_parquet(repo / "data/logic_grid/test-00000-of-00001.parquet", items)
    write_parquet(repo / "data/other/test-00000-of-00001.parquet", [items[0]])
    (repo / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: logic_grid\n  data_files:\n"
        "  - split: test\n    path: data/logic_grid/test-*\n"
        "- config_name: other\n  data_files:\n"
        "  - split: test\n    path: data/other/test-*\n"
        "---\n"
    )


BENCHMARK = [
    {
        "input": "Three friends sit in a row at the cinema. Ana sits left of Ben, and Ben "
        "sits left of Cleo. Who sits in the middle of the row of three seats?",
        "target": "Ben",
    },
    {
        "input": "A red, a blue and a green box are stacked. The red box is above the blue "
        "one and the green box is below the blue one. Which box is on top of the stack?",
        "target": "the red box",
    },
]


def test_a_benchmark_in_another_dataset_is_checked_online(tmp_path: Path) -> None:
    """Decontamination reads the benchmark's own rows by the source's mapping and names
    it in reasons and in the manifest; offline it is skipped, and says so."""
    benchmark = tmp_path / "hub/bbh_like"
    write_benchmark(benchmark, BENCHMARK)
    seeds_repo = tmp_path / "hub/quiz"
    write_parquet(seeds_repo / "data/train-00000-of-00001.parquet", quiz_rows("train-", 2))
    write_parquet(seeds_repo / "data/test-00000-of-00001.parquet", quiz_rows("test-", 1))
    spec = SPEC + (
        "decontaminate:\n"
        "  sources:\n"
        "    - dataset: example/bbh_like\n"
        "      config: logic_grid\n"
        "      split: test\n"
        "      mapping: {question: input, answer: target}\n"
    )
    plan = compile_catalog(tmp_path, spec=spec)
    unit = plan.units[0]
    [source] = unit.decontaminate.sources
    assert source.dataset == "example/bbh_like"
    assert (source.config, source.split) == ("logic_grid", "test")
    assert source.mapping == {"question": "input", "answer": "target"}
    unit = with_sources(
        with_seeds(unit, dataset=str(seeds_repo)),
        [msgspec.structs.replace(source, dataset=str(benchmark))],
    )
    label = f"{benchmark}/logic_grid:test"

    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.index is not None
    assert built.info["items"] == {"test": 1, label: 2}
    assert built.info["sources"] == [label]
    reason = built.index.check({"question": BENCHMARK[1]["input"]})
    assert reason is not None and f"held-out {label} item #2" in reason
    assert built.index.check({"question": quiz_rows("fresh-", 1)[0]["question"]}) is None

    offline = dc.build(unit, use_fixtures=True, root=tmp_path)
    assert offline.index is None
    assert any("benchmark sources" in note for note in offline.info["skipped"])
    assert offline.info["sources"] == [label]


def test_a_benchmark_in_the_seed_format_maps_by_the_unit(tmp_path: Path) -> None:
    """Without a mapping of its own, a source's rows map as the unit's seeds do."""
    mirror = tmp_path / "hub/mirror"
    write_parquet(mirror / "data/test-00000-of-00001.parquet", quiz_rows("mirror-", 2))
    plan = compile_catalog(tmp_path)
    unit = with_sources(
        with_seeds(plan.units[0], dataset=str(tmp_path / "unused")),
        [PlanEvalSource(dataset=str(mirror), split="test")],
    )
    unit = msgspec.structs.replace(
        unit, decontaminate=msgspec.structs.replace(unit.decontaminate, splits=[])
    )
    built = dc.build(unit, use_fixtures=False, root=tmp_path)
    assert built.index is not None and built.info["items"] == {f"{mirror}:test": 2}
    reason = built.index.check({"question": quiz_rows("mirror-", 2)[0]["question"]})
    assert reason is not None and "item mirror-0" in reason
