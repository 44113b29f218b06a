"""`make bench-compile`: validate and compile a catalog of about 700 subtasks.

Uses the real catalog when it has at least 650 subtasks; otherwise builds one by
copying the real tasks under new names until it reaches 700. Prints, each as a median
of several runs and beside its target:

- in process: validate + compile + encode in a fresh interpreter, after its imports, so
  that no cache of an earlier compile helps (the first compile a user's process does);
- a fresh `taskseed compile` command, start-up and writing plan.json included;
- for reference, a repeated compile in one process (caches warm) and a bare Python
  start-up, measured in the same run.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import encode

REPO = Path(__file__).resolve().parent.parent
TARGET_UNITS = 700
RUNS = 7


def build_catalog(dest: Path) -> Path:
    catalog = dest / "taskspecs"
    shutil.copytree(REPO / "taskspecs", catalog)
    result = compile_paths([catalog], root=dest)
    units = len(result.units)
    if units >= 650:
        return catalog
    # Copy task files under new names, in a fixed order, until there are 700 subtasks.
    per_file: dict[str, int] = {}
    for unit in result.plan.units if result.plan is not None else []:
        per_file[unit.origin] = per_file.get(unit.origin, 0) + 1
    specs = sorted(per_file)
    copy = 0
    while units < TARGET_UNITS:
        copy += 1
        for origin in specs:
            spec = dest / origin
            text = spec.read_text(encoding="utf-8")
            lines = [
                f"{line}_copy{copy}" if line.startswith("task: ") else line
                for line in text.splitlines()
            ]
            spec.with_name(f"{spec.stem}_copy{copy}.yaml").write_text("\n".join(lines) + "\n")
            units += per_file[origin]
            if units >= TARGET_UNITS:
                break
    return catalog


# Run in a fresh interpreter: import, then time one validate + compile + encode.
COLD = """
import sys, time
from pathlib import Path
from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import encode
start = time.perf_counter()
result = compile_paths([sys.argv[1]], root=Path(sys.argv[2]))
assert result.plan is not None
encode(result.plan)
print(time.perf_counter() - start)
"""


def median_seconds(fn: object, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        catalog = build_catalog(root)
        result = compile_paths([catalog], root=root)
        assert result.plan is not None, "the benchmark catalog must compile clean"
        units = len(result.plan.units)
        tasks = len({u.task for u in result.plan.units})
        files = len(result.files)
        source = (
            "real catalog"
            if "_copy" not in "".join(u.task for u in result.units)
            else ("real catalog, tasks copied under new names")
        )

        def in_process() -> None:
            compiled = compile_paths([catalog], root=root)
            assert compiled.plan is not None
            encode(compiled.plan)

        taskseed = Path(sys.executable).parent / "taskseed"
        out = root / "plan.json"

        def fresh_command() -> None:
            subprocess.run(
                [str(taskseed), "compile", str(catalog), "-o", str(out), "--root", str(root)],
                check=True,
                capture_output=True,
            )

        def bare_python() -> None:
            subprocess.run([sys.executable, "-c", "pass"], check=True)

        def cold_in_process() -> float:
            proc = subprocess.run(
                [sys.executable, "-c", COLD, str(catalog), str(root)],
                check=True,
                capture_output=True,
                text=True,
            )
            return float(proc.stdout.strip())

        in_process()  # warm the file cache
        t_in = statistics.median(cold_in_process() for _ in range(RUNS))
        t_warm = median_seconds(in_process)
        t_cmd = median_seconds(fresh_command)
        t_py = median_seconds(bare_python)

    print(f"catalog: {units} subtasks, {tasks} tasks, {files} files ({source})")
    print(f"median of {RUNS} runs on this machine")
    print(
        f"  validate + compile, in process : {t_in:6.3f} s   target < 1.0 s  "
        f"({t_in / 1.0:4.0%} of budget; first compile in a fresh interpreter)"
    )
    print(
        f"  fresh `taskseed compile`       : {t_cmd:6.3f} s   target < 2.0 s  "
        f"({t_cmd / 2.0:4.0%} of budget)"
    )
    print(f"  repeated compile, one process  : {t_warm:6.3f} s   (caches warm; reference)")
    print(
        f"  bare `python -c pass`          : {t_py:6.3f} s   (start-up reference; "
        f"the command costs {t_cmd / t_py:.1f}x a bare start)"
    )
    ok = t_in < 1.0 and t_cmd < 2.0
    print("result:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
