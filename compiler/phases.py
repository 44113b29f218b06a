"""What each phase hands to the next (`driver.py` runs them in this order).

    load + validate files  -> Loaded        (driver.load, documents.py)
    resolve                -> Resolved      (driver.resolve, resolve.py)
    validate unit + rules  -> CheckedUnit   (driver.validate_unit, validate.py, rules.py)
    templates              -> UnitTemplates (templates.TemplateChecker.check_unit)
    plan                   -> plan Unit     (plan.PlanBuilder.build_unit, .finish)

Each hand-off is frozen; the per-unit ones carry the unit's diagnostic `Scope`, which
says whether the unit has errors so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from taskseed.compiler.diagnostics import Scope
from taskseed.compiler.documents import Documents
from taskseed.compiler.files import Catalog
from taskseed.compiler.nodes import MapNode
from taskseed.compiler.resolve import ResolvedUnit
from taskseed.compiler.spec import TaskSpec


@dataclass(frozen=True)
class Loaded:
    """Phase 1 (and 2 for each file): the spec files found, loaded and validated in
    partial mode; files named by `extends` are loaded from `documents` when resolved."""

    catalog: Catalog
    files: tuple[Path, ...]
    documents: Documents


@dataclass(frozen=True)
class Resolved:
    """Phase 3: one merged tree per subtask, and every subtask name of each task."""

    units: tuple[ResolvedUnit, ...]
    subtasks: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class CheckedUnit:
    """Phase 2 for a unit: its tree validated in full mode (invalid values replaced by
    placeholders), the typed spec, and the unit's diagnostic scope (the rules may have
    reported errors in it)."""

    resolved: ResolvedUnit
    spec: TaskSpec
    tree: MapNode
    scope: Scope


@dataclass(frozen=True, slots=True)
class CheckedTemplate:
    """Template text that passed its checks, and where it was written."""

    text: str
    file: Path
    line: int | None = None  # the text's first line inside a spec; None: a `.j2` file


@dataclass(frozen=True, slots=True)
class CheckedPrompt:
    user: CheckedTemplate
    system: CheckedTemplate | None = None


@dataclass(frozen=True)
class UnitTemplates:
    """Phase 4: the unit's prompts that passed, by data kind, for verification and for
    the judge, and whether every mapping expression did."""

    expressions_ok: bool
    steps: Mapping[str, CheckedPrompt]
    verify: CheckedPrompt | None
    judge: CheckedPrompt | None = None
