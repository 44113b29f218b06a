"""Per-unit staging files: a unit's result, written atomically when the unit completes.

A unit whose staging file exists with the same run key is done: a resumed run skips
it. A unit that was interrupted has no file (the write is a rename), so it runs again,
and its engine calls replay from the ledger.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.results import UnitOutput

WORK_DIR = ".work"


def run_key(*parts: object) -> str:
    """What a unit's result depends on besides the ledger: plan, engine, options."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


class Staging:
    def __init__(self, out: Path) -> None:
        self.folder = out / WORK_DIR / "units"

    def path(self, unit_id: str) -> Path:
        return self.folder / (unit_id.replace("/", "__") + ".json")

    def load(self, unit_id: str, key: str) -> UnitOutput | None:
        path = self.path(unit_id)
        if not path.is_file():
            return None
        try:
            output = msgspec.json.decode(path.read_bytes(), type=UnitOutput)
        except (msgspec.DecodeError, OSError):
            return None  # an unreadable file is redone, never trusted
        return output if output.run_key == key else None

    def save(self, output: UnitOutput) -> None:
        write_atomic(self.path(output.unit), msgspec.json.encode(output))
