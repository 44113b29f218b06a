"""out/ is a Hugging Face dataset: a card whose metadata `datasets` loads it by."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from ruamel.yaml import YAML

from taskseed.contract.records import OutputRecord
from taskseed.runtime.dataset_card import (
    FIELDS,
    licence_id,
    metadata,
    render_card,
    size_category,
)
from tests.runtime.sample_run import catalog_plan, sample_run


def run_in(tmp: Path, **kwargs: Any) -> Path:
    previous = os.umask(0o022)
    try:
        out = tmp / "out"
        sample_run(out, **kwargs)
        return out
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield run_in(tmp_path_factory.mktemp("card"))


def front_matter(text: str) -> dict[str, Any]:
    assert text.startswith("---\n")
    head = text[4 : text.index("\n---\n", 4)]
    loaded: dict[str, Any] = YAML(typ="safe", pure=True).load(io.StringIO(head))
    return loaded


def manifest_of(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return loaded


def family_records(manifest: dict[str, Any]) -> dict[str, int]:
    records: dict[str, int] = {}
    for entry in manifest["files"]:
        family = entry["path"].split("/")[1]
        records[family] = records.get(family, 0) + entry["records"]
    return records


def test_the_card_describes_the_run(out: Path) -> None:
    manifest = manifest_of(out)
    records = family_records(manifest)
    assert records.get("multiple_choice", 0) > 0 and records.get("generative", 0) > 0
    text = (out / "README.md").read_text()
    meta = front_matter(text)
    assert meta["configs"] == [
        {
            "config_name": "multiple_choice",
            "data_files": [{"split": "train", "path": "data/multiple_choice/part-*.jsonl"}],
            "default": True,
        },
        {
            "config_name": "generative",
            "data_files": [{"split": "train", "path": "data/generative/part-*.jsonl"}],
        },
    ]
    assert meta["license"] == ["cc-by-sa-4.0", "mit"]  # ARC and GSM8K
    assert meta["size_categories"] == ["n<1K"]
    assert meta["task_categories"] == ["multiple-choice", "question-answering", "text-generation"]
    assert "language" not in meta  # this plan does not record languages
    plan = catalog_plan()
    assert plan.fingerprint in text and manifest["plan"]["fingerprint"] == plan.fingerprint
    assert "| model | scripted |" in text
    for unit_id in manifest["units"]:
        unit = plan.unit(unit_id)
        assert unit.source.citation in text
    written = sum(records.values())
    assert f"| records | {written} (multiple_choice {records['multiple_choice']}" in text
    seeds = sum(u["counts"]["seeds"] for u in manifest["units"].values())
    assert f"| **all** | {seeds} |" in text  # the funnel's total row starts with the seeds


LOAD = """
import json, sys
from datasets import load_dataset
out = sys.argv[1]
loaded = {"default": load_dataset(out, split="train")}
for name in ("multiple_choice", "generative"):
    loaded[name] = load_dataset(out, name, split="train")
print(json.dumps({k: {"rows": d.num_rows, "columns": sorted(d.column_names),
                      "ids": sorted(d["id"])} for k, d in loaded.items()}))
"""


def load_with_datasets(out: Path, hf_home: Path) -> dict[str, Any]:
    """`load_dataset(<out>)`, by default and per config, in a fresh process with the Hub
    switched off and an empty cache."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(hf_home)}
    proc = subprocess.run(
        [sys.executable, "-c", LOAD, str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return loaded


def written_ids(out: Path) -> dict[str, list[str]]:
    import polars as pl

    ids: dict[str, list[str]] = {}
    for family in ("multiple_choice", "generative"):
        frames = [pl.read_ndjson(p) for p in sorted((out / "data" / family).glob("part-*.jsonl"))]
        frames += [
            pl.read_parquet(p) for p in sorted((out / "data" / family).glob("part-*.parquet"))
        ]
        ids[family] = sorted(i for frame in frames for i in frame["id"].to_list())
    return ids


def check_loads(out: Path, hf_home: Path) -> dict[str, Any]:
    loaded = load_with_datasets(out, hf_home)
    records = family_records(manifest_of(out))
    ids = written_ids(out)
    for family in ("multiple_choice", "generative"):
        assert loaded[family]["rows"] == records[family] == len(ids[family])
        assert loaded[family]["ids"] == ids[family]
    assert loaded["default"] == loaded["multiple_choice"]
    return loaded


def test_out_loads_with_datasets_offline(out: Path, tmp_path: Path) -> None:
    loaded = check_loads(out, tmp_path / "hf")
    assert {"question", "answer", "choices", "verification"} <= set(
        loaded["multiple_choice"]["columns"]
    )


def test_parquet_shards_load_too(tmp_path: Path) -> None:
    out = run_in(tmp_path, fmt="parquet", shard_size=3)
    meta = front_matter((out / "README.md").read_text())
    assert [c["data_files"][0]["path"] for c in meta["configs"]] == [
        "data/multiple_choice/part-*.parquet",
        "data/generative/part-*.parquet",
    ]
    assert len(list((out / "data/generative").glob("part-*.parquet"))) > 1  # several shards
    check_loads(out, tmp_path / "hf")


def test_no_output_file_is_private(out: Path) -> None:
    """Under umask 022 every file of the run is readable by the group and others."""
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"README.md", "report.html", "manifest.json", "plan.json"} <= {p.name for p in files}
    private = {p.relative_to(out).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert {k: v for k, v in private.items() if v != "0o644"} == {}


def test_licences_without_a_hub_id_become_other_with_the_list_in_the_body() -> None:
    plan = catalog_plan()
    manifest = manifest_for(plan, ["arc/easy", "gsm8k/default"])
    gsm8k = plan.unit("gsm8k/default")
    odd = msgspec.structs.replace(
        gsm8k, source=msgspec.structs.replace(gsm8k.source, license="CC-BY-ND-2.0")
    )
    plan = msgspec.structs.replace(plan, units=[odd if u.id == odd.id else u for u in plan.units])
    text = render_card(plan, manifest)
    meta = front_matter(text)
    assert meta["license"] == "other" and meta["license_name"] == "seed-dataset-licences"
    assert "- CC-BY-ND-2.0: `gsm8k`" in text and "- CC-BY-SA-4.0: `arc`" in text
    assert "this list is what it stands for" in text


def test_tasks_without_records_lend_no_licence_or_citation() -> None:
    plan = catalog_plan()
    manifest = manifest_for(plan, ["arc/easy", "gsm8k/default"])
    manifest["units"]["gsm8k/default"]["counts"]["written"] = 0
    text = render_card(plan, manifest)
    assert front_matter(text)["license"] == "cc-by-sa-4.0"
    assert plan.unit("gsm8k/default").source.citation not in text
    assert plan.unit("arc/easy").source.citation in text
    assert "| `gsm8k` | Grade School Math 8K |" in text  # still listed among the tasks run


def test_unknown_licences_are_shown_explicitly() -> None:
    plan = catalog_plan()
    unknown = [u.id for u in plan.units if licence_id(u.source.license) == "unknown"][:1]
    assert unknown, "the catalog has tasks of unknown licence"
    manifest = manifest_for(plan, unknown)
    meta = front_matter(render_card(plan, manifest))
    assert meta["license"] == "unknown"
    assert "unknown: check the seed dataset's terms before use" in render_card(plan, manifest)


def test_languages_when_the_plan_records_them() -> None:
    """Units that carry a `language` (a later plan field) give the card's `language`."""
    plan = catalog_plan()

    class WithLanguage:
        def __init__(self, unit: Any, language: Any) -> None:
            self._unit, self.language = unit, language

        def __getattr__(self, name: str) -> Any:
            return getattr(self._unit, name)

    units = [
        WithLanguage(plan.unit("arc/easy"), "en"),
        WithLanguage(plan.unit("gsm8k/default"), ["en", "fr"]),
    ]
    fake = msgspec.structs.replace(plan, units=units)  # not validated: duck-typed units
    meta = metadata(fake, manifest_for(plan, ["arc/easy", "gsm8k/default"]))
    assert meta["language"] == ["en", "fr"]


def test_size_categories_and_licence_ids() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 123_456, 10**13)] == [
        "n<1K",
        "n<1K",
        "1K<n<10K",
        "100K<n<1M",
        "n>1T",
    ]
    assert licence_id("CC-BY-SA-4.0") == "cc-by-sa-4.0"
    assert licence_id("unknown (the card says unknown)") == "unknown"
    assert licence_id("other (research use only)") == "other"
    assert licence_id("CC-BY-ND-2.0") == ""


def test_every_record_field_is_described() -> None:
    names = {f.name for f in msgspec.structs.fields(OutputRecord)}
    assert names == set(FIELDS)


def manifest_for(plan: Any, unit_ids: list[str]) -> dict[str, Any]:
    """A manifest of the shape finalize writes, for units that each wrote two records."""
    return {
        "engine": {"engine": "llama-cpp", "model": "SmolLM2-135M-Instruct"},
        "run": {"fixtures": True, "limit_seeds": 3, "seed": 0},
        "units": {
            uid: {"fingerprint": plan.unit(uid).fingerprint, "counts": {"seeds": 3, "written": 2}}
            for uid in unit_ids
        },
        "files": [{"path": "data/multiple_choice/part-00000.jsonl", "records": 2 * len(unit_ids)}],
        "rejects": {"files": [], "by_stage": {}},
    }
