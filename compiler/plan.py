"""Phase 5, plan: one plan unit per resolved subtask, with everything the runtime needs.

`PlanBuilder.build_unit` takes a unit checked by the earlier phases (`phases.CheckedUnit`,
its fixture, and the prompts that passed phase 4) and returns its plan unit, or None
when the unit has errors; `PlanBuilder.finish` assembles the plan.

Templates and fixtures are embedded once each, keyed by a hash of their content; units
refer to them by that key. Paths are relative to the plan root, units are sorted by ID,
JSON keys are sorted, and nothing depends on the clock, so compiling twice gives the
same bytes. Each unit carries a fingerprint of its own content.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.files import Catalog, Refusal
from taskseed.compiler.fixtures import FIXTURE_SUFFIXES, Fixture, FixtureReader
from taskseed.compiler.hooks import HookChecker, hook_reference, merge_hooks
from taskseed.compiler.lsh_bands import optimal_bands_rows
from taskseed.compiler.nodes import MapNode, Node, ScalarNode, SeqNode, lookup
from taskseed.compiler.phases import CheckedPrompt, CheckedTemplate, CheckedUnit, UnitTemplates
from taskseed.compiler.resolve import ResolvedUnit
from taskseed.compiler.source import SourceFile
from taskseed.compiler.spec import (
    DATA_KINDS,
    DataFiles,
    DedupSpec,
    EvalSourceSpec,
    HookSpec,
    JudgeSpec,
    KindSpec,
    MultipleChoiceFormat,
    SamplingSpec,
    TaskSpec,
    VerifySpec,
)
from taskseed.compiler.templates import spec_expressions
from taskseed.contract.defaults import PER_SEED, SAMPLING
from taskseed.contract.hooks import GATE
from taskseed.contract.jinja_budget import BudgetExceeded, within
from taskseed.contract.language import AUTO, OFF, detect_language, language_code
from taskseed.contract.mapping import MappingError, compile_expr, normalize
from taskseed.contract.plan import (
    Plan,
    PlanAnswer,
    PlanBounds,
    PlanDataFiles,
    PlanDecontaminate,
    PlanDedup,
    PlanEvalSource,
    PlanFilters,
    PlanFixture,
    PlanFormat,
    PlanHook,
    PlanJudge,
    PlanLanguage,
    PlanLengthBounds,
    PlanMapping,
    PlanPrompt,
    PlanRepetition,
    PlanSampling,
    PlanSeeds,
    PlanSource,
    PlanStep,
    PlanTemplate,
    PlanVerify,
    Unit,
)
from taskseed.contract.records import SeedRecord
from taskseed.contract.version import VERSION

_T = TypeVar("_T")

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
LENGTH_FIELDS = {
    "question_length": "question",
    "answer_length": "answer",
    "context_length": "context",
    "rationale_length": "rationale",
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
    _normalized: dict[tuple[str, str], list[SeedRecord]] = field(default_factory=dict)
    trust_hooks: bool = False  # run hooks on the fixture rows (`--trust-hooks`)
    _languages: dict[tuple[str, str], str | None] = field(default_factory=dict)
    # Fixture rows each (`seeds.where`, fixture) keeps; a unit that keeps none is warned.
    _kept: dict[tuple[str | None, str], int] = field(default_factory=dict)
    _fixtures_by_name: dict[tuple[str, str], Fixture | None] = field(default_factory=dict)
    _evaluation_seconds: float = 0.0

    def __post_init__(self) -> None:
        self.reader = FixtureReader(self.diagnostics, self.sources)
        self.hook_checker = HookChecker(self.diagnostics, self.root)
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
        self, checked: CheckedUnit, fixture: Fixture | None, templates: UnitTemplates
    ) -> Unit | None:
        """The plan unit, or None when this unit has errors (in its scope)."""
        resolved, spec, tree = checked.resolved, checked.spec, checked.tree
        notes = checked.scope.notes
        fmt = self.format(spec)
        hooks = self.hooks(spec, tree)
        mapping = self.mapping(spec, hooks)
        where = _computed(spec.seeds.where, ("seeds", "where"), hooks)
        steps = []
        for kind in DATA_KINDS:
            kspec: KindSpec | None = getattr(spec.generate, kind)
            checked_prompt = templates.steps.get(kind)
            if kspec is None or checked_prompt is None:
                continue
            inputs = kspec.source or (
                "seed"
                if kind == "similar_question" or not _enabled(spec, "similar_question")
                else "similar_question"
            )
            steps.append(
                PlanStep(
                    kind=kind,  # type: ignore[arg-type]
                    inputs=inputs,
                    per_seed=_given(kspec.per_seed, PER_SEED[kind]),
                    prompt=self.register_prompt(checked_prompt),
                    sampling=_sampling(kspec.sampling, kind),
                )
            )
        verify_prompt = templates.verify
        verify = self.verify(
            spec.verify, fmt, self.register_prompt(verify_prompt) if verify_prompt else None
        )
        judge = self.judge(
            spec.judge, self.register_prompt(templates.judge) if templates.judge else None
        )
        if not templates.expressions_ok:
            return None
        seed_files = self.local_files(tree, ("seeds", "files"), spec.seeds.files)
        eval_files = self.local_files(tree, ("decontaminate", "files"), spec.decontaminate.files)
        if checked.scope.failed:
            return None
        fixture_id = None
        key: tuple[str, str] | None = None
        language = self.language(spec, None, None, mapping, fmt, resolved)
        runnable = self.runnable(hooks, tree, notes)
        if fixture is not None:
            fixture_id = self.register_fixture(fixture)
            if runnable:
                key = self.check_fixture_rows(
                    fixture, fixture_id, mapping, fmt, where, resolved, tree, notes
                )
                self.check_fixture_kept(fixture, fixture_id, where, resolved, tree, notes)
                language = self.language(spec, key, fixture, mapping, fmt, resolved)
        if checked.scope.failed:
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
            seeds=self.seeds(spec, seed_files, fixture_id, where),
            mapping=mapping,
            format=fmt,
            steps=steps,
            verify=verify,
            judge=judge,
            filters=_filters(spec, mapping, language, self.seed_facts(key)),
            dedup=_dedup(spec),
            decontaminate=self.decontaminate(spec, resolved.subtask, eval_files),
            hooks=merge_hooks(list(hooks.values())),
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
        # Units of a task name the same few files: locate and read each (a walk of the
        # file system) once per spec file and name, not once per unit.
        key = (node.span.file, spec.seeds.fixture)
        if key not in self._fixtures_by_name:
            self._fixtures_by_name[key] = self.read_fixture(node, spec.seeds.fixture)
        return self._fixtures_by_name[key]

    def read_fixture(self, node: ScalarNode, name: str) -> Fixture | None:
        located = self.catalog.locate(self.written_in(node), name)
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

    def hooks(self, spec: TaskSpec, tree: MapNode) -> dict[tuple[str, ...], PlanHook]:
        """Every field given by a Python hook, checked statically (never imported)."""
        found: dict[tuple[str, ...], PlanHook] = {}
        for path, value in spec_expressions(spec):
            if not isinstance(value, HookSpec):
                continue
            node = lookup(tree, (*path, "hook")) or lookup(tree, path) or tree
            checked = self.hook_checker.check(
                value, self.written_in(node), node.span, ".".join(path)
            )
            if checked is not None:
                found[path] = checked
        return found

    def runnable(
        self, hooks: dict[tuple[str, ...], PlanHook], tree: MapNode, notes: tuple[str, ...]
    ) -> bool:
        """Whether the fixture rows may be mapped: yes without hooks, or with hooks
        that `--trust-hooks` lets this process run; otherwise warn at every hook."""
        if not hooks:
            return True
        if self.trust_hooks:
            GATE.allow(((h.file, h.function, h.sha256) for h in hooks.values()), self.root)
            return True
        for path, hook in hooks.items():
            node = lookup(tree, (*path, "hook")) or lookup(tree, path) or tree
            self.diagnostics.add(
                "TS604",
                f"`{'.'.join(path)}` calls the Python hook {hook.function} in {hook.file}, "
                "checked without running it",
                node.span,
                notes=[
                    *notes,
                    "the fixture rows are not mapped; --trust-hooks runs the hooks on them",
                ],
            )
        return False

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
    def seeds(
        spec: TaskSpec, files: list[str], fixture_id: str | None, where: str | None
    ) -> PlanSeeds:
        seeds = spec.seeds
        return PlanSeeds(
            dataset=seeds.dataset,
            config=seeds.config,
            revision=seeds.revision,
            data_files=plan_data_files(seeds.data_files),
            data_dir=seeds.data_dir,
            files=files,
            format=seeds.format,
            split=seeds.split,
            training_split_reason=seeds.training_split_reason,
            eval_splits=list(seeds.eval_splits),
            where=where,
            fixture=fixture_id,
        )

    @staticmethod
    def decontaminate(spec: TaskSpec, subtask: str, files: list[str]) -> PlanDecontaminate:
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
            sources=[source for item in d.sources for source in eval_sources(item, subtask)],
            minhash=minhash,
        )

    @staticmethod
    def mapping(spec: TaskSpec, hooks: dict[tuple[str, ...], PlanHook]) -> PlanMapping:
        m = spec.mapping
        answer = m.answer
        given_as: Literal["index", "label", "text"] = (
            "index" if answer.index is not None else "label" if answer.label else "text"
        )
        given = answer.index if answer.index is not None else answer.label or answer.text or ""
        a = ("mapping", "answer")
        return PlanMapping(
            question=_computed(m.question, ("mapping", "question"), hooks) or "",
            context=_computed(m.context, ("mapping", "context"), hooks),
            choices=_listed(m.choices, ("mapping", "choices"), hooks),
            answer=PlanAnswer(
                given_as=given_as,
                value=_computed(given, (*a, given_as), hooks) or "",
                labels=_listed(answer.labels, (*a, "labels"), hooks),
                aliases=_computed(answer.aliases, (*a, "aliases"), hooks),
            ),
            rationale=_computed(m.rationale, ("mapping", "rationale"), hooks),
            tests=_computed(m.tests, ("mapping", "tests"), hooks),
            id=_computed(m.id, ("mapping", "id"), hooks),
            metadata={
                name: _computed(text, ("mapping", "metadata", name), hooks) or ""
                for name, text in m.metadata.items()
            },
        )

    @staticmethod
    def verify(spec: VerifySpec, fmt: PlanFormat, prompt: PlanPrompt | None) -> PlanVerify:
        extractor = EXTRACTORS[fmt.type] if spec.extractor == "auto" else spec.extractor
        return PlanVerify(
            enabled=spec.enabled,
            k=spec.k,
            threshold=spec.threshold,
            extractor=extractor,  # type: ignore[arg-type]
            prompt=prompt,
            sampling=_sampling(spec.sampling, "verify"),
        )

    @staticmethod
    def judge(spec: JudgeSpec, prompt: PlanPrompt | None) -> PlanJudge:
        if not spec.enabled:
            return PlanJudge()  # off: nothing of it reaches the runtime
        return PlanJudge(
            enabled=True,
            k=spec.k,
            threshold=spec.threshold,
            criteria=list(spec.scores.criteria),
            min=spec.scores.min,
            max=spec.scores.max,
            prompt=prompt,
            sampling=_sampling(spec.sampling, "judge"),
        )

    # ------------------------------------------------------------ embedding

    def register_prompt(self, prompt: CheckedPrompt) -> PlanPrompt:
        user = self.register(prompt.user)
        system = self.register(prompt.system) if prompt.system is not None else None
        return PlanPrompt(user=user, system=system)

    def register(self, template: CheckedTemplate) -> str:
        """Embed a checked template; its origin is its file relative to the plan root,
        and the line where its text starts when a spec holds it."""
        origin = self.relative(template.file)
        if template.line is not None:
            origin = f"{origin}:{template.line}"
        return self.register_template(template.text, origin)

    def register_template(self, text: str, origin: str) -> str:
        key = _text_id(text)
        self.templates.setdefault(key, PlanTemplate(text=text, origin=origin))
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

    def check_fixture_kept(
        self,
        fixture: Fixture,
        fixture_id: str,
        where: str | None,
        resolved: ResolvedUnit,
        tree: MapNode,
        notes: tuple[str, ...],
    ) -> None:
        """Warn when `seeds.where` keeps none of the unit's fixture rows: the subtask
        would never see a seed offline, so its mapping and templates go untested."""
        key = (where, fixture_id)
        kept = self._kept.get(key)
        if kept is None:
            kept = len(fixture.rows) if where is None else _count_kept(fixture.rows, where)
            self._kept[key] = kept
        if kept:
            return
        node = lookup(tree, ("seeds", "where")) or lookup(tree, ("seeds", "fixture"))
        self.diagnostics.add(
            "TS409",
            f"`seeds.where` of `{resolved.task}/{resolved.subtask}` keeps none of the "
            f"{len(fixture.rows)} rows of {fixture.source.name}: it never sees a seed offline",
            node.span if node is not None else tree.span,
            label="add fixture rows that this expression keeps",
            notes=notes,
        )

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
    ) -> tuple[str, str]:
        """Run the fixture rows this unit keeps (`seeds.where`) through its mapping,
        once per distinct mapping, as the runtime will. Returns the key under which the
        records are kept (`_normalized`)."""
        encoded = msgspec.json.encode([mapping, fmt, where], order="deterministic")
        key = (content_id(encoded), fixture_id)
        if key in self._normalized:
            return key
        records: list[SeedRecord] = []
        self._normalized[key] = records
        if self._evaluation_seconds > MAX_EVALUATION_SECONDS:
            self.diagnostics.add(
                "TS506",
                f"the fixture rows of `{resolved.task}/{resolved.subtask}` were not checked: "
                f"this compile spent its budget of {MAX_EVALUATION_SECONDS:g} s of CPU time "
                "for evaluating mappings on fixture rows",
                tree.span,
                notes=notes,
            )
            return key
        started = time.thread_time()
        failures: dict[str, list[tuple[int, MappingError]]] = {}
        keep = compile_expr(where) if where else None
        kept = 0
        for row, line in zip(fixture.rows, fixture.lines, strict=True):
            # One budget per row, as the runtime's normalize stage spends it.
            outcome = within(_map_row, row, keep, mapping, fmt, resolved)
            if isinstance(outcome, SeedRecord):
                kept += 1
                records.append(outcome)
            elif isinstance(outcome, MappingError):
                kept += 1  # reported as an error here, not again as a row nothing keeps
                failures.setdefault(outcome.field, []).append((line, outcome))
        self._kept[(where, fixture_id)] = kept  # for check_fixture_kept
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
        return key

    def language(
        self,
        spec: TaskSpec,
        key: tuple[str, str] | None,
        fixture: Fixture | None,
        mapping: PlanMapping,
        fmt: PlanFormat,
        resolved: ResolvedUnit,
    ) -> tuple[str | None, Literal["spec", "fixtures"] | None]:
        """The subtask's language and where it came from: the spec, or its fixture rows
        (the seed records' questions and contexts, read together once per distinct
        fixture and mapping; all the fixture's rows that map when `seeds.where` keeps
        none). `rules.py` has reported a value that names no language."""
        value = spec.language.strip().lower()
        if value in OFF:
            return None, None
        if value != AUTO:
            return language_code(value), "spec"
        if key is None or fixture is None or spec.filters.language is None:
            return None, None  # detected only where a language check needs it
        if key not in self._languages:
            records = self._normalized.get(key) or _every_record(fixture, mapping, fmt, resolved)
            texts = [
                text for record in records for text in (record.question, record.context) if text
            ]
            guess = detect_language(texts)
            self._languages[key] = guess.code if guess is not None else None
        code = self._languages[key]
        return code, "fixtures" if code is not None else None

    def seed_facts(self, key: tuple[str, str] | None) -> SeedFacts:
        """What every seed the unit keeps has in common, for the filters that follow
        the seeds' form; nothing is known without seeds."""
        records = self._normalized.get(key, []) if key is not None else []
        with_context = [r for r in records if r.context]
        return SeedFacts(
            ask=bool(records) and all(QUESTION_MARK.search(r.question) for r in records),
            answers_in_context=bool(with_context)
            and len(with_context) == len(records)
            and all(_folded(r.answer) in _folded(r.context or "") for r in with_context),
        )

    def finish(self, units: list[Unit]) -> Plan:
        units = sorted(units, key=lambda u: u.id)
        used_templates = {
            t
            for u in units
            for p in [*(s.prompt for s in u.steps), u.verify.prompt, u.judge.prompt]
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


QUESTION_MARK = re.compile("[?\uff1f\u061f\u055e\u037e;]")  # ?, ？, ؟, ՞, ;, ;


def _folded(text: str) -> str:
    """Lower case, punctuation out, spaces collapsed: as `runtime/degenerate.normalized`
    folds texts before the filter looks for an answer in its context."""
    unarticled = _ARTICLES.sub(" ", text)
    kept = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in unarticled.lower())
    return " ".join(kept.split())


# As `runtime/degenerate.ARTICLES`: lower-case articles anywhere, capitalised ones only
# where a text starts ("Vitamin A" keeps its letter).
_ARTICLES = re.compile(r"^(?:A|An|The)\b|\b(?:a|an|the)\b")


@dataclass(frozen=True)
class SeedFacts:
    ask: bool  # every seed question has a question mark
    answers_in_context: bool  # every seed has a context that holds its answer


def _every_record(
    fixture: Fixture, mapping: PlanMapping, fmt: PlanFormat, resolved: ResolvedUnit
) -> list[SeedRecord]:
    """The fixture's rows that map, whatever `seeds.where` keeps."""
    records = []
    for row in fixture.rows:
        try:
            records.append(normalize(row, mapping, fmt, resolved.task, resolved.subtask))
        except MappingError:
            continue
    return records


def _map_row(
    row: dict[str, Any],
    keep: Callable[[dict[str, Any]], Any] | None,
    mapping: PlanMapping,
    fmt: PlanFormat,
    resolved: ResolvedUnit,
) -> SeedRecord | MappingError | None:
    """One fixture row's record, or why it does not map (None: `seeds.where` drops it)."""
    if keep is not None:
        try:
            if not keep(row):
                return None
        except BudgetExceeded as exc:
            return MappingError("where", f"{type(exc).__name__}: {exc}", exc.kind)
        except Exception as exc:
            return MappingError("where", f"{type(exc).__name__}: {exc}")
    try:
        return normalize(row, mapping, fmt, resolved.task, resolved.subtask)
    except MappingError as exc:
        return exc


def resolved_dir(tree: MapNode) -> Path:
    return _folder(tree.span.file)


@lru_cache(maxsize=4096)
def _folder(name: str) -> Path:
    return Path(name).parent


def _computed(
    value: str | HookSpec | None, path: tuple[str, ...], hooks: dict[tuple[str, ...], PlanHook]
) -> str | None:
    """An expression as the plan holds it: the text, or a hook's reference."""
    if isinstance(value, HookSpec):
        hook = hooks.get(path)
        return hook_reference(hook) if hook is not None else ""
    return value


def _listed(
    value: str | list[str] | HookSpec | None,
    path: tuple[str, ...],
    hooks: dict[tuple[str, ...], PlanHook],
) -> str | list[str] | None:
    return list(value) if isinstance(value, list) else _computed(value, path, hooks)


def _enabled(spec: TaskSpec, kind: str) -> bool:
    kspec: KindSpec | None = getattr(spec.generate, kind)
    return kspec is not None and kspec.enabled


def _sampling(spec: SamplingSpec | None, kind: str) -> PlanSampling:
    """A request's final sampling: the spec's fields over the kind's defaults."""
    spec = spec or SamplingSpec()
    default = SAMPLING[kind]
    return PlanSampling(
        temperature=_given(spec.temperature, default.temperature),
        top_p=_given(spec.top_p, default.top_p),
        max_tokens=_given(spec.max_tokens, default.max_tokens),
        stop=list(spec.stop),
        seed=spec.seed,
    )


def _given(value: _T | None, default: _T) -> _T:
    return default if value is None else value


def _filters(
    spec: TaskSpec,
    mapping: PlanMapping,
    language: tuple[str | None, Literal["spec", "fixtures"] | None],
    seeds: SeedFacts,
) -> PlanFilters:
    f = spec.filters
    bounds = {}
    for name, target in BOUNDED_FIELDS.items():
        value = getattr(f, name)
        if value is not None:
            bounds[target] = PlanBounds(min=value.min, max=value.max)
    lengths = {}
    for name, target in LENGTH_FIELDS.items():
        length = getattr(f, name)
        if length is not None:
            lengths[target] = PlanLengthBounds(min=length.min, max=length.max)

    def patterns(table: dict[str, str | list[str]]) -> dict[str, list[str]]:
        return {k: [v] if isinstance(v, str) else list(v) for k, v in sorted(table.items())}

    # Options written into the spec (`[entailment, neutral, contradiction]`) are class
    # labels, the same for every item (and in every language of a task): they are not
    # checked for their language, and a question may name them.
    fixed_options = isinstance(mapping.choices, list)
    code, code_from = language
    checked = PlanLanguage(code=code, code_from=code_from)
    if f.language is not None and code is not None:
        fields: list[str] = list(f.language.fields)
        if fixed_options:
            fields = [name for name in fields if name != "choices"]
        checked = PlanLanguage(
            code=code,
            code_from=code_from,
            fields=fields,
            min_length=f.language.min_length,
            min_script_share=f.language.min_script_share,
            min_share=f.language.min_share,
            min_confidence=f.language.min_confidence,
        )
    repetition = PlanRepetition()
    if f.repetition is not None:
        r = f.repetition
        repetition = PlanRepetition(
            fields=list(r.fields),
            min_words=r.min_words,
            duplicate_lines=r.duplicate_lines,
            duplicate_line_chars=r.duplicate_line_chars,
            top_ngrams=list(r.top_ngrams),
            duplicate_ngrams=list(r.duplicate_ngrams),
        )
    return PlanFilters(
        bounds=bounds,
        lengths=lengths,
        answer_in_options=f.answer_in_options,
        distinct_options=f.distinct_options,
        label_options=f.label_options,
        labelled_options=f.labelled_options,
        placeholders=f.placeholders,
        repeats_question=f.repeats_question,
        answer_in_question=f.answer_in_question and not fixed_options,
        context_repeats_question=f.context_repeats_question,
        fragments=f.fragments,
        question_mark=f.question_mark and seeds.ask,
        answer_in_context=f.answer_in_context and seeds.answers_in_context,
        require=patterns({str(k): v for k, v in f.require.items()}),
        forbid=patterns({str(k): v for k, v in f.forbid.items()}),
        language=checked,
        repetition=repetition,
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


def _count_kept(rows: Sequence[dict[str, Any]], where: str) -> int:
    """How many rows `where` keeps; a row it fails on counts as kept, since the failure
    is reported as an error of its own (TS406, TS506-TS511), not as a subtask without
    seeds."""
    keep = compile_expr(where)
    kept = 0
    for row in rows:
        try:
            kept += bool(keep(row))
        except Exception:
            kept += 1
    return kept


def plan_data_files(data_files: DataFiles | None) -> PlanDataFiles | None:
    """`data_files` as the plan holds it: every pattern in a list."""
    if data_files is None:
        return None
    if isinstance(data_files, str):
        return [data_files]
    if isinstance(data_files, list):
        return list(data_files)
    return {
        split: [patterns] if isinstance(patterns, str) else list(patterns)
        for split, patterns in sorted(data_files.items())
    }


def eval_sources(spec: EvalSourceSpec, subtask: str) -> list[PlanEvalSource]:
    """One plan source per config and split of a benchmark in another dataset that
    applies to `subtask` (by `subtasks`, or by the keys of `configs`)."""
    if spec.configs is not None:
        named = spec.configs.get(subtask)
        if named is None:
            return []
        configs: list[str | None] = [named] if isinstance(named, str) else list(named)
    elif spec.subtasks is None or subtask in spec.subtasks:
        configs = [spec.config]
    else:
        return []
    splits = [spec.split] if isinstance(spec.split, str) else list(spec.split)
    mapping = None
    if spec.mapping is not None:
        fields = msgspec.structs.asdict(spec.mapping)
        mapping = {name: text for name, text in fields.items() if text is not None}
    return [
        PlanEvalSource(
            dataset=spec.dataset,
            config=config,
            revision=spec.revision,
            data_files=plan_data_files(spec.data_files),
            data_dir=spec.data_dir,
            split=split,
            mapping=mapping,
        )
        for config in configs
        for split in splits
    ]
