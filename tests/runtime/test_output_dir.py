"""The output folder is owned: a run writes only into a new or empty folder or one a
taskseed run created, one run at a time; a file or a read-only folder is a clear error;
the plan is replaced only with the manifest; files follow the umask."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.output_dir import LOCK, MARKER, OutputFolder, OutputFolderError
from tests.runtime.catalog import write_catalog

REPO = Path(__file__).resolve().parents[2]


def test_a_new_or_empty_folder_is_claimed_and_marked(tmp_path: Path) -> None:
    for out in (tmp_path / "new/nested", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        with OutputFolder(out):
            assert (out / MARKER).is_file()
        with OutputFolder(out):  # and claimed again: it is taskseed's now
            pass


def test_an_unrelated_folder_is_left_alone_without_force(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    (out / "data").mkdir(parents=True)
    (out / "plan.json").write_text("my own plan")
    (out / "data/part-00000.jsonl").write_text("my own data\n")
    with pytest.raises(OutputFolderError, match="not empty and was not written by taskseed"):
        OutputFolder(out).claim()
    assert (out / "plan.json").read_text() == "my own plan"
    assert sorted(p.name for p in out.rglob("*")) == ["data", "part-00000.jsonl", "plan.json"]
    with OutputFolder(out, force=True):
        assert (out / MARKER).is_file()


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file, not a folder"):
        OutputFolder(tmp_path / "out").claim()


def test_one_run_at_a_time(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with OutputFolder(out), pytest.raises(OutputFolderError) as caught:
        OutputFolder(out).claim()
    assert f"another taskseed run (process {os.getpid()}) is writing to {out}" in str(caught.value)
    with OutputFolder(out):  # released when the first one ended
        pass


def test_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.json", b"{}")
        os.umask(0o077)
        write_atomic(tmp_path / "b.json", b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600


# ------------------------------------------------------------ the command line


def taskseed(root: Path, *args: str, prefix: tuple[str, ...] = ()) -> list[str]:
    return [
        *prefix,
        sys.executable,
        "-m",
        "taskseed.cli",
        "run",
        str(root / "taskspecs"),
        "--fixtures",
        "--root",
        str(root),
        "--engine",
        "tests.runtime.scripted:make",
        "--no-progress",
        *args,
    ]


def run(cmd: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def one_line_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("taskseed: error:")]
    assert len(errors) == 1 and fragment in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_refuses_a_file_an_unrelated_folder_and_a_read_only_folder(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    (tmp_path / "file").write_text("x")
    one_line_error(run(taskseed(tmp_path, "-o", str(tmp_path / "file"))), "is a file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/notes.txt").write_text("keep me")
    proc = run(taskseed(tmp_path, "-o", str(tmp_path / "other")))
    one_line_error(proc, "pass --force")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["notes.txt"]
    assert run(taskseed(tmp_path, "-o", str(tmp_path / "other"), "--force")).returncode == 0
    assert (tmp_path / "other/notes.txt").read_text() == "keep me"

    read_only = tmp_path / "read-only"
    read_only.mkdir()
    read_only.chmod(0o555)
    # root writes anywhere: run it without the capabilities that override permissions
    prefix = (
        ("setpriv", "--bounding-set=-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    )
    try:
        proc = run(taskseed(tmp_path, "-o", str(read_only), prefix=prefix))
        one_line_error(proc, f"cannot write to output folder {read_only}: Permission denied")
        proc = run(taskseed(tmp_path, "-o", str(read_only / "sub"), prefix=prefix))
        one_line_error(proc, "cannot create output folder")
    finally:
        read_only.chmod(0o755)


def test_cli_refuses_a_second_run_and_keeps_the_plan_until_the_manifest(tmp_path: Path) -> None:
    write_catalog(tmp_path)
    out = tmp_path / "out"
    assert run(taskseed(tmp_path, "-o", str(out))).returncode == 0
    old_plan = (out / "plan.json").read_bytes()
    old_manifest = (out / "manifest.json").read_bytes()
    # Change the plan, start a slow run, and look while it runs.
    spec = tmp_path / "taskspecs/knowledge/quiz.yaml"
    spec.write_text(spec.read_text().replace("title: Quiz", "title: Quiz, revised"))
    slow = subprocess.Popen(
        taskseed(tmp_path, "-o", str(out), "--seed", "7"),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "TASKSEED_TEST_DELAY": "30"},  # it cannot finish while we look
    )
    try:
        deadline = time.monotonic() + 120
        while (
            not (out / ".work/plan.json").exists() or (out / ".work/plan.json").read_bytes() == b""
        ):
            assert slow.poll() is None and time.monotonic() < deadline, "the slow run did not start"
            time.sleep(0.05)
        one_line_error(run(taskseed(tmp_path, "-o", str(out))), "another taskseed run (process")
        # the running run's plan waits under .work/ until its manifest is written
        assert (out / "plan.json").read_bytes() == old_plan
        assert (out / "manifest.json").read_bytes() == old_manifest
        slow.send_signal(signal.SIGKILL)
        slow.wait()
        assert (out / "plan.json").read_bytes() == old_plan  # a crash changes neither
        assert (out / "manifest.json").read_bytes() == old_manifest
        assert (out / LOCK).exists()
        # the lock went with the killed process: the next run finishes, plan and manifest
        assert run(taskseed(tmp_path, "-o", str(out), "--seed", "7")).returncode == 0
        manifest = json.loads((out / "manifest.json").read_text())
        plan = json.loads((out / "plan.json").read_text())
        assert (
            plan["fingerprint"]
            == manifest["plan"]["fingerprint"]
            != json.loads(old_plan)["fingerprint"]
        )
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
        shutil.rmtree(out, ignore_errors=True)
