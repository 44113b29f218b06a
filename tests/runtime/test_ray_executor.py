"""The Ray executor: a local Ray instance started by the test (2 CPUs), the embedded
engine in each shard, and an output equal to a local run's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from taskseed.runtime.ray_executor import shard_plan
from tests.runtime.engines.servers import free_port
from tests.runtime.funnel import check_funnel, read_jsonl

REPO = Path(__file__).resolve().parents[2]
SPECS = [
    "taskspecs/knowledge/sciq.yaml",
    "taskspecs/reasoning/arc.yaml",
    "taskspecs/reasoning/gsm8k.yaml",
]
COMMON = [
    "--fixtures",
    "--tasks",
    "arc/easy,sciq,gsm8k",
    "--limit-seeds",
    "2",
    "--max-tokens",
    "120",
    "--no-progress",
]


def taskseed(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskseed.cli", "run", *SPECS, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env=env,
    )


def test_shards_are_dealt_round_robin_in_id_order() -> None:
    ids = [f"t/{4 - index}" for index in range(5)]
    assert shard_plan(ids, 2) == [["t/0", "t/2", "t/4"], ["t/1", "t/3"]]
    assert shard_plan(ids, 9) == [["t/0"], ["t/1"], ["t/2"], ["t/3"], ["t/4"]]


@pytest.mark.model
def test_ray_run_equals_local_run(tmp_path: Path) -> None:
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray is not None, "the ray command comes with taskseed[ray]"
    port = free_port()
    # A throwaway cluster on loopback: no token authentication (Ray's documented opt-out).
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    started = subprocess.run(
        [
            ray,
            "start",
            "--head",
            "--num-cpus",
            "2",
            "--port",
            str(port),
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    try:
        local = taskseed(*COMMON, "-o", str(tmp_path / "local"))
        assert local.returncode == 0, local.stderr
        sharded = taskseed(
            *COMMON,
            "-o",
            str(tmp_path / "ray"),
            "--executor",
            "ray",
            "--address",
            f"127.0.0.1:{port}",
            env=env,
        )
        assert sharded.returncode == 0, sharded.stderr
    finally:
        subprocess.run(
            [ray, "stop", "--force"], capture_output=True, env=env, timeout=120, check=False
        )

    assert read_jsonl(tmp_path / "ray/data") == read_jsonl(tmp_path / "local/data")
    assert read_jsonl(tmp_path / "ray/rejects") == read_jsonl(tmp_path / "local/rejects")
    manifest = check_funnel(tmp_path / "ray")
    assert manifest["counts"] == check_funnel(tmp_path / "local")["counts"]
    assert manifest["executor"]["name"] == "ray" and len(manifest["executor"]["shards"]) == 2
    ledgers = sorted((tmp_path / "ray/shards").glob("shard-*/ledger.sqlite"))
    assert len(ledgers) == 2

    # The Ray run's output folder resumes locally: every unit is staged, nothing is sent.
    again = taskseed(*COMMON, "-o", str(tmp_path / "ray"))
    assert again.returncode == 0, again.stderr
    resumed = json.loads((tmp_path / "ray/manifest.json").read_text())
    assert resumed["tokens"]["sent_this_run"] == 0
    assert resumed["run"]["resumed_units"] == 3
    assert read_jsonl(tmp_path / "ray/data") == read_jsonl(tmp_path / "local/data")
