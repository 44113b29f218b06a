"""Measure the importer on the installed lm-eval: hook patterns, and whole-release coverage.

`python -m taskseed.importers.lm_eval_survey OUT_DIR` imports every lm-eval task file
that names a training split, one spec per task, into a scratch catalog under OUT_DIR,
validates every spec, and prints:

- the Python hooks those tasks use, by lm-eval key and by the syntax they are made of
  (field reads, string building, loops, ...), and how many of each the importer
  translated into expressions;
- the tasks imported, how many validate with no error (a missing fixture only warns),
  and the tasks skipped, by reason.

`tests/importers/test_coverage.py` runs the same functions and holds the figures to
the bar of issue 13.
"""

from __future__ import annotations

import ast
import io
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from taskseed.importers.lm_eval import Importer
from taskseed.importers.lm_eval_families import FamilyFinder
from taskseed.importers.lm_eval_hooks import HOOK_KEYS, HookReader
from taskseed.importers.lm_eval_index import TaskIndex, kind_of
from taskseed.importers.lm_eval_mapping import HookOutcome
from taskseed.importers.lm_eval_yaml import Config, LmEvalYamlError, load_config

# Syntax a hook is made of, by the AST nodes (or calls) that show it.
PATTERNS = (
    "constant text",
    "field read",
    "string building",
    "string methods",
    "regular expressions",
    "lookup table or condition",
    "list of choices",
    "comprehension",
    "loop",
    "helper function",
    "Dataset.map",
    "Dataset.filter",
    "other library",
)
_STR_METHODS = frozenset({"strip", "lstrip", "rstrip", "replace", "split", "join", "lower"})
_STR_METHODS |= {"upper", "capitalize", "title", "format", "startswith", "endswith", "index"}
_LIBRARIES = frozenset({"np", "numpy", "random", "datasets", "Dataset", "sacrebleu", "zip_longest"})


def training_tasks(root: Path) -> Iterator[Config]:
    """Every task file of the release that names a training split (read as text first:
    only the files that mention one, or include a file that does, are parsed)."""
    index = TaskIndex([root])
    texts = index.texts()
    pending = [path for path, text in texts.items() if "training_split" in text]
    candidates = set(pending)
    while pending:
        for includer in index.includers(pending.pop()):
            if includer not in candidates:
                candidates.add(includer)
                pending.append(includer)
    for path in sorted(p for p in candidates if p.suffix == ".yaml" and p.is_relative_to(root)):
        try:
            config = load_config(path)
        except LmEvalYamlError:
            continue
        if kind_of(config) == "task" and config.get("training_split"):
            yield config


def patterns(node: ast.FunctionDef | ast.AST, module: set[str]) -> set[str]:
    """The patterns a function's body shows (`module`: the file's own function names)."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            if isinstance(sub.slice.value, str):
                found.add("field read")
        elif isinstance(sub, ast.JoinedStr) or (
            isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Add)
        ):
            found.add("string building")
        elif (
            isinstance(sub, ast.IfExp | ast.If)
            or (isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Dict))
            or (isinstance(sub, ast.Dict) and len(sub.keys) > 1)
        ):
            found.add("lookup table or condition")
        elif isinstance(sub, ast.List) and len(sub.elts) > 1:
            found.add("list of choices")
        elif isinstance(sub, ast.ListComp | ast.GeneratorExp):
            found.add("comprehension")
        elif isinstance(sub, ast.For | ast.While):
            found.add("loop")
        elif isinstance(sub, ast.Call):
            found |= _call_patterns(sub, module)
        elif isinstance(sub, ast.Name) and sub.id in _LIBRARIES:
            found.add("other library")
    return found or {"constant text"}


def _call_patterns(call: ast.Call, module: set[str]) -> set[str]:
    func = call.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else None
        if owner == "re":
            return {"regular expressions"}
        if func.attr in ("map", "filter") and owner in ("dataset", "doc", "ds"):
            return {f"Dataset.{func.attr}"}
        if func.attr in _STR_METHODS:
            return {"string methods"}
        if owner in _LIBRARIES:
            return {"other library"}
        return set()
    if isinstance(func, ast.Name) and func.id in module:
        return {"helper function"}
    return set()


@dataclass
class HookRecord:
    """One hook function (file and name) used by the imported tasks, for one key."""

    key: str
    file: Path
    function: str
    tasks: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    patterns: set[str] = field(default_factory=set)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def translated(self) -> bool:
        """Translated for every task that uses it."""
        return self.outcomes["translated"] == self.tasks


@dataclass
class Survey:
    tasks: int = 0  # task files naming a training split
    imported: list[Path] = field(default_factory=list)  # one spec per imported task
    skipped: Counter[str] = field(default_factory=Counter)  # by reason
    hooks: dict[tuple[str, Path, str], HookRecord] = field(default_factory=dict)
    clean: list[Path] = field(default_factory=list)
    failing: dict[Path, list[str]] = field(default_factory=dict)  # spec -> error codes
    warnings: Counter[str] = field(default_factory=Counter)  # codes, over the clean specs

    def record(self, outcomes: list[HookOutcome], reader: HookReader) -> None:
        """One task's hooks. A hook counts once per task, by its worst outcome (a
        `process_docs` that translated may still fail a field that reads it)."""
        worst: dict[tuple[str, Path, str], HookOutcome] = {}
        for outcome in outcomes:
            key = (outcome.key, outcome.file, outcome.function)
            if key not in worst or _RANK[outcome.outcome] > _RANK[worst[key].outcome]:
                worst[key] = outcome
        for key, outcome in worst.items():
            record = self.hooks.setdefault(key, HookRecord(*key))
            record.tasks += 1
            record.outcomes[outcome.outcome] += 1
            if outcome.reason:
                record.reasons[outcome.reason] += 1
            if not record.patterns:
                record.patterns = _function_patterns(reader, outcome.file, outcome.function)


_RANK = {"translated": 0, "referenced": 1, "by hand": 2}


def _function_patterns(reader: HookReader, file: Path, function: str) -> set[str]:
    module = reader.module(file)
    if module is None:
        return {"other library"}
    own = set(module.functions)
    node = module.functions.get(function) or module.assigned.get(function)
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name):
        inner = module.functions.get(node.args[0].id)  # `partial(process_docs, ...)`
        return {"helper function", *(patterns(inner, own) if inner else ())}
    return patterns(node, own) if node is not None else set()


def scratch_catalog(root: Path, catalog: Path) -> Path:
    """A catalog with `catalog`'s defaults and shared templates and no tasks."""
    target = root / "taskspecs"
    target.mkdir(parents=True)
    for path in catalog.glob("_*.yaml"):
        shutil.copy(path, target / path.name)
    shutil.copytree(catalog / "_templates", target / "_templates")
    return target


def survey(finder: FamilyFinder, out_dir: Path) -> Survey:
    """Import every training-split task of `finder`'s lm-eval, one spec each, into
    `out_dir`; then validate every spec."""
    from taskseed.compiler.driver import compile_paths

    assert finder.root is not None
    result = Survey()
    importer = Importer(out_dir, io.StringIO(), finder)
    for config in training_tasks(finder.root):
        result.tasks += 1
        before = len(importer.report.rows)
        importer.run([str(config.path)])
        for row in importer.report.rows[before:]:
            if row.result == "skipped":
                result.skipped[row.reason] += 1
    for item in importer.imported:
        result.record(item.hooks, importer.hooks)
    result.imported = sorted(out_dir.glob("*.yaml"))
    for spec in result.imported:
        compiled = compile_paths([spec])
        errors = sorted({d.code for d in compiled.diagnostics.errors})
        if errors:
            result.failing[spec] = errors
        else:
            result.clean.append(spec)
            result.warnings.update({d.code for d in compiled.diagnostics})
    return result


def hook_table(result: Survey) -> str:
    """Hook functions by key and by pattern: how many, and how many translated."""
    lines = ["hook functions (distinct file and function; tasks using them in brackets)"]
    for key in HOOK_KEYS:
        records = [r for r in result.hooks.values() if r.key == key]
        done = [r for r in records if r.translated]
        lines.append(
            f"  {key:<14} {len(records):>3} functions ({sum(r.tasks for r in records)} tasks), "
            f"{len(done)} translated ({sum(r.tasks for r in done)} tasks)"
        )
    lines.append("by pattern (a function shows one or more)")
    for pattern in PATTERNS:
        showing = [r for r in result.hooks.values() if pattern in r.patterns]
        if showing:
            count = sum(1 for r in showing if r.translated)
            lines.append(f"  {pattern:<26} {len(showing):>3} functions, {count} translated")
    reasons: Counter[str] = Counter()
    for record in result.hooks.values():
        if not record.translated:
            reasons.update(record.reasons.keys())
    lines.append("what stopped the others")
    lines.extend(f"  {n:>3}  {reason}" for reason, n in reasons.most_common())
    return "\n".join(lines) + "\n"


def coverage_table(result: Survey) -> str:
    imported = len(result.imported)
    share = len(result.clean) / imported if imported else 0.0
    lines = [
        f"task files naming a training split: {result.tasks}",
        f"  imported: {imported}; validate with no error: {len(result.clean)} ({share:.1%}), "
        f"warnings among them: {dict(result.warnings)}",
        f"  skipped: {sum(result.skipped.values())}",
    ]
    lines.extend(f"    {n:>4}  {reason}" for reason, n in result.skipped.most_common())
    codes = Counter(code for errors in result.failing.values() for code in errors)
    if result.failing:
        lines.append(f"  with errors: {len(result.failing)} ({dict(codes)})")
        lines.extend(f"    {spec.stem}" for spec in sorted(result.failing))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    from taskseed.importers.lm_eval_index import tasks_root

    if len(argv) != 1:
        print("usage: python -m taskseed.importers.lm_eval_survey OUT_DIR", file=sys.stderr)
        return 2
    root = tasks_root()
    if root is None:
        print("lm_eval is not installed", file=sys.stderr)
        return 2
    catalog = scratch_catalog(Path(argv[0]), Path("taskspecs"))
    result = survey(FamilyFinder(root), catalog / "reasoning")
    sys.stdout.write(hook_table(result) + "\n" + coverage_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
