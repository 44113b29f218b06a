"""Kill a run with SIGKILL at several points, start it again, compare with a clean run.

The restarted run must finish with the same records and rejects as a run that was never
killed, leave no torn file, and never send a request whose answer was already in the
ledger when it started. Once on the scripted engine (fast, many kill points) and once
on the real embedded model.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.catalog import write_catalog
from tests.runtime.funnel import check_funnel, read_jsonl

REPO = Path(__file__).resolve().parents[2]


def command(inputs: str, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "taskseed.cli",
        "run",
        inputs,
        "--fixtures",
        "-o",
        str(out),
        "--no-progress",
        "--engine",
        "tests.runtime.recording:make",
        *extra,
    ]


def ledger_keys(out: Path) -> set[str]:
    path = out / "ledger.sqlite"
    if not path.exists():
        return set()
    try:
        with sqlite3.connect(path) as conn:
            return {row[0] for row in conn.execute("SELECT key FROM requests")}
    except sqlite3.OperationalError:  # the run has created the file but not the table yet
        return set()


def start(cmd: list[str], env: dict[str, str], tag: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": tag},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_after(proc: subprocess.Popen[bytes], out: Path, answered: int, limit_s: float) -> bool:
    """SIGKILL once the ledger holds `answered` answers; False if the run ended first."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            stderr = proc.stderr.read().decode() if proc.stderr else ""
            assert proc.returncode == 0, f"the run failed before the kill: {stderr}"
            return False
        if len(ledger_keys(out)) >= answered:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("the run made no progress")


def outputs(out: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    return read_jsonl(out / "data"), read_jsonl(out / "rejects")


def kill_and_resume(
    cmd_for: callable,
    env: dict[str, str],
    tmp: Path,  # type: ignore[valid-type]
    kill_points: list[int],
    limit_s: float,
) -> None:
    reference = tmp / "reference"
    proc = subprocess.run(
        cmd_for(reference),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": "ref"},
        capture_output=True,
        timeout=limit_s,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = tmp / "killed"
    known_before: dict[str, set[str]] = {}
    kills = 0
    for index, answered in enumerate(kill_points):
        tag = f"run{index}"
        known_before[tag] = ledger_keys(out)
        proc2 = start(cmd_for(out), env, tag)
        kills += kill_after(proc2, out, answered, limit_s)
    tag = "final"
    known_before[tag] = ledger_keys(out)
    final = subprocess.run(
        cmd_for(out),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": tag},
        capture_output=True,
        timeout=limit_s,
    )
    assert final.returncode == 0, final.stderr.decode()
    assert kills >= 2, "the kill points came too late to interrupt the run"

    # Same dataset, same rejects, same counts as the run that was never killed.
    assert outputs(out) == outputs(reference)
    manifest = check_funnel(out)
    assert manifest["counts"] == check_funnel(reference)["counts"]
    assert manifest["run"]["resumed_units"] >= 0
    # No request whose answer was in the ledger when a run started was sent by that run.
    sent: dict[str, list[str]] = {}
    for line in (tmp / "sent.log").read_text().splitlines():
        run_tag, key = line.split()
        sent.setdefault(run_tag, []).append(key)
    for run_tag, keys in sent.items():
        if run_tag == "ref":
            continue
        assert not set(keys) & known_before[run_tag], f"{run_tag} re-sent a completed request"
    # And no torn file: everything under the output folder parses.
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    assert not list(out.rglob("part-*.tmp"))


def test_kill_and_resume_scripted(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    env = {
        **os.environ,
        "TASKSEED_INNER_ENGINE": "tests.runtime.scripted:make",
        "TASKSEED_TEST_DELAY": "0.15",
        "TASKSEED_SEND_LOG": str(tmp_path / "sent.log"),
    }

    def cmd_for(out: Path) -> list[str]:
        return command(str(tmp_path / "taskspecs"), out, "--root", str(tmp_path))

    kill_and_resume(cmd_for, env, tmp_path, kill_points=[2, 6, 11, 17], limit_s=120)


@pytest.mark.model
def test_kill_and_resume_embedded_model(tmp_path: Path) -> None:
    env = {**os.environ, "TASKSEED_SEND_LOG": str(tmp_path / "sent.log")}

    def cmd_for(out: Path) -> list[str]:
        return command(
            "taskspecs",
            out,
            "--tasks",
            "arc/easy,gsm8k",
            "--limit-seeds",
            "2",
            "--max-tokens",
            "120",
        )

    kill_and_resume(cmd_for, env, tmp_path, kill_points=[2, 5], limit_s=300)
