"""What a run is asked to do, besides the plan: the options every stage reads.

The one home of the runtime's defaults that the command line also shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Seeds per slice: a slice goes through the per-item stages and is committed to
# staging as a whole, so it bounds both the memory a unit holds and the work a killed
# run redoes. Larger slices commit less often, hold more in memory.
SLICE_SIZE = 2_000
# Slices of one unit in flight at once: the next slice starts while the last one's
# slowest seeds finish, so the engine never waits for a slice boundary.
SLICES_IN_FLIGHT = 2
# With `--target-records N` and no `--slice-size`, slices are at most N seeds: the
# target is checked slice by slice, so a smaller slice overshoots it by less.


def slice_size_for(target_records: int | None) -> int:
    """The default slice size of a run, given its target in kept records (or none)."""
    return SLICE_SIZE if target_records is None else max(1, min(SLICE_SIZE, target_records))


# Finalize keeps the dedup scope's band hashes in memory up to this size and spills
# them to files under `.work/` above it.
DEDUP_MEMORY_MB = 32


@dataclass(frozen=True)
class RunOptions:
    use_fixtures: bool = False
    limit_seeds: int | None = None
    seed: int = 0
    root: Path = Path(".")
    timeout_s: float = 600.0
    retries: int = 3
    backoff_s: float = 0.5
    max_tokens: int | None = None  # a cap on every request's max_tokens
    slice_size: int = SLICE_SIZE
    slices_in_flight: int = SLICES_IN_FLIGHT
    ledger_requests: bool = False  # keep request bodies in the ledger too (audits)
    # Per unit: stop drawing seeds once the committed slices, in order, have kept this
    # many records (`staging.result_slices`); None: every seed.
    target_records: int | None = None
