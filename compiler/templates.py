"""Phase 4, templates: parse every prompt template and mapping expression at compile time.

Each template is parsed once (cached by its text), its free variables are checked
against what the step will provide, attribute reads on records (`seed.questoin`) are
checked against the record's fields, unknown filters are reported, and every error is
mapped back to the line inside the YAML file (or the shared `.j2` file) where the
template text was written. `TemplateChecker.check_unit` runs the phase for one unit and
hands the prompts that passed to the plan (`phases.UnitTemplates`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError, meta, nodes

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.files import (
    MAX_TEMPLATE_BYTES,
    Catalog,
    FileMissing,
    FileRefused,
    Located,
    Refusal,
    inside,
    name_problem,
    read_source,
)
from taskseed.compiler.nodes import MapNode, Node, ScalarNode, SeqNode, lookup
from taskseed.compiler.phases import CheckedPrompt, CheckedTemplate, UnitTemplates
from taskseed.compiler.source import SourceFile, Span, display_path, split_lines
from taskseed.compiler.spec import DATA_KINDS, JudgeSpec, KindSpec, TaskSpec, VerifySpec
from taskseed.contract.jinja_env import environment, parse
from taskseed.contract.mapping import classify
from taskseed.contract.plan import PlanFormat
from taskseed.contract.records import ITEM_FIELDS, RECORD_FIELDS, TASK_FIELDS
from taskseed.contract.suggest import did_you_mean

TEMPLATES_DIR = "_templates"
TEMPLATE_SUFFIX = ".j2"

# What each kind of prompt can see.
BASE_VARIABLES = ("seed", "task", "vars", "format", "n")
ITEM_VARIABLES = (*BASE_VARIABLES, "item")
# The judge's prompt also sees its score schema: `scores.criteria`, `.min`, `.max`.
JUDGE_VARIABLES = (*ITEM_VARIABLES, "scores")
SCORES_FIELDS = ("criteria", "min", "max")


@dataclass(frozen=True, slots=True)
class TemplateOrigin:
    """Where template text was written, to map its lines back to a file."""

    file: str
    line: int  # 1-based line of the template's first line
    col: int  # 1-based column of the template's first character
    multiline_exact: bool  # whether template line i is file line (line + i - 1)

    @staticmethod
    def from_scalar(node: ScalarNode) -> TemplateOrigin:
        if node.style in ("literal", "folded"):
            return TemplateOrigin(
                node.span.file, node.body_line, node.body_col, node.style == "literal"
            )
        quoted = 1 if node.style in ("single", "double") else 0
        return TemplateOrigin(node.span.file, node.span.line, node.span.col + quoted, False)

    @staticmethod
    def from_file(source: SourceFile) -> TemplateOrigin:
        return TemplateOrigin(source.name, 1, 1, True)

    def label(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Fields:
    """The attributes a name may have, for `seed.x`, `item.x`, `task.x`, `vars.x`."""

    by_name: dict[str, tuple[str, ...]]
    key: tuple[tuple[str, tuple[str, ...]], ...] = field(init=False)  # for caches

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", tuple(sorted(self.by_name.items())))


@dataclass
class TemplateChecker:
    diagnostics: Diagnostics
    sources: dict[str, SourceFile]
    catalog: Catalog
    _files: dict[str, SourceFile | None] = field(default_factory=dict)
    _checked: dict[tuple[object, ...], bool] = field(default_factory=dict)
    _named: dict[tuple[str, str], SourceFile | None] = field(default_factory=dict)
    _sources_checked: dict[int, Node] = field(default_factory=dict)

    # ------------------------------------------------------------------- units

    def check_unit(
        self,
        spec: TaskSpec,
        tree: MapNode,
        unit_vars: Iterable[str],
        row_fields: tuple[str, ...] | None,
    ) -> UnitTemplates:
        """Phase 4 for one unit: its mapping expressions (names against the fixture
        rows' fields, when it has a fixture), the prompt of each enabled data kind, of
        verification and of the judge, and the mappings of `decontaminate.sources`."""
        expressions_ok = True
        for path, text in spec_expressions(spec):
            node = lookup(tree, path)
            if isinstance(node, ScalarNode) and isinstance(text, str):
                # A failure can repeat one already reported (the same span and message
                # in another subtask), so it is remembered here, not counted.
                expressions_ok &= self.check_expression(text, node, row_fields)
        fields = record_fields(unit_vars, PlanFormat.__struct_fields__)
        steps: dict[str, CheckedPrompt] = {}
        for kind in DATA_KINDS:
            kspec: KindSpec | None = getattr(spec.generate, kind)
            if kspec is None or not kspec.enabled:
                continue
            variables = BASE_VARIABLES if kind == "similar_question" else ITEM_VARIABLES
            prompt = self.prompt(kspec, tree, ("generate", kind), variables, fields)
            if prompt is not None:
                steps[kind] = prompt
        verify = None
        if spec.verify.enabled:
            verify = self.prompt(spec.verify, tree, ("verify",), ITEM_VARIABLES, fields)
        judge = None
        if spec.judge.enabled:
            judge = self.prompt(spec.judge, tree, ("judge",), JUDGE_VARIABLES, fields)
        if spec.decontaminate.sources:
            self.check_source_mappings(tree)
        return UnitTemplates(expressions_ok, steps, verify, judge)

    def prompt(
        self,
        fields_spec: KindSpec | VerifySpec | JudgeSpec,
        tree: MapNode,
        path: tuple[str, ...],
        variables: tuple[str, ...],
        fields: Fields,
    ) -> CheckedPrompt | None:
        """A prompt's user template (named or inline) and its system text, when both
        pass; each is checked either way."""
        user: CheckedTemplate | None = None
        if fields_spec.template is not None:
            node = lookup(tree, (*path, "template"))
            span = node.span if node is not None else tree.span
            source = self.find_named(fields_spec.template, _path(span.file), span)
            if source is not None:
                origin = TemplateOrigin.from_file(source)
                if self.check_template(source.text, origin, variables, fields):
                    user = CheckedTemplate(source.text, source.path)
        elif fields_spec.prompt is not None:
            user = self.inline(fields_spec.prompt, tree, (*path, "prompt"), variables, fields)
        system = None
        if fields_spec.system is not None:
            system = self.inline(fields_spec.system, tree, (*path, "system"), variables, fields)
            if system is None:
                return None
        if user is None:
            return None
        return CheckedPrompt(user, system)

    def inline(
        self,
        text: str,
        tree: MapNode,
        path: tuple[str, ...],
        variables: tuple[str, ...],
        fields: Fields,
    ) -> CheckedTemplate | None:
        node = lookup(tree, path)
        assert isinstance(node, ScalarNode)
        origin = TemplateOrigin.from_scalar(node)
        if not self.check_template(text, origin, variables, fields):
            return None
        return CheckedTemplate(text, _path(node.span.file), origin.line)

    def check_source_mappings(self, tree: MapNode) -> None:
        """Parse the text mappings of `decontaminate.sources` (cached per text and
        place): syntax and filters only, as no fixture describes the benchmark's rows."""
        sources = lookup(tree, ("decontaminate", "sources"))
        if not isinstance(sources, SeqNode) or id(sources) in self._sources_checked:
            return
        # Units that inherit the list share its nodes; keep the node so its id stays its own.
        self._sources_checked[id(sources)] = sources
        for item in sources.items:
            mapping = item.get("mapping") if isinstance(item, MapNode) else None
            if not isinstance(mapping, MapNode):
                continue
            for entry in mapping:
                node = entry.value
                if isinstance(node, ScalarNode) and isinstance(node.value, str):
                    self.check_expression(node.value, node, None)

    # ----------------------------------------------------------- named templates

    def find_named(self, name: str, spec_file: Path, span: Span) -> SourceFile | None:
        """The `.j2` file of a named template, looked up in the nearest `_templates/`."""
        key = (name, str(spec_file.parent))
        if key not in self._named:
            self._named[key] = self._find_named(name, spec_file, span)
        return self._named[key]

    def _find_named(self, name: str, spec_file: Path, span: Span) -> SourceFile | None:
        problem = _name_problem(name)
        if problem is not None:
            self.diagnostics.add(
                "TS306",
                f"template `{name[:80]}` {problem}",
                span,
                notes=[
                    f"a template is named by its path under `{TEMPLATES_DIR}/`, "
                    "without `.j2`: `similar_question/multiple_choice`"
                ],
            )
            return None
        start = Path(os.path.realpath(spec_file)).parent
        folder = _templates_dir(start, self.catalog.container(str(start)))
        if folder is None:
            self.diagnostics.add(
                "TS503",
                f"template `{name}` not found: no `{TEMPLATES_DIR}/` folder above "
                f"{display_path(spec_file)}",
                span,
            )
            return None
        located = self.catalog.locate(folder, name + TEMPLATE_SUFFIX)
        if isinstance(located, Refusal):
            self.diagnostics.add(located.code, located.message, span, notes=located.notes)
            return None
        if located.real not in self._files:
            self._files[located.real] = self._read(located, span)
        source = self._files[located.real]
        if source is None and os.path.lexists(located.real):
            return None  # refused when read, and reported then
        if source is None:
            known = sorted(
                p.relative_to(folder).with_suffix("").as_posix()
                for p in folder.rglob(f"*{TEMPLATE_SUFFIX}")
            )
            self.diagnostics.add(
                "TS503",
                f"template `{name}` not found in {display_path(folder)}",
                span,
                label=did_you_mean(name, known),
            )
        return source

    def _read(self, located: Located, span: Span) -> SourceFile | None:
        try:
            source = read_source(located.path, located.real, MAX_TEMPLATE_BYTES)
        except FileMissing:
            return None
        except FileRefused as exc:
            shown = display_path(located.path)
            at = Span.point(shown, *exc.at) if exc.at is not None else span
            self.diagnostics.add(exc.code, f"template {shown}: {exc.message}", at)
            return None
        self.sources[source.name] = source
        return source

    # -------------------------------------------------------------------- checks

    def check_template(
        self, text: str, origin: TemplateOrigin, variables: Iterable[str], fields: Fields
    ) -> bool:
        """Report every problem in one prompt template; True when it is usable."""
        allowed = tuple(variables)
        key = (text, origin, allowed, fields.key)
        if key not in self._checked:
            self._checked[key] = self._check_template(text, origin, allowed, fields)
        return self._checked[key]

    def _check_template(
        self, text: str, origin: TemplateOrigin, allowed: tuple[str, ...], fields: Fields
    ) -> bool:
        found = _analyse(text)
        if found.error is not None:
            self._at(
                origin, text, found.error.lineno or 1, None, "TS500", found.error.message or ""
            )
            return False
        ok = True
        for line, needle, message in found.unsupported:
            self._at(origin, text, line, needle, "TS500", message)
            ok = False
        ok &= self._check_filters(found, origin, text)
        # Jinja's own variable analysis fails on unknown filters; skip it then.
        if ok:
            ok = self._check_names(
                found,
                origin,
                text,
                allowed,
                "TS501",
                lambda name: (
                    f"undefined variable `{name}` (this template can use {_names(allowed)})"
                ),
                (),
            )
        for owner, attr, line in found.reads:
            known = fields.by_name.get(owner)
            if known is None or owner not in allowed or attr in known:
                continue
            self._at(
                origin,
                text,
                line,
                attr,
                "TS502",
                f"`{owner}` has no field `{attr}`",
                label=did_you_mean(attr, known),
                notes=[f"`{owner}` fields: {', '.join(known)}"],
            )
            ok = False
        return ok

    def check_expression(
        self, text: str, node: ScalarNode, row_fields: tuple[str, ...] | None
    ) -> bool:
        """A mapping expression: syntax, and free names against the fixture's fields."""
        key = ("expr", text, node.span, node.style, row_fields)
        if key not in self._checked:
            self._checked[key] = self._check_expression(text, node, row_fields)
        return self._checked[key]

    def _check_expression(
        self, text: str, node: ScalarNode, row_fields: tuple[str, ...] | None
    ) -> bool:
        expr = classify(text)
        origin = TemplateOrigin.from_scalar(node)
        found = _analyse(expr.body if expr.is_template else "{{ " + expr.body + " }}")
        if found.error is not None:
            self._at(
                origin, text, found.error.lineno or 1, None, "TS504", found.error.message or ""
            )
            return False
        if not self._check_filters(found, origin, text):
            return False
        if row_fields is None:
            return True
        return self._check_names(
            found,
            origin,
            text,
            row_fields,
            "TS403",
            lambda name: f"the seed rows have no field `{name}`",
            (f"fields of the fixture rows: {', '.join(row_fields)}",),
        )

    def _check_names(
        self,
        found: Analysis,
        origin: TemplateOrigin,
        text: str,
        allowed: tuple[str, ...],
        code: str,
        message: Callable[[str], str],
        notes: tuple[str, ...],
    ) -> bool:
        """Report every free name of a template that is not in `allowed`."""
        ok = True
        for name, line in found.free:
            if name in allowed:
                continue
            self._at(
                origin,
                text,
                line,
                name,
                code,
                message(name),
                label=did_you_mean(name, allowed),
                notes=notes,
            )
            ok = False
        return ok

    def _check_filters(self, found: Analysis, origin: TemplateOrigin, text: str) -> bool:
        env = environment()
        ok = True
        for kind, name, line in found.calls:
            table = env.filters if kind == "filter" else env.tests
            if name not in table:
                self._at(
                    origin,
                    text,
                    line,
                    name,
                    "TS505",
                    f"unknown {kind} `{name}`",
                    label=did_you_mean(name, table),
                )
                ok = False
        return ok

    def _at(
        self,
        origin: TemplateOrigin,
        text: str,
        line: int,
        needle: str | None,
        code: str,
        message: str,
        *,
        label: str | None = None,
        notes: Iterable[str] = (),
    ) -> None:
        self.diagnostics.add(
            code, message, self.map_span(origin, text, line, needle), label=label, notes=notes
        )

    def map_span(self, origin: TemplateOrigin, text: str, line: int, needle: str | None) -> Span:
        """The file position of template line `line` (and of `needle` on it, if found)."""
        lines = split_lines(text) or [""]
        line = min(max(line, 1), len(lines))
        # Exact for `|` blocks and .j2 files; a best effort for folded or flowed text.
        file_line = origin.line + line - 1
        source = self.sources.get(origin.file)
        source_text = source.line(file_line) if source is not None else ""
        base_col = origin.col if (line == 1 or origin.multiline_exact) else 1
        if needle:
            at = source_text.find(needle, max(base_col - 1, 0))
            if at < 0:
                at = source_text.find(needle)
            if at >= 0:
                return Span.point(origin.file, file_line, at + 1, len(needle))
        stripped = len(source_text) - len(source_text.lstrip())
        col = max(base_col, stripped + 1) if source_text else base_col
        return Span.point(origin.file, file_line, col, max(len(source_text) - col + 1, 1))


# ---------------------------------------------------------------------- helpers


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the checks need from one template text, worked out once per text."""

    error: TemplateSyntaxError | None = None
    unsupported: tuple[tuple[int, str | None, str], ...] = ()
    calls: tuple[tuple[str, str, int], ...] = ()  # ("filter" or "test", name, line)
    free: tuple[tuple[str, int], ...] = ()  # undeclared names (sorted), first line of each
    reads: tuple[tuple[str, str, int], ...] = ()  # `seed.question`: (owner, attribute, line)


@lru_cache(maxsize=8192)
def _analyse(text: str) -> Analysis:
    try:
        parsed = parse(text)
    except TemplateSyntaxError as exc:
        return Analysis(error=exc)
    unsupported = tuple(
        (
            int(node.lineno),
            None,
            "templates are self-contained: `include`, `import` and `extends` are not supported",
        )
        for node in parsed.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends))
    )
    calls = tuple(
        ("filter" if isinstance(node, nodes.Filter) else "test", node.name, int(node.lineno))
        for node in parsed.find_all((nodes.Filter, nodes.Test))
    )
    first: dict[str, int] = {}
    for node in parsed.find_all(nodes.Name):
        first.setdefault(node.name, int(node.lineno))
    if "{%" not in text and all(node.ctx == "load" for node in parsed.find_all(nodes.Name)):
        # Without statements nothing is bound, so every name read is free (apart from
        # the environment's globals, as in Jinja's own analysis, which generates the
        # template's Python code to find out, which is slow).
        names = sorted(name for name in first if name not in environment().globals)
    else:
        try:
            names = sorted(meta.find_undeclared_variables(parsed))
        except Exception:  # an unknown filter: reported by the filter check instead
            names = []
    free = tuple((name, first.get(name, 1)) for name in names)
    return Analysis(None, unsupported, calls, free, tuple(_attribute_reads(parsed)))


def _attribute_reads(parsed: nodes.Template) -> Iterator[tuple[str, str, int]]:
    """`seed.question` and `seed["question"]` as (owner, attribute, line)."""
    for node in parsed.find_all((nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name):
                yield node.node.name, node.attr, int(node.lineno)
        elif isinstance(node, nodes.Getitem) and isinstance(node.node, nodes.Name):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                yield node.node.name, arg.value, int(node.lineno)


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _templates_dir(start: Path, top: str | None) -> Path | None:
    """The nearest `_templates/` at or above `start`, looking no higher than `top`."""
    for folder in (start, *start.parents):
        if top is None or not inside(str(folder), top):
            return None
        candidate = folder / TEMPLATES_DIR
        if candidate.is_dir():
            return candidate
    return None


def _name_problem(name: str) -> str | None:
    """Why a template name is not a plain name under `_templates/`, or None."""
    problem = name_problem(name)
    if problem is not None:
        return f"cannot be used: {problem}"
    if name.startswith("/") or "\\" in name or os.path.isabs(name):
        return "is an absolute path"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return "is not a plain name: `..`, `.` and empty parts are refused"
        if part.startswith("."):
            return "has a part that starts with a dot"
    return None


@lru_cache(maxsize=4096)
def _path(name: str) -> Path:
    """Spans name their files by string; the compiler asks for the same few many times."""
    return Path(name)


def spec_expressions(spec: TaskSpec) -> list[tuple[tuple[str, ...], Any]]:
    """Every field of a spec that holds an expression (or a hook), by its path."""
    m = spec.mapping
    a = m.answer
    out: list[tuple[tuple[str, ...], Any]] = [
        (("mapping", "question"), m.question),
        (("mapping", "context"), m.context),
        (("mapping", "choices"), m.choices),
        (("mapping", "rationale"), m.rationale),
        (("mapping", "tests"), m.tests),
        (("mapping", "id"), m.id),
        (("mapping", "answer", "index"), a.index),
        (("mapping", "answer", "label"), a.label),
        (("mapping", "answer", "labels"), a.labels),
        (("mapping", "answer", "text"), a.text),
        (("mapping", "answer", "aliases"), a.aliases),
        (("seeds", "where"), spec.seeds.where),
    ]
    out.extend((("mapping", "metadata", name), text) for name, text in m.metadata.items())
    return out


def record_fields(vars_keys: Iterable[str], format_fields: Iterable[str]) -> Fields:
    return Fields(
        {
            "seed": RECORD_FIELDS,
            "item": ITEM_FIELDS,
            "task": TASK_FIELDS,
            "vars": tuple(vars_keys),
            "format": tuple(format_fields),
            "scores": SCORES_FIELDS,
        }
    )
