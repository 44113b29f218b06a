"""Phase 5, plan: one plan unit per resolved subtask, with everything the runtime needs.

Templates and fixtures are embedded once each, keyed by a hash of their content; units
refer to them by that key. Paths are relative to the plan root, units are sorted by ID,
JSON keys are sorted, and nothing depends on the clock, so compiling twice gives the
same bytes. Each unit carries a fingerprint of its own content.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import msgspec

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.files import Catalog, Refusal
from taskseed.compiler.fixtures import FIXTURE_SUFFIXES, Fixture, FixtureReader
from taskseed.compiler.lsh_bands import optimal_bands_rows
from taskseed.compiler.nodes import MapNode, Node, ScalarNode, SeqNode, lookup
from taskseed.compiler.resolve import ResolvedUnit
from taskseed.compiler.source import SourceFile
from taskseed.compiler.spec import (
    DATA_KINDS,
    DedupSpec,
    KindSpec,
    MultipleChoiceFormat,
    SamplingSpec,
    TaskSpec,
    VerifySpec,
)
from taskseed.compiler.templates import (
    BASE_VARIABLES,
    ITEM_VARIABLES,
    Fields,
    TemplateChecker,
    TemplateOrigin,
    record_fields,
)
from taskseed.contract.jinja_budget import BudgetExceeded, within
from taskseed.contract.mapping import MappingError, compile_expr, normalize
from taskseed.contract.plan import (
    Plan,
    PlanAnswer,
    PlanBounds,
    PlanDecontaminate,
    PlanDedup,
    PlanFilters,
    PlanFixture,
    PlanFormat,
    PlanMapping,
    PlanPrompt,
    PlanSampling,
    PlanSeeds,
    PlanSource,
    PlanStep,
    PlanTemplate,
    PlanVerify,
    Unit,
)
from taskseed.contract.version import VERSION

EXTRACTORS = {
    "multiple_choice": "option",
    "numeric": "number",
    "short_answer": "short_answer",
    "code": "code",
    "free_form": "free_form",
}
# The diagnostic of each budget that a mapping can run out of on a fixture row.
BUDGET_CODES = {
    "time": "TS506",
    "size": "TS507",
    "integer": "TS508",
    "iterations": "TS509",
    "recursion": "TS510",
    "regex": "TS511",
}
# CPU time one compile may spend evaluating mappings on fixture rows, all units together
# (the catalog's 700 subtasks take well under a second).
MAX_EVALUATION_SECONDS = 60.0
BOUNDED_FIELDS = {
    "question_chars": "question",
    "answer_chars": "answer",
    "context_chars": "context",
    "rationale_chars": "rationale",
    "options": "options",
}


def content_id(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


@lru_cache(maxsize=8192)
def _text_id(text: str) -> str:
    return content_id(text)


@dataclass
class PlanBuilder:
    diagnostics: Diagnostics
    sources: dict[str, SourceFile]
    root: Path
    catalog: Catalog
    templates: dict[str, PlanTemplate] = field(default_factory=dict)
    fixtures: dict[str, PlanFixture] = field(default_factory=dict)
    _fixture_ids: dict[int, str] = field(default_factory=dict)
    _normalized: set[tuple[str, str]] = field(default_factory=set)
    _evaluation_seconds: float = 0.0
    expressions_ok: bool = True

    def __post_init__(self) -> None:
        self.checker = TemplateChecker(self.diagnostics, self.sources, self.catalog)
        self.reader = FixtureReader(self.diagnostics, self.sources)
        self._root = os.path.realpath(self.root)
        self._relative: dict[str, str] = {}

    # ------------------------------------------------------------------ paths

    def relative(self, path: Path) -> str:
        """`path` relative to the plan root, posix style (cached: called per unit)."""
        key = str(path)
        if key not in self._relative:
            rel = os.path.relpath(os.path.realpath(key), self._root)
            self._relative[key] = Path(rel).as_posix()
        return self._relative[key]

    @staticmethod
    def written_in(node: Node) -> Path:
        """The folder of the file that wrote a value (relative paths resolve from it)."""
        return _folder(node.span.file)

    # ------------------------------------------------------------------- unit

    def build_unit(
        self,
        resolved: ResolvedUnit,
        spec: TaskSpec,
        tree: MapNode,
        notes: Iterable[str],
        before: int,
    ) -> Unit | None:
        """The plan unit, or None when this unit has errors (counted from `before`)."""
        notes = tuple(notes)
        fmt = self.format(spec)
        fixture = self.fixture(spec, tree)
        mapping = self.mapping(spec, tree, fixture)
        fields = record_fields(resolved.vars, msgspec.structs.asdict(fmt))
        steps = []
        for kind in DATA_KINDS:
            kspec: KindSpec | None = getattr(spec.generate, kind)
            if kspec is None or not kspec.enabled:
                continue
            variables = BASE_VARIABLES if kind == "similar_question" else ITEM_VARIABLES
            prompt = self.prompt(kspec, tree, ("generate", kind), variables, fields)
            if prompt is None:
                continue
            source = kspec.source or (
                "seed"
                if kind == "similar_question" or not _enabled(spec, "similar_question")
                else "similar_question"
            )
            steps.append(
                PlanStep(
                    kind=kind,  # type: ignore[arg-type]
                    source=source,
                    per_seed=kspec.per_seed,
                    prompt=prompt,
                    sampling=_sampling(kspec.sampling),
                )
            )
        verify = self.verify(spec.verify, tree, fmt, fields)
        if not self.expressions_ok:
            return None
        seed_files = self.local_files(tree, ("seeds", "files"), spec.seeds.files)
        eval_files = self.local_files(tree, ("decontaminate", "files"), spec.decontaminate.files)
        if len(self.diagnostics.errors) > before:
            return None
        fixture_id = None
        if fixture is not None:
            fixture_id = self.register_fixture(fixture)
            self.check_fixture_rows(
                fixture, fixture_id, mapping, fmt, spec.seeds.where, resolved, tree, notes
            )
        if len(self.diagnostics.errors) > before:
            return None
        unit = Unit(
            id=f"{resolved.task}/{resolved.subtask}",
            task=resolved.task,
            subtask=resolved.subtask,
            title=spec.title,
            domain=spec.domain,
            description=spec.description,
            tags=list(spec.tags),
            vars=dict(resolved.vars),
            origin=self.relative(resolved.file),
            imported_from=spec.imported_from,
            family=spec.output.family
            or ("multiple_choice" if fmt.type == "multiple_choice" else "generative"),
            source=PlanSource(
                citation=spec.source.citation, license=spec.source.license, url=spec.source.url
            ),
            seeds=self.seeds(spec, seed_files, fixture_id),
            mapping=mapping,
            format=fmt,
            steps=steps,
            verify=verify,
            filters=_filters(spec),
            dedup=_dedup(spec),
            decontaminate=self.decontaminate(spec, eval_files),
        )
        unit.fingerprint = content_id(msgspec.json.encode(unit, order="deterministic"))
        return unit

    # --------------------------------------------------------------- sections

    @staticmethod
    def format(spec: TaskSpec) -> PlanFormat:
        fmt = spec.answer_format
        options = msgspec.structs.asdict(fmt)
        options["type"] = fmt.__struct_config__.tag
        if isinstance(fmt, MultipleChoiceFormat):
            options.setdefault("max_words", None)
        return msgspec.convert(options, PlanFormat)

    def fixture(self, spec: TaskSpec, tree: MapNode) -> Fixture | None:
        node = lookup(tree, ("seeds", "fixture"))
        if spec.seeds.fixture is None or not isinstance(node, ScalarNode):
            seeds = tree.entries.get("seeds")
            self.diagnostics.add(
                "TS405",
                f"task `{spec.task}` has no `seeds.fixture`: it cannot run offline",
                seeds.key_span if seeds is not None else tree.span,
            )
            return None
        located = self.catalog.locate(self.written_in(node), spec.seeds.fixture)
        if isinstance(located, Refusal):
            self.diagnostics.add(located.code, located.message, node.span, notes=located.notes)
            return None
        if located.path.suffix not in FIXTURE_SUFFIXES:
            self.diagnostics.add(
                "TS309",
                f"`seeds.fixture` names `{located.path.name}`, not a JSON Lines file",
                node.span,
                notes=[f"fixtures are JSON Lines files ending in {' or '.join(FIXTURE_SUFFIXES)}"],
            )
            return None
        return self.reader.read(located, node.span)

    def local_files(
        self, tree: MapNode, path: tuple[str, str], written: str | list[str] | None
    ) -> list[str]:
        """`seeds.files` or `decontaminate.files`, relative to the plan root; each path
        (or glob pattern) must stay inside the catalog. They are read at run time."""
        if written is None:
            return []
        node = lookup(tree, path)
        base = self.written_in(node) if node is not None else resolved_dir(tree)
        items = [written] if isinstance(written, str) else written
        spans = [node.span if node is not None else tree.span] * len(items)
        if isinstance(node, SeqNode) and len(node.items) == len(items):
            spans = [item.span for item in node.items]
        out = []
        for item, span in zip(items, spans, strict=True):
            refusal = self.catalog.check_pattern(base, item)
            if refusal is not None:
                self.diagnostics.add(refusal.code, refusal.message, span, notes=refusal.notes)
                continue
            out.append(self.relative(base / item))
        return out

    @staticmethod
    def seeds(spec: TaskSpec, files: list[str], fixture_id: str | None) -> PlanSeeds:
        seeds = spec.seeds
        return PlanSeeds(
            dataset=seeds.dataset,
            config=seeds.config,
            revision=seeds.revision,
            files=files,
            format=seeds.format,
            split=seeds.split,
            training_split_reason=seeds.training_split_reason,
            eval_splits=list(seeds.eval_splits),
            where=seeds.where,
            fixture=fixture_id,
        )

    @staticmethod
    def decontaminate(spec: TaskSpec, files: list[str]) -> PlanDecontaminate:
        d = spec.decontaminate
        splits = list(d.splits) if d.splits is not None else list(spec.seeds.eval_splits)
        dedup = _dedup(spec)
        bands, rows = optimal_bands_rows(d.threshold, dedup.num_perm)
        minhash = msgspec.structs.replace(
            dedup,
            enabled=True,
            threshold=d.threshold,
            bands=bands,
            rows=rows,
            against_seeds=False,
            fields=list(d.fields),
        )
        return PlanDecontaminate(
            enabled=d.enabled,
            ngram=d.ngram,
            threshold=d.threshold,
            splits=splits,
            files=files,
            fields=list(d.fields),
            minhash=minhash,
        )

    def mapping(self, spec: TaskSpec, tree: MapNode, fixture: Fixture | None) -> PlanMapping:
        row_fields = fixture.fields if fixture is not None else None
        self.expressions_ok = True
        for path, text in _expressions(spec):
            node = lookup(tree, path)
            if isinstance(node, ScalarNode) and isinstance(text, str):
                # A failure can repeat one already reported (the same span and message
                # in another subtask), so it is remembered here, not counted.
                self.expressions_ok &= self.checker.check_expression(text, node, row_fields)
        m = spec.mapping
        answer = m.answer
        source: Literal["index", "label", "text"] = (
            "index" if answer.index is not None else "label" if answer.label else "text"
        )
        value = answer.index or answer.label or answer.text or ""
        return PlanMapping(
            question=m.question,
            context=m.context,
            choices=m.choices,
            answer=PlanAnswer(
                source=source, value=value, labels=answer.labels, aliases=answer.aliases
            ),
            rationale=m.rationale,
            tests=m.tests,
            id=m.id,
            metadata=dict(m.metadata),
        )

    def prompt(
        self,
        fields_spec: KindSpec | VerifySpec,
        tree: MapNode,
        path: tuple[str, ...],
        variables: tuple[str, ...],
        fields: Fields,
    ) -> PlanPrompt | None:
        user_id: str | None = None
        if fields_spec.template is not None:
            node = lookup(tree, (*path, "template"))
            span = node.span if node is not None else tree.span
            spec_file = _path(span.file)
            source = self.checker.find_named(fields_spec.template, spec_file, span)
            if source is not None:
                origin = TemplateOrigin.from_file(source)
                if self.checker.check_template(source.text, origin, variables, fields):
                    user_id = self.register_template(source.text, self.relative(source.path))
        elif fields_spec.prompt is not None:
            user_id = self.inline(fields_spec.prompt, tree, (*path, "prompt"), variables, fields)
        system_id = None
        if fields_spec.system is not None:
            system_id = self.inline(fields_spec.system, tree, (*path, "system"), variables, fields)
            if system_id is None:
                return None
        if user_id is None:
            return None
        return PlanPrompt(user=user_id, system=system_id)

    def inline(
        self,
        text: str,
        tree: MapNode,
        path: tuple[str, ...],
        variables: tuple[str, ...],
        fields: Fields,
    ) -> str | None:
        node = lookup(tree, path)
        assert isinstance(node, ScalarNode)
        origin = TemplateOrigin.from_scalar(node)
        if not self.checker.check_template(text, origin, variables, fields):
            return None
        where = f"{self.relative(_path(node.span.file))}:{origin.line}"
        return self.register_template(text, where)

    def verify(
        self, spec: VerifySpec, tree: MapNode, fmt: PlanFormat, fields: Fields
    ) -> PlanVerify:
        prompt = None
        if spec.enabled:
            prompt = self.prompt(spec, tree, ("verify",), ITEM_VARIABLES, fields)
        extractor = EXTRACTORS[fmt.type] if spec.extractor == "auto" else spec.extractor
        return PlanVerify(
            enabled=spec.enabled,
            k=spec.k,
            threshold=spec.threshold,
            extractor=extractor,  # type: ignore[arg-type]
            prompt=prompt,
            sampling=_sampling(spec.sampling),
        )

    # ------------------------------------------------------------ embedding

    def register_template(self, text: str, origin: str) -> str:
        key = _text_id(text)
        self.templates.setdefault(key, PlanTemplate(source=text, origin=origin))
        return key

    def register_fixture(self, fixture: Fixture) -> str:
        cached = self._fixture_ids.get(id(fixture))
        if cached is not None:
            return cached
        rows = list(fixture.rows)
        key = content_id(msgspec.json.encode(rows, order="deterministic"))
        self.fixtures.setdefault(
            key, PlanFixture(origin=self.relative(fixture.source.path), rows=rows)
        )
        self._fixture_ids[id(fixture)] = key
        return key

    def check_fixture_rows(
        self,
        fixture: Fixture,
        fixture_id: str,
        mapping: PlanMapping,
        fmt: PlanFormat,
        where: str | None,
        resolved: ResolvedUnit,
        tree: MapNode,
        notes: tuple[str, ...],
    ) -> None:
        """Run the fixture rows this unit keeps (`seeds.where`) through its mapping,
        once per distinct mapping, as the runtime will."""
        encoded = msgspec.json.encode([mapping, fmt, where], order="deterministic")
        key = (content_id(encoded), fixture_id)
        if key in self._normalized:
            return
        self._normalized.add(key)
        if self._evaluation_seconds > MAX_EVALUATION_SECONDS:
            self.diagnostics.add(
                "TS506",
                f"the fixture rows of `{resolved.task}/{resolved.subtask}` were not checked: "
                f"this compile spent its budget of {MAX_EVALUATION_SECONDS:g} s of CPU time "
                "for evaluating mappings on fixture rows",
                tree.span,
                notes=notes,
            )
            return
        started = time.thread_time()
        failures: dict[str, list[tuple[int, MappingError]]] = {}
        keep = compile_expr(where) if where else None
        for row, line in zip(fixture.rows, fixture.lines, strict=True):
            # One budget per row, as the runtime's normalize stage spends it.
            error = within(_map_row, row, keep, mapping, fmt, resolved)
            if error is not None:
                failures.setdefault(error.field, []).append((line, error))
        self._evaluation_seconds += time.thread_time() - started
        for field_name, rows in failures.items():
            line, first = rows[0]
            path = (
                ("seeds", "where") if field_name == "where" else ("mapping", *field_name.split("."))
            )
            node = lookup(tree, path) or lookup(tree, path[:2]) or lookup(tree, ("mapping",))
            others = len(rows) - 1
            more = [f"{others} more fixture row{'s fail' if others > 1 else ' fails'} here"]
            more = more if others else []
            where_row = f"{fixture.source.name}:{line}"
            code = BUDGET_CODES.get(first.budget or "", "TS406")
            message = (
                f"fixture row at {where_row} does not map: {first.reason}"
                if code == "TS406"
                else f"`{field_name}` ran out of budget on the fixture row at {where_row}: "
                f"{first.reason}"
            )
            self.diagnostics.add(
                code,
                message,
                node.span if node is not None else tree.span,
                notes=[*notes, *more],
            )

    def finish(self, units: list[Unit]) -> Plan:
        units = sorted(units, key=lambda u: u.id)
        used_templates = {
            t
            for u in units
            for p in [*(s.prompt for s in u.steps), u.verify.prompt]
            if p is not None
            for t in (p.user, p.system)
            if t is not None
        }
        used_fixtures = {u.seeds.fixture for u in units if u.seeds.fixture}
        digest = hashlib.sha256()
        for unit in units:
            digest.update(f"{unit.id}\0{unit.fingerprint}\n".encode())
        return Plan(
            generator=f"taskseed {VERSION}",
            fingerprint=digest.hexdigest()[:16],
            units=units,
            templates={k: self.templates[k] for k in sorted(used_templates)},
            fixtures={k: self.fixtures[k] for k in sorted(used_fixtures)},
        )


def _map_row(
    row: dict[str, Any],
    keep: Callable[[dict[str, Any]], Any] | None,
    mapping: PlanMapping,
    fmt: PlanFormat,
    resolved: ResolvedUnit,
) -> MappingError | None:
    """Why one fixture row does not map (None when it maps or `seeds.where` drops it)."""
    if keep is not None:
        try:
            if not keep(row):
                return None
        except BudgetExceeded as exc:
            return MappingError("where", f"{type(exc).__name__}: {exc}", exc.kind)
        except Exception as exc:
            return MappingError("where", f"{type(exc).__name__}: {exc}")
    try:
        normalize(row, mapping, fmt, resolved.task, resolved.subtask)
    except MappingError as exc:
        return exc
    return None


def resolved_dir(tree: MapNode) -> Path:
    return _folder(tree.span.file)


@lru_cache(maxsize=4096)
def _path(name: str) -> Path:
    """Spans name their files by string; the compiler asks for the same few many times."""
    return Path(name)


@lru_cache(maxsize=4096)
def _folder(name: str) -> Path:
    return Path(name).parent


def _enabled(spec: TaskSpec, kind: str) -> bool:
    kspec: KindSpec | None = getattr(spec.generate, kind)
    return kspec is not None and kspec.enabled


def _expressions(spec: TaskSpec) -> list[tuple[tuple[str, ...], object]]:
    m = spec.mapping
    a = m.answer
    out: list[tuple[tuple[str, ...], object]] = [
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


def _sampling(spec: SamplingSpec | None) -> PlanSampling:
    spec = spec or SamplingSpec()
    return PlanSampling(
        temperature=spec.temperature,
        top_p=spec.top_p,
        max_tokens=spec.max_tokens,
        stop=list(spec.stop),
        seed=spec.seed,
    )


def _filters(spec: TaskSpec) -> PlanFilters:
    f = spec.filters
    bounds = {}
    for name, target in BOUNDED_FIELDS.items():
        value = getattr(f, name)
        if value is not None:
            bounds[target] = PlanBounds(min=value.min, max=value.max)

    def patterns(table: dict[str, str | list[str]]) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else list(v) for k, v in sorted(table.items())}

    return PlanFilters(
        bounds=bounds,
        answer_in_options=f.answer_in_options,
        distinct_options=f.distinct_options,
        require=patterns({str(k): v for k, v in f.require.items()}),
        forbid=patterns({str(k): v for k, v in f.forbid.items()}),
    )


def _dedup(spec: TaskSpec) -> PlanDedup:
    return plan_dedup(spec.dedup)


def plan_dedup(d: DedupSpec) -> PlanDedup:
    """A dedup section as the plan holds it, bands and rows chosen when not given."""
    if d.bands is not None and d.rows is not None:
        bands, rows = d.bands, d.rows
    else:
        bands, rows = optimal_bands_rows(d.threshold, d.num_perm)
    return PlanDedup(
        enabled=d.enabled,
        threshold=d.threshold,
        shingle=d.shingle,
        ngram=d.ngram,
        num_perm=d.num_perm,
        bands=bands,
        rows=rows,
        scope=d.scope,
        against_seeds=d.against_seeds,
        fields=list(d.fields),
    )
