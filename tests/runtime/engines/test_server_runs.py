"""Whole runs through OpenAI-compatible servers started on loopback by the tests.

- Against the fake server with 20% of requests failing (errors, 429s, slow answers,
  dropped connections, truncated bodies): the run completes and its dataset, rejects
  and counts equal those of a run where nothing failed.
- Against the fake server refusing n > 1 as trtllm-serve 1.0 does: the engine splits the
  votes into one request each and the run writes exactly what it writes against a server
  that answers one choice per request (whose follow-ups carry the same seeds).
- Against llama-cpp-python's real server with the embedded model: the same kind of
  output as the embedded engine's run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.catalog import write_catalog
from tests.runtime.engines.servers import fake_server, llama_server
from tests.runtime.funnel import check_funnel, read_jsonl

REPO = Path(__file__).resolve().parents[3]


def taskseed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def served_run(tmp: Path, name: str, url: str, *extra: str) -> Path:
    out = tmp / name
    proc = taskseed(
        "run",
        str(tmp / "taskspecs"),
        "--root",
        str(tmp),
        "--fixtures",
        "-o",
        str(out),
        "--no-progress",
        "--engine",
        "openai",
        "--base-url",
        url,
        "--model",
        "fake",
        *extra,
    )
    assert proc.returncode == 0, proc.stderr
    return out


def test_twenty_percent_failures_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    rows = [
        {
            "id": f"s{i}",
            "question": f"Which device number {i} measures {word} in a lab?",
            "options": [f"{word} meter {i}", f"{word} gauge {i}", f"{word} scale {i}"],
            "gold": i % 3,
        }
        for i, word in enumerate(["heat", "light", "sound", "mass", "time"] * 8)
    ]
    write_catalog(tmp_path, rows=rows)
    with fake_server() as url:
        clean = served_run(tmp_path, "clean", url)
    with fake_server("--fault-rate", "0.2", "--slow-s", "3", "--seed", "11") as url:
        faulty = served_run(tmp_path, "faulty", url, "--timeout", "0.5")
        stats = json.loads(taskseed_stats(url))
    assert stats["requests"] > stats["answered"] > 0  # faults really happened
    for fault in ("500", "503", "429", "slow", "drop", "truncate"):
        assert stats.get(fault, 0) > 0, (fault, stats)
    assert read_jsonl(faulty / "data") == read_jsonl(clean / "data")
    assert read_jsonl(faulty / "rejects") == read_jsonl(clean / "rejects")
    manifest = check_funnel(faulty)
    assert manifest["counts"] == check_funnel(clean)["counts"]
    assert manifest["counts"]["written"] > 0
    assert sum(manifest["engine"]["retries"].values()) > 0


def test_a_server_that_refuses_n_gives_the_same_run(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    with fake_server("--max-n", "1") as url:
        one_choice = served_run(tmp_path, "one-choice", url)
    with fake_server("--refuse-n") as url:
        refusing = served_run(tmp_path, "refusing", url, "--guided", "trtllm")
        stats = json.loads(taskseed_stats(url))
    assert stats["refused_n"] >= 1  # the votes were asked for together first
    manifest = check_funnel(refusing)
    assert manifest["engine"]["split_n"] is True
    assert "Multiple response is not supported" in manifest["engine"]["split_reason"]
    assert manifest["counts"] == check_funnel(one_choice)["counts"]
    assert manifest["counts"]["verified"] > 0  # votes were cast
    assert read_jsonl(refusing / "data") == read_jsonl(one_choice / "data")
    assert read_jsonl(refusing / "rejects") == read_jsonl(one_choice / "rejects")


def taskseed_stats(url: str) -> str:
    import urllib.request

    return urllib.request.urlopen(url.replace("/v1", "/stats"), timeout=5).read().decode()


@pytest.mark.model
def test_llama_cpp_server_gives_the_same_kind_of_output(tmp_path: Path) -> None:
    common = [
        "run",
        "taskspecs",
        "--fixtures",
        "--tasks",
        "arc/easy,sciq",
        "--limit-seeds",
        "2",
        "--max-tokens",
        "160",
        "--no-progress",
    ]
    embedded = taskseed(*common, "-o", str(tmp_path / "embedded"))
    assert embedded.returncode == 0, embedded.stderr
    with llama_server() as url:
        served = taskseed(
            *common,
            "-o",
            str(tmp_path / "served"),
            "--engine",
            "openai",
            "--base-url",
            url,
            "--model",
            "smollm2",
            "--guided",
            "llama-cpp",
            "--extra-body",
            '{"repeat_penalty": 1.0}',
        )
    assert served.returncode == 0, served.stderr
    a, b = check_funnel(tmp_path / "embedded"), check_funnel(tmp_path / "served")
    assert b["engine"]["engine"] == "openai" and a["engine"]["engine"] == "llama-cpp"
    for stage in ("seeds", "normalized", "generated"):
        assert a["counts"][stage] == b["counts"][stage], stage
    assert b["counts"]["parsed"] > 0
    records = read_jsonl(tmp_path / "served/data")
    reference = read_jsonl(tmp_path / "embedded/data")
    keys = {key for record in reference for key in record} - {"model"}
    for record in records:
        assert set(record) - {"model"} <= keys | {"context", "rationale", "parent_id"}
        assert record["choices"][record["answer_index"]] == record["answer"]
