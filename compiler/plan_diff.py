"""What changed between two plans, unit by unit, and what a rerun of each will cost.

Units are matched by ID. A unit whose fingerprint is the same in both plans is
unchanged. For a changed unit the resolved settings are compared path by path
(`verify.k`, `steps.similar_question.sampling.temperature`, ...), templates by their
text (a unified diff), and the fixture by its rows.

A unit's run key (the runtime's `run.unit_keys`) is its fingerprint plus the run's
options and the contents of its held-out files; a plan holds only the fingerprint, so
a changed fingerprint means the unit runs again. Whether that costs engine requests
depends on what changed: every request goes through the ledger, keyed by its content,
so a request that renders the same as before is replayed, not sent. `first_stage`
names the earliest stage whose requests a change can alter.

Only the contract is read here: diffing plans never needs the runtime.
"""

from __future__ import annotations

import difflib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, Unit

# Stages in the order the runtime runs them, and what a change first reaching each one
# means for the engine requests of a rerun.
STAGES: tuple[tuple[str, str], ...] = (
    ("seeds", "seed records may change, so any engine request may be new"),
    ("generate", "generation requests and everything after them may be new"),
    (
        "filter",
        "generation replays from the ledger; items whose filter verdict changes "
        "are verified and enriched anew",
    ),
    (
        "decontaminate",
        "generation replays from the ledger; items whose held-out check "
        "changes are verified and enriched anew",
    ),
    ("verify", "generation replays from the ledger; verification and later requests may be new"),
    (
        "judge",
        "generation and verification replay from the ledger; judge and enrichment "
        "requests may be new",
    ),
    (
        "enrich",
        "generation and verification replay from the ledger; enrichment requests may be new",
    ),
    ("dedup", "no new engine request: every request replays from the ledger"),
    ("write", "no new engine request: every request replays from the ledger"),
    ("metadata", "no new engine request: every request replays from the ledger"),
)
STAGE_ORDER = {name: i for i, (name, _) in enumerate(STAGES)}
STAGE_EFFECT = dict(STAGES)

# The first path component of a setting -> the first stage it reaches. Templates see
# the task's title, domain and vars, and the answer format; records carry the family
# and licence; the spec file, tags and description reach nothing the runtime sends.
_TOP_STAGE = {
    "seeds": "seeds",
    "fixture": "seeds",
    "mapping": "seeds",
    "format": "seeds",
    "title": "generate",
    "domain": "generate",
    "vars": "generate",
    "filters": "filter",
    "decontaminate": "decontaminate",
    "verify": "verify",
    "judge": "judge",
    "dedup": "dedup",
    "family": "write",
    "source": "write",
    "origin": "metadata",
    "imported_from": "metadata",
    "description": "metadata",
    "tags": "metadata",
}
_STEP_STAGE = {"similar_question": "generate"}  # other steps enrich
_PATH_STAGE = {"fixture.origin": "metadata"}  # a fixture file moved, its rows unchanged


def stage_of(path: str) -> str:
    """The first stage a change at `path` reaches (unknown fields: the first stage)."""
    if path in _PATH_STAGE:
        return _PATH_STAGE[path]
    parts = path.split(".")
    if parts[0] == "steps" and len(parts) > 1:
        return _STEP_STAGE.get(parts[1], "enrich")
    return _TOP_STAGE.get(parts[0], "seeds")


class _Absent:
    def __repr__(self) -> str:
        return "(none)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class SettingChange:
    path: str
    old: Any  # ABSENT when the setting is new
    new: Any  # ABSENT when the setting was removed


@dataclass(frozen=True)
class TemplateChange:
    path: str  # where the unit uses it: "steps.similar_question.prompt.user"
    old_origin: str | None  # None when the template is new here
    new_origin: str | None  # None when the template was removed here
    diff: list[str]  # unified diff lines, without line endings


@dataclass(frozen=True)
class FixtureChange:
    old_origin: str | None
    new_origin: str | None
    rows_added: int
    rows_removed: int


@dataclass(frozen=True)
class UnitSummary:
    id: str
    origin: str
    domain: str
    family: str
    fingerprint: str


@dataclass
class UnitChange:
    id: str
    origin: str
    old_fingerprint: str
    new_fingerprint: str
    settings: list[SettingChange] = field(default_factory=list)
    templates: list[TemplateChange] = field(default_factory=list)
    fixture: FixtureChange | None = None

    @property
    def paths(self) -> list[str]:
        paths = [c.path for c in self.settings] + [t.path for t in self.templates]
        fixture = self.fixture
        if fixture is not None:
            rows = fixture.rows_added or fixture.rows_removed
            paths.append("fixture.rows" if rows else "fixture.origin")
        return paths

    @property
    def first_stage(self) -> str:
        """The earliest stage whose engine requests the change can alter."""
        stages = [stage_of(p) for p in self.paths] or ["seeds"]  # unexplained: assume all
        return min(stages, key=STAGE_ORDER.__getitem__)

    @property
    def new_requests(self) -> bool:
        return STAGE_ORDER[self.first_stage] < STAGE_ORDER["dedup"]


@dataclass
class PlanDiff:
    old_fingerprint: str
    new_fingerprint: str
    old_generator: str
    new_generator: str
    added: list[UnitSummary]
    removed: list[UnitSummary]
    changed: list[UnitChange]
    unchanged: int
    # Units (changed or not) whose run key also hashes held-out files the plan only names.
    held_out_files: dict[str, list[str]]

    @property
    def reruns(self) -> int:
        return len(self.added) + len(self.changed)

    @property
    def same_roots(self) -> bool:
        """False when every shared unit moved to another spec path: plans compiled from
        different roots (`compile --root`), whose origins all differ."""
        if not self.changed or self.unchanged:
            return True
        return not all(any(c.path == "origin" for c in u.settings) for u in self.changed)


def _summary(unit: Unit) -> UnitSummary:
    return UnitSummary(unit.id, unit.origin, unit.domain, unit.family, unit.fingerprint)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    old_units = {u.id: u for u in old.units}
    new_units = {u.id: u for u in new.units}
    changed = []
    unchanged = 0
    for unit_id in sorted(old_units.keys() & new_units.keys()):
        a, b = old_units[unit_id], new_units[unit_id]
        if a.fingerprint == b.fingerprint:
            unchanged += 1
        else:
            changed.append(diff_units(old, a, new, b))
    held_out = {
        u.id: list(u.decontaminate.files)
        for u in new.units
        if u.decontaminate.enabled and u.decontaminate.files
    }
    return PlanDiff(
        old_fingerprint=old.fingerprint,
        new_fingerprint=new.fingerprint,
        old_generator=old.generator,
        new_generator=new.generator,
        added=[_summary(new_units[i]) for i in sorted(new_units.keys() - old_units.keys())],
        removed=[_summary(old_units[i]) for i in sorted(old_units.keys() - new_units.keys())],
        changed=changed,
        unchanged=unchanged,
        held_out_files=held_out,
    )


# ------------------------------------------------------------------ one unit


def _flatten(value: Any, prefix: str, out: dict[str, Any], empty: bool = False) -> None:
    """Mappings become dotted paths (an empty one: none, or a leaf with `empty`); lists
    and scalars are leaves."""
    if isinstance(value, dict) and (value or not empty or not prefix):
        for key in sorted(value):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out, empty)
    else:
        out[prefix] = value


def unit_views(
    plan: Plan, unit: Unit, empty: bool = False
) -> tuple[dict[str, Any], dict[str, str], Any]:
    """A unit's settings as dotted paths (empty mappings as settings of their own with
    `empty`), its templates by where it uses them, and its fixture; template and fixture
    keys (content hashes) are replaced by content."""
    data: dict[str, Any] = msgspec.to_builtins(unit)
    data.pop("fingerprint", None)
    templates: dict[str, str] = {}
    steps = {step.pop("kind"): step for step in data.pop("steps")}
    data["steps"] = steps
    prompts = [(f"steps.{kind}.prompt", step.pop("prompt")) for kind, step in steps.items()]
    prompts.append(("verify.prompt", data["verify"].pop("prompt", None) or {}))
    judge = data.get("judge") or {}
    if judge.get("prompt") is not None:  # an unused judge keeps its `prompt: null`
        prompts.append(("judge.prompt", judge.pop("prompt")))
    for where, prompt in prompts:
        for role in ("user", "system"):
            key = prompt.pop(role, None)
            if key is not None:
                templates[f"{where}.{role}"] = key
    fixture_key = data["seeds"].pop("fixture", None)
    fixture = plan.fixtures.get(fixture_key) if fixture_key is not None else None
    flat: dict[str, Any] = {}
    _flatten(data, "", flat, empty)
    return flat, templates, fixture


def diff_units(old_plan: Plan, old: Unit, new_plan: Plan, new: Unit) -> UnitChange:
    old_flat, old_templates, old_fixture = unit_views(old_plan, old)
    new_flat, new_templates, new_fixture = unit_views(new_plan, new)
    change = UnitChange(
        id=new.id,
        origin=new.origin,
        old_fingerprint=old.fingerprint,
        new_fingerprint=new.fingerprint,
    )
    for path in sorted(old_flat.keys() | new_flat.keys()):
        # A setting absent on one side and null on the other is unset on both.
        a, b = old_flat.get(path), new_flat.get(path)
        if _canonical(a) != _canonical(b):
            a = old_flat.get(path, ABSENT)
            b = new_flat.get(path, ABSENT)
            change.settings.append(SettingChange(path, a, b))
    for path in sorted(old_templates.keys() | new_templates.keys()):
        a_key, b_key = old_templates.get(path), new_templates.get(path)
        a_tpl = old_plan.templates.get(a_key) if a_key else None
        b_tpl = new_plan.templates.get(b_key) if b_key else None
        a_text = a_tpl.text if a_tpl else ""
        b_text = b_tpl.text if b_tpl else ""
        if a_tpl is not None and b_tpl is not None and a_text == b_text:
            continue
        a_origin = a_tpl.origin if a_tpl else None
        b_origin = b_tpl.origin if b_tpl else None
        lines = difflib.unified_diff(
            a_text.splitlines(),
            b_text.splitlines(),
            f"old {a_origin or '(none)'}",
            f"new {b_origin or '(none)'}",
            lineterm="",
        )
        change.templates.append(TemplateChange(path, a_origin, b_origin, list(lines)))
    change.fixture = _fixture_change(old_fixture, new_fixture)
    return change


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _fixture_change(old: Any, new: Any) -> FixtureChange | None:
    old_rows = Counter(_canonical(r) for r in old.rows) if old is not None else Counter()
    new_rows = Counter(_canonical(r) for r in new.rows) if new is not None else Counter()
    old_origin = old.origin if old is not None else None
    new_origin = new.origin if new is not None else None
    if old_rows == new_rows and old_origin == new_origin:
        return None
    return FixtureChange(
        old_origin=old_origin,
        new_origin=new_origin,
        rows_added=sum((new_rows - old_rows).values()),
        rows_removed=sum((old_rows - new_rows).values()),
    )
