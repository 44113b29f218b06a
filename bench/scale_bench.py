"""`make bench-scale`: one subtask at the job's real size, through the `taskseed run` CLI.

For each N (default 20,000 and 100,000): writes N synthetic multiple-choice seed rows
to a local JSONL file (and a few hundred held-out rows to decontaminate against),
compiles a one-task catalog that uses the catalog's own defaults and templates, and runs
it with `--engine bench.instant:make`, an in-process engine that answers every request
at once (`bench/instant.py`), so what is measured is the runtime itself. Printed per N:

- seeds per second (wall) and CPU milliseconds (user + system) per seed and per request;
- peak RSS of the run's process;
- ledger bytes per request (`ledger.sqlite` over the requests it holds);
- staged bytes per record (everything under `.work/` after the run, over the records
  staged before dedup);
- resume: a second run is killed with SIGKILL once about 70% of the clean run's
  requests are in its ledger, then started again; printed is the resumed run's CPU as
  a share of the clean run's, and whether its output is byte-identical to the clean
  run's;
- then, in this process, the ledger's lookup time (hits and misses through
  `Ledger.get`) in a ledger of 20,000 rows and in one of `--ledger-rows` (default
  2,000,000) rows of the same shape, to show that reading it on resume stays fast.

The CLI runs in a subprocess, so the same script measures any checkout: put another
tree's packages first on PYTHONPATH to measure it. Not a timed test; figures are of
this machine, this run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZES = (20_000, 100_000)
HELD_OUT = 300
KILL_AT = 0.7

SPEC = """\
extends: ../_multiple_choice.yaml
task: scale
title: Scale benchmark
domain: knowledge
source: {citation: "taskseed benchmark", license: CC0-1.0}
seeds:
  files: [seeds.jsonl]
  split: train
decontaminate:
  files: [heldout.jsonl]
mapping:
  id: id
  question: question
  choices: options
  answer: {index: gold}
answer_format: {type: multiple_choice, min_options: 4, max_options: 4}
"""


@dataclass
class Measured:
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    returncode: int


def rows(n: int, salt: str) -> list[str]:
    from bench.instant import words

    rng = random.Random(f"{salt}-{n}")
    out = []
    for i in range(n):
        row = {
            "id": f"{salt}{i}",
            "question": words(rng, rng.randint(12, 18)) + "?",
            "options": [words(rng, rng.randint(2, 3)) for _ in range(4)],
            "gold": rng.randrange(4),
        }
        out.append(json.dumps(row))
    return out


def write_inputs(root: Path, n: int) -> Path:
    catalog = root / "taskspecs"
    (catalog / "scale").mkdir(parents=True)
    for name in ("_defaults.yaml", "_multiple_choice.yaml"):
        shutil.copy(REPO / "taskspecs" / name, catalog / name)
    shutil.copytree(REPO / "taskspecs/_templates", catalog / "_templates")
    (catalog / "scale/scale.yaml").write_text(SPEC)
    (catalog / "scale/seeds.jsonl").write_text("\n".join(rows(n, "s")) + "\n")
    (catalog / "scale/heldout.jsonl").write_text("\n".join(rows(HELD_OUT, "h")) + "\n")
    plan = root / "plan.json"
    args = ["compile", str(catalog), "-o", str(plan), "--root", str(root)]
    compiled = subprocess.run(
        [sys.executable, "-m", "taskseed.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if compiled.returncode != 0:
        raise SystemExit(f"compile failed:\n{compiled.stdout}{compiled.stderr}")
    return plan


def command(plan: Path, root: Path, out: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "taskseed.cli",
        "run",
        str(plan),
        "--root",
        str(root),
        "-o",
        str(out),
        "--engine",
        "bench.instant:make",
        "--no-progress",
        *extra,
    ]


def ledger_rows(out: Path) -> int:
    path = out / "ledger.sqlite"
    if not path.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            # `answers` since the ledger keeps only what resume needs; `requests` before
            table = "answers" if "answers" in tables else "requests"
            return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def run(cmd: list[str], *, kill_at_rows: int | None = None, out: Path | None = None) -> Measured:
    """Run the CLI; with `kill_at_rows`, SIGKILL it once its ledger holds that many."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_at_rows is not None and out is not None:
        while proc.poll() is None:
            if ledger_rows(out) >= kill_at_rows:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.25)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, -signal.SIGKILL):
        raise SystemExit(f"the run failed ({proc.returncode}):\n{stderr[-3000:]}")
    return Measured(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
    )


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def output_digest(out: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted([*(out / "data").rglob("part-*"), *(out / "rejects").rglob("part-*")]):
        digest.update(path.relative_to(out).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def measure(n: int, extra: list[str], tmp: Path) -> dict[str, float | str]:
    root = tmp / f"n{n}"
    root.mkdir()
    plan = write_inputs(root, n)
    clean_out = root / "clean"
    clean = run(command(plan, root, clean_out, extra))
    manifest = json.loads((clean_out / "manifest.json").read_text())
    counts = manifest["counts"]
    requests = ledger_rows(clean_out)
    ledger_bytes = sum(p.stat().st_size for p in clean_out.glob("ledger.sqlite*") if p.is_file())
    staged = counts.get("verified", 0) + counts.get("enriched", 0)
    staged_bytes = folder_bytes(clean_out / ".work")

    resumed_out = root / "resumed"
    target = int(requests * KILL_AT)
    killed = run(command(plan, root, resumed_out, extra), kill_at_rows=target, out=resumed_out)
    at_kill = ledger_rows(resumed_out)
    resumed = run(command(plan, root, resumed_out, extra))
    identical = output_digest(resumed_out) == output_digest(clean_out)
    shutil.rmtree(root)
    return {
        "n": n,
        "seeds_per_s": n / clean.wall_s,
        "cpu_ms_per_seed": clean.cpu_s / n * 1000,
        "cpu_ms_per_request": clean.cpu_s / max(requests, 1) * 1000,
        "peak_rss_mb": clean.peak_rss_mb,
        "ledger_b_per_request": ledger_bytes / max(requests, 1),
        "staged_b_per_record": staged_bytes / max(staged, 1),
        "written": counts.get("written", 0),
        "requests": requests,
        "killed": "yes" if killed.returncode == -signal.SIGKILL else "no (finished first)",
        "killed_at": at_kill / max(requests, 1),
        "resume_cpu_share": resumed.cpu_s / clean.cpu_s,
        "resume_peak_rss_mb": resumed.peak_rss_mb,
        "identical": "yes" if identical else "NO",
    }


def ledger_lookups(rows: int, folder: Path) -> tuple[float, float]:
    """Microseconds per `Ledger.get`, for keys present and absent, in a ledger of `rows`
    answers shaped like the benchmark's (filled in one transaction)."""
    from taskseed.runtime.engines.base import Choice, Completion
    from taskseed.runtime.ledger import Ledger, ledger_key, pack

    path = folder / f"ledger-{rows}.sqlite"
    ledger = Ledger(path)
    rng = random.Random(rows)
    text = json.dumps({"question": "x" * 120, "choices": ["a b", "c d", "e f", "g h"]})
    answer = pack(Completion(choices=(Choice(text=text),) * 2, model="instant"))
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(rows)]
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO answers VALUES (?, ?, 100, 200, 0.01, 0)",
            ((ledger_key(k), answer) for k in keys),
        )
    conn.close()
    probes = 20_000
    hits = [keys[rng.randrange(rows)] for _ in range(probes)]
    misses = [hashlib.sha256(f"absent {i}".encode()).hexdigest() for i in range(probes)]
    timings = []
    for sample in (hits, misses):
        start = time.perf_counter()
        for key in sample:
            ledger.get(key)
        timings.append((time.perf_counter() - start) / probes * 1e6)
    ledger.close()
    path.unlink()
    return timings[0], timings[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(map(str, SIZES)), help="seed counts, comma-separated"
    )
    parser.add_argument(
        "--run-args", default="", help="extra `taskseed run` options, space-separated"
    )
    parser.add_argument(
        "--ledger-rows", type=int, default=2_000_000, help="rows of the large ledger (0: skip)"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    extra = args.run_args.split()
    with tempfile.TemporaryDirectory(prefix="taskseed-scale-") as name:
        tmp = Path(name)
        # A small run first: compiled code (numba) is cached on disk, imports warmed.
        warm = tmp / "warm"
        warm.mkdir()
        plan = write_inputs(warm, 300)
        run(command(plan, warm, warm / "out", extra))
        results = [measure(n, extra, tmp) for n in sizes]
        lookups = (
            [(n, ledger_lookups(n, tmp)) for n in (20_000, args.ledger_rows)]
            if args.ledger_rows
            else []
        )
    print("bench-scale: one subtask, local JSONL seeds, instant in-process engine, CLI run")
    print(
        f"{'seeds':>8} | {'seeds/s':>8} | {'CPU ms/seed':>11} | {'CPU ms/req':>10} | "
        f"{'peak RSS MB':>11} | {'ledger B/req':>12} | {'staged B/rec':>12} | "
        f"{'resume CPU':>10} | identical"
    )
    for r in results:
        print(
            f"{r['n']:>8} | {r['seeds_per_s']:>8.0f} | {r['cpu_ms_per_seed']:>11.2f} | "
            f"{r['cpu_ms_per_request']:>10.3f} | {r['peak_rss_mb']:>11.0f} | "
            f"{r['ledger_b_per_request']:>12.0f} | {r['staged_b_per_record']:>12.0f} | "
            f"{r['resume_cpu_share']:>10.1%} | {r['identical']}"
        )
    for r in results:
        print(
            f"  N={r['n']}: {r['requests']} requests, {r['written']} records written; "
            f"the killed run was stopped at {r['killed_at']:.0%} of the requests "
            f"(killed: {r['killed']}); resumed run peak RSS {r['resume_peak_rss_mb']:.0f} MB"
        )
    if len(results) >= 2:
        low, high = results[0], results[-1]
        growth = high["peak_rss_mb"] / low["peak_rss_mb"] - 1  # type: ignore[operator]
        print(
            f"peak RSS from N={low['n']} to N={high['n']}: {growth:+.0%} "
            "(target: within 25%, under 1,000 MB)"
        )
    for rows, (hit, miss) in lookups:
        print(f"ledger lookups at {rows:,} rows: {hit:.1f} us a hit, {miss:.1f} us a miss")


if __name__ == "__main__":
    main()
