"""Run the phases in order: load -> validate -> resolve -> templates -> plan.

`compile_paths` reads as the phases: `load` (every file loaded and validated in partial
mode), `resolve`, then per unit `validate_unit` (full mode and the rules),
`TemplateChecker.check_unit` and `PlanBuilder.build_unit`; each hands a frozen value to
the next (`phases.py`), and each unit's errors are counted in its own `Scope`.

Every phase keeps going after an error so that one run reports every problem, each at
its own span; a unit with errors produces no plan unit, and a plan is returned only
when there are no errors at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.documents import Documents
from taskseed.compiler.files import Catalog
from taskseed.compiler.nodes import Node, ScalarNode, to_plain
from taskseed.compiler.phases import CheckedUnit, Loaded, Resolved
from taskseed.compiler.plan import PlanBuilder
from taskseed.compiler.resolve import DEFAULT_SUBTASK, ResolvedUnit, Resolver
from taskseed.compiler.rules import UnitRules
from taskseed.compiler.source import SourceFile, Span, display_path
from taskseed.compiler.spec import TaskSpec
from taskseed.compiler.templates import TemplateChecker
from taskseed.compiler.validate import validate_resolved
from taskseed.contract.plan import Plan, Unit

SPEC_SUFFIXES = (".yaml", ".yml")
SKIP_DIRS = frozenset({"_templates", "fixtures", ".git", "__pycache__"})
# Validated subtrees shared between units (`validate.validate_resolved`).
ValidationMemo = dict[tuple[int, Any, bool], tuple[Node, Node | None]]


@dataclass
class CompileResult:
    plan: Plan | None
    diagnostics: Diagnostics
    sources: dict[str, SourceFile]
    files: list[Path] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.diagnostics.has_errors


def is_partial(path: Path) -> bool:
    """Files named `_*.yaml` hold shared defaults: validated, but not tasks themselves."""
    return path.name.startswith("_")


def discover(
    paths: Sequence[Path], diagnostics: Diagnostics, catalog: Catalog | None = None
) -> list[Path]:
    """The spec files under the given paths (folders are searched without following
    symlinked folders; a spec file that is a symlink leading outside `catalog` is
    refused)."""
    found: list[Path] = []
    for path in paths:
        try:
            is_dir, exists = path.is_dir(), path.exists()
        except OSError as exc:
            diagnostics.add("TS101", f"cannot read {path}: {exc.strerror}")
            continue
        if is_dir:
            matches = [
                p
                for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES
                and not p.is_dir()
                and not SKIP_DIRS.intersection(p.relative_to(path).parts[:-1])
            ]
            if not matches:
                diagnostics.add("TS104", f"no task spec files under {display_path(path)}")
            found.extend(matches)
        elif exists:
            found.append(path)
        else:
            diagnostics.add("TS101", f"no such file or directory: {path}")
    admitted = []
    for path in found:
        refusal = catalog.admits(path) if catalog is not None else None
        if refusal is not None:
            diagnostics.add(refusal.code, refusal.message, notes=refusal.notes)
        else:
            admitted.append(path)
    unique = {p.resolve(): p for p in admitted}
    return sorted(unique.values(), key=lambda p: p.as_posix())


def compile_paths(
    paths: Sequence[Path | str],
    root: Path | None = None,
    allow: Sequence[Path | str] = (),
    *,
    trust_hooks: bool = False,
) -> CompileResult:
    """Compile the specs under `paths`; they may read files inside their catalog roots
    and the `allow` folders (`compiler/files.py`). `trust_hooks` lets the Python hooks
    they name run on their fixture rows (`--trust-hooks`); otherwise hooks are only
    checked, never imported."""
    diagnostics = Diagnostics()
    sources: dict[str, SourceFile] = {}
    loaded = load(paths, allow, diagnostics, sources)  # phases 1 and 2 per file
    resolved = resolve(loaded, diagnostics)  # phase 3
    checker = TemplateChecker(diagnostics, sources, loaded.catalog)
    builder = PlanBuilder(
        diagnostics, sources, root or Path.cwd(), loaded.catalog, trust_hooks=trust_hooks
    )
    memo: ValidationMemo = {}
    plan_units: list[Unit] = []
    for unit in resolved.units:
        checked = validate_unit(unit, resolved, diagnostics, memo)  # phase 2, full mode
        if checked is None:
            continue
        fixture = builder.fixture(checked.spec, checked.tree)
        row_fields = fixture.fields if fixture is not None else None
        # Templates are checked even when a rule failed, so that one run reports both.
        templates = checker.check_unit(checked.spec, checked.tree, unit.vars, row_fields)
        built = builder.build_unit(checked, fixture, templates)  # phase 5
        if built is not None:
            plan_units.append(built)
    plan = None if diagnostics.has_errors else builder.finish(plan_units)
    return CompileResult(plan, diagnostics, sources, list(loaded.files), plan_units)


def load(
    paths: Sequence[Path | str],
    allow: Sequence[Path | str],
    diagnostics: Diagnostics,
    sources: dict[str, SourceFile],
) -> Loaded:
    """Phase 1 (and 2 for each file): find the spec files, load each and validate it in
    partial mode (`documents.py`)."""
    inputs = [Path(p) for p in paths]
    catalog = Catalog.of(inputs, [Path(p) for p in allow])
    files = discover(inputs, diagnostics, catalog)
    documents = Documents(diagnostics, sources)
    for path in files:
        documents.get(path)
    return Loaded(catalog, tuple(files), documents)


def resolve(loaded: Loaded, diagnostics: Diagnostics) -> Resolved:
    """Phase 3: each task file's `extends` chain merged and its subtasks expanded into
    units (`resolve.py`); a task declared twice is reported and kept once."""
    resolver = Resolver(diagnostics, loaded.documents, loaded.catalog)
    units: list[ResolvedUnit] = []
    declared: dict[str, Span] = {}
    for path in loaded.files:
        if is_partial(path):
            continue
        found = resolver.units(path)
        if not found:
            _check_complete(resolver, path, diagnostics)
            continue
        task_span = _task_span(resolver, path)
        task = found[0].task
        if task in declared:
            diagnostics.add(
                "TS302",
                f"task `{task}` is declared twice",
                task_span,
                notes=[f"first declared at {declared[task]}"],
            )
            continue
        declared[task] = task_span or Span.point(display_path(path), 1, 1)
        units.extend(found)
    names: dict[str, set[str]] = {}
    for unit in units:
        names.setdefault(unit.task, set()).add(unit.subtask)
    subtasks = {task: frozenset(found) for task, found in names.items()}
    return Resolved(tuple(units), subtasks)


def validate_unit(
    unit: ResolvedUnit, resolved: Resolved, diagnostics: Diagnostics, memo: ValidationMemo
) -> CheckedUnit | None:
    """Phase 2 for a resolved unit: full validation (`validate.py`: required fields
    present; subtrees shared between units are checked once, through `memo`), the
    typed spec, then the rules types cannot say (`rules.py`). None when the unit's tree
    is invalid; a unit that only breaks a rule goes on, so that its templates are
    checked too."""
    notes = (
        ()
        if unit.subtask == DEFAULT_SUBTASK
        else (f"in subtask `{unit.subtask}` of task `{unit.task}` (declared at {unit.origin})",)
    )
    scope = diagnostics.scope(notes)
    tree = validate_resolved(unit.tree, diagnostics, notes[0] if notes else "", memo)
    if tree is None or scope.failed:
        return None
    try:
        spec = msgspec.convert(to_plain(tree), TaskSpec)
    except msgspec.ValidationError as exc:
        # The walker checks what the spec's types say, so this is a constraint it does
        # not know (a length limit, say): report it at the unit, never drop it silently.
        diagnostics.add("TS203", f"invalid value: {exc}", unit.origin, notes=notes)
        return None
    UnitRules(diagnostics, tree, notes, resolved.subtasks[unit.task]).check(spec)
    return CheckedUnit(unit, spec, tree, scope)


def _task_span(resolver: Resolver, path: Path) -> Span | None:
    tree = resolver.resolve_file(path)
    if tree is None:
        return None
    entry = tree.entries.get("task")
    if entry is not None and isinstance(entry.value, ScalarNode):
        return entry.value.span
    return None


def _check_complete(resolver: Resolver, path: Path, diagnostics: Diagnostics) -> None:
    """A task file that produced no unit: report what is missing, if nothing else did."""
    tree = resolver.resolve_file(path)
    if tree is None or "task" in tree.entries:
        return
    validate_resolved(tree, diagnostics, "")
