"""`python -m taskseed.runtime.sandbox`: can code checks run here, and how confined?

Runs one small check (a correct solution and its test) and prints its status with the
isolation it had, or the reason the sandbox refused. Exit status 0 when checks can run,
1 when they cannot. Meant for a new machine or a cluster node, before a run.
"""

from __future__ import annotations

import asyncio
import sys

from taskseed.runtime.code_check import run_tests

SOLUTION = "import heapq\ndef smallest(xs):\n    return heapq.nsmallest(1, xs)[0]\n"
TESTS = ["assert smallest([3, 1, 2]) == 1"]


def main() -> int:
    result = asyncio.run(run_tests(SOLUTION, TESTS, timeout_s=10))
    if result.passed:
        print(f"code checks can run here ({result.seconds:.2f}s for one check)")
        print(f"isolation: {result.isolation}")
        return 0
    print(f"code checks cannot run here: {result.reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
