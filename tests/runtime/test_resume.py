"""Kill a run with SIGKILL at random points, start it again, compare with a clean run.

The units run in many small slices, so the kills land between and inside slices. The
restarted run must finish with byte-identical data and rejects files and the same
counts as a run that was never killed, leave no torn file, resume at the committed
slices, and never send a request whose answer was already in the ledger when it
started. Several trials on the scripted engine (fast, many kill points), and once on
the real embedded model.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.runtime.catalog import quiz_rows, write_catalog
from tests.runtime.funnel import check_funnel

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


def ledger_keys(out: Path) -> set[bytes]:
    path = out / "ledger.sqlite"
    if not path.exists():
        return set()
    try:
        with sqlite3.connect(path) as conn:
            return {row[0] for row in conn.execute("SELECT key FROM answers")}
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
        time.sleep(0.01)
    proc.kill()
    raise AssertionError("the run made no progress")


def files(out: Path) -> dict[str, bytes]:
    """The dataset and rejects files, byte for byte."""
    found = [*(out / "data").rglob("part-*"), *(out / "rejects").rglob("part-*")]
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(found)}


def sent_by_run(log: Path) -> dict[str, list[bytes]]:
    sent: dict[str, list[bytes]] = {}
    for line in log.read_text().splitlines():
        run_tag, key = line.split()
        sent.setdefault(run_tag, []).append(bytes.fromhex(key)[:16])
    return sent


def kill_and_resume(
    cmd_for: Callable[[Path], list[str]],
    env: dict[str, str],
    out: Path,
    reference: Path,
    kill_points: list[int],
    limit_s: float,
    log: Path,
) -> dict[str, object]:
    """Kill a run at each point in turn, finish it, compare it with `reference`."""
    known_before: dict[str, set[bytes]] = {}
    kills = 0
    for index, answered in enumerate(kill_points):
        tag = f"{out.name}-run{index}"
        known_before[tag] = ledger_keys(out)
        kills += kill_after(start(cmd_for(out), env, tag), out, answered, limit_s)
    tag = f"{out.name}-final"
    known_before[tag] = ledger_keys(out)
    final = subprocess.run(
        cmd_for(out),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": tag},
        capture_output=True,
        timeout=limit_s,
    )
    assert final.returncode == 0, final.stderr.decode()
    assert kills >= 1, "the kill points came too late to interrupt the run"

    # Byte for byte the dataset and rejects of the run that was never killed.
    assert files(out) == files(reference)
    manifest = check_funnel(out)
    assert manifest["counts"] == check_funnel(reference)["counts"]
    # No request whose answer was in the ledger when a run started was sent by that run.
    for run_tag, keys in sent_by_run(log).items():
        if run_tag in known_before:
            assert not set(keys) & known_before[run_tag], f"{run_tag} re-sent a request"
    # And no torn file: everything under the output folder parses.
    for path in out.rglob("*.json"):
        json.loads(path.read_text())
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".tmp-slice-*"))
    return manifest


def test_kill_and_resume_at_random_points(tmp_path: Path) -> None:
    write_catalog(tmp_path, rows=quiz_rows(36))
    log = tmp_path / "sent.log"
    env = {
        **os.environ,
        "TASKSEED_INNER_ENGINE": "tests.runtime.scripted:make",
        "TASKSEED_TEST_DELAY": "0.03",
        "TASKSEED_SEND_LOG": str(log),
    }

    def cmd_for(out: Path) -> list[str]:
        catalog = str(tmp_path / "taskspecs")
        return command(catalog, out, "--root", str(tmp_path), "--slice-size", "4")

    reference = tmp_path / "reference"
    clean = subprocess.run(
        cmd_for(reference),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": "ref"},
        capture_output=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr.decode()
    total = len(ledger_keys(reference))
    assert (
        json.loads((reference / "manifest.json").read_text())["units"]["quiz/default"]["slices"]
        == 9
    )
    rng = random.Random(20261201)
    resumed_slices = 0
    for trial in range(4):
        points = sorted(rng.sample(range(2, total - 5), 2))
        manifest = kill_and_resume(
            cmd_for, env, tmp_path / f"trial{trial}", reference, points, 300, log
        )
        run = manifest["run"]
        assert isinstance(run, dict)
        resumed_slices += run["resumed_slices"]
    assert resumed_slices > 0, "no run resumed at a committed slice"


@pytest.mark.model
def test_kill_and_resume_embedded_model(tmp_path: Path) -> None:
    log = tmp_path / "sent.log"
    env = {**os.environ, "TASKSEED_SEND_LOG": str(log)}

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
            "--slice-size",
            "1",
        )

    reference = tmp_path / "reference"
    clean = subprocess.run(
        cmd_for(reference),
        cwd=REPO,
        env={**env, "TASKSEED_RUN_TAG": "ref"},
        capture_output=True,
        timeout=300,
    )
    assert clean.returncode == 0, clean.stderr.decode()
    kill_and_resume(cmd_for, env, tmp_path / "killed", reference, [2, 5], 300, log)
