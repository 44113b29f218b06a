"""`make bench-compile`: validate and compile a catalog of about 700 subtasks.

Uses the real catalog when it has at least 650 subtasks; otherwise builds one by
copying the real tasks under new names until it reaches 700. Prints the in-process
time (validate + compile, the compiler's whole job) and the time of a fresh
`taskseed compile` process, each as a median of several runs, beside the targets
(1 s and 2 s) and beside a bare Python start-up measured in the same run.
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
from taskseed.compiler.plan_model import encode

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
    specs = [
        p
        for p in catalog.rglob("*.yaml")
        if not p.name.startswith("_") and "fixtures" not in p.parts
    ]
    copy = 0
    while units < TARGET_UNITS:
        copy += 1
        for spec in specs:
            text = spec.read_text(encoding="utf-8")
            lines = [
                f"{line}_copy{copy}" if line.startswith("task: ") else line
                for line in text.splitlines()
            ]
            spec.with_name(f"{spec.stem}_copy{copy}.yaml").write_text("\n".join(lines) + "\n")
        units = len(compile_paths([catalog], root=dest).units)
    return catalog


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

        in_process()  # warm the file cache
        t_in = median_seconds(in_process)
        t_cmd = median_seconds(fresh_command)
        t_py = median_seconds(bare_python)

    print(f"catalog: {units} subtasks, {tasks} tasks, {files} files ({source})")
    print(f"median of {RUNS} runs on this machine")
    print(
        f"  validate + compile, in process : {t_in:6.3f} s   target < 1.0 s  "
        f"({t_in / 1.0:4.0%} of budget)"
    )
    print(
        f"  fresh `taskseed compile`       : {t_cmd:6.3f} s   target < 2.0 s  "
        f"({t_cmd / 2.0:4.0%} of budget)"
    )
    print(
        f"  bare `python -c pass`          : {t_py:6.3f} s   (start-up reference; "
        f"compile costs {t_cmd / t_py:.1f}x a bare start)"
    )
    ok = t_in < 1.0 and t_cmd < 2.0
    print("result:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
