"""The execution plan: versioned data the runtime reads, never pickled code.

Plan structs are resolved (every default filled in, every template and fixture
embedded by content id) and tolerant: they accept fields they do not know, so an older
runtime can read a newer plan's optional additions. `PLAN_VERSION` changes only when a
plan would be misread by an older runtime.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

PLAN_FORMAT = "taskseed.plan"
PLAN_VERSION = 2


class Base(msgspec.Struct, kw_only=True, omit_defaults=False):
    pass


class PlanSource(Base, kw_only=True):
    """The seed dataset's citation and licence: the spec's `source` section."""

    citation: str | None = None  # None only where validation warned (TS600)
    license: str
    url: str | None = None


# `datasets.load_dataset`'s `data_files`, normalized: split name -> patterns, or patterns.
PlanDataFiles = dict[str, list[str]] | list[str]


class PlanSeeds(Base, kw_only=True):
    dataset: str | None = None
    config: str | None = None
    revision: str | None = None
    data_files: PlanDataFiles | None = None  # paths inside the dataset repository
    data_dir: str | None = None
    files: list[str] = msgspec.field(default_factory=list)  # relative to the plan root
    format: Literal["jsonl", "parquet", "csv"] | None = None
    split: str = "train"
    training_split_reason: str | None = None
    eval_splits: list[str] = msgspec.field(default_factory=list)
    where: str | None = None
    fixture: str | None = None  # key into Plan.fixtures


class PlanAnswer(Base, kw_only=True):
    # What `value` gives: the answer's option index, its label, or its text.
    given_as: Literal["index", "label", "text"]
    value: str  # the expression
    labels: str | list[str] | None = None
    aliases: str | None = None


class PlanMapping(Base, kw_only=True):
    question: str
    context: str | None = None
    choices: str | list[str] | None = None
    answer: PlanAnswer
    rationale: str | None = None
    tests: str | None = None
    id: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)


class PlanFormat(Base, kw_only=True):
    """The answer format, flattened: options of other formats keep their defaults."""

    type: Literal["multiple_choice", "numeric", "short_answer", "code", "free_form"]
    labels: Literal["letters", "numbers"] = "letters"
    min_options: int = 2
    max_options: int = 10
    shuffle: bool = True
    tolerance: float = 1e-6
    relative_tolerance: float = 0.0
    integer: bool = False
    max_words: int | None = None
    case_sensitive: bool = False
    language: str = "python"
    entry_point: str | None = None
    timeout_s: float = 10.0


class PlanSampling(Base, kw_only=True):
    temperature: float
    top_p: float
    max_tokens: int
    stop: list[str] = msgspec.field(default_factory=list)
    seed: int | None = None


class PlanPrompt(Base, kw_only=True):
    user: str  # key into Plan.templates
    system: str | None = None  # key into Plan.templates


class PlanStep(Base, kw_only=True):
    kind: Literal["similar_question", "answer_enriched", "context_enriched"]
    inputs: Literal["seed", "similar_question"]  # the items it starts from (spec: `from`)
    per_seed: int
    prompt: PlanPrompt
    sampling: PlanSampling


class PlanVerify(Base, kw_only=True):
    enabled: bool
    k: int
    threshold: float
    extractor: Literal["option", "number", "short_answer", "code", "free_form"]
    prompt: PlanPrompt | None
    sampling: PlanSampling


class PlanJudge(Base, kw_only=True):
    """The LLM judge after verification; a plan without one has it off."""

    enabled: bool = False
    k: int = 0
    threshold: float = 0.0
    criteria: list[str] = msgspec.field(default_factory=list)
    min: int = 0  # each criterion's score is an integer in [min, max]
    max: int = 0
    prompt: PlanPrompt | None = None
    sampling: PlanSampling | None = None


class PlanBounds(Base, kw_only=True):
    min: int | None = None
    max: int | None = None


class PlanLengthBounds(Base, kw_only=True):
    min: float | None = None
    max: float | None = None


class PlanLanguage(Base, kw_only=True):
    """The subtask's language and how the language filter checks it."""

    code: str | None = None  # the identifier's code (`ko`); None: unknown or off
    code_from: Literal["spec", "fixtures"] | None = None  # where `code` came from
    fields: list[str] = msgspec.field(default_factory=list)  # empty: not checked
    min_length: float = 20.0
    min_script_share: float = 0.3
    min_share: float = 0.1
    min_confidence: float = 0.5


class PlanRepetition(Base, kw_only=True):
    fields: list[str] = msgspec.field(default_factory=list)  # empty: not checked
    min_words: int = 50
    duplicate_lines: float | None = None
    duplicate_line_chars: float | None = None
    top_ngrams: list[float] = msgspec.field(default_factory=list)  # n = 2, 3, ...
    duplicate_ngrams: list[float] = msgspec.field(default_factory=list)  # n = 5, 6, ...


class PlanFilters(Base, kw_only=True):
    bounds: dict[str, PlanBounds] = msgspec.field(default_factory=dict)  # characters
    lengths: dict[str, PlanLengthBounds] = msgspec.field(default_factory=dict)  # weighted
    answer_in_options: bool = True
    distinct_options: bool = True
    label_options: bool = False
    labelled_options: bool = False
    placeholders: bool = False
    repeats_question: bool = False
    answer_in_question: bool = False
    context_repeats_question: bool = False
    fragments: bool = False
    # Resolved from the spec's flags and the fixture seeds (they all ask with a question
    # mark; their answers are all in their contexts).
    question_mark: bool = False
    answer_in_context: bool = False
    require: dict[str, list[str]] = msgspec.field(default_factory=dict)
    forbid: dict[str, list[str]] = msgspec.field(default_factory=dict)
    language: PlanLanguage = msgspec.field(default_factory=PlanLanguage)
    repetition: PlanRepetition = msgspec.field(default_factory=PlanRepetition)


class PlanDedup(Base, kw_only=True):
    enabled: bool
    threshold: float
    shingle: Literal["word", "char"]
    ngram: int
    num_perm: int
    bands: int
    rows: int
    scope: Literal["subtask", "task", "catalog"]
    against_seeds: bool
    fields: list[str]


class PlanEvalSource(Base, kw_only=True):
    """One split of a benchmark in another dataset, checked against like an eval split."""

    dataset: str
    config: str | None = None
    revision: str | None = None
    data_files: PlanDataFiles | None = None
    data_dir: str | None = None
    split: str
    # Record field -> expression over the benchmark's rows; None: the unit's own mapping.
    mapping: dict[str, str] | None = None

    @property
    def label(self) -> str:
        """How reasons and the manifest name it: `dataset[/config]:split`."""
        name = self.dataset if self.config is None else f"{self.dataset}/{self.config}"
        return f"{name}:{self.split}"


class PlanDecontaminate(Base, kw_only=True):
    enabled: bool
    ngram: int
    threshold: float
    splits: list[str]  # held-out splits of the dataset
    files: list[str]  # relative to the plan root
    fields: list[str]
    sources: list[PlanEvalSource] = msgspec.field(default_factory=list)  # other datasets
    # The near-duplicate check against held-out items: the unit's dedup shingles at
    # `threshold`, with bands and rows chosen for it by the compiler.
    minhash: PlanDedup


class PlanHook(Base, kw_only=True):
    """A Python function the unit calls (`contract/hooks.py`); an expression field that
    calls it holds `hook:<file>:<function>`."""

    file: str  # relative to the plan root
    function: str
    sha256: str  # of the file as compiled; a changed file is refused
    fields: list[str] = msgspec.field(default_factory=list)  # "mapping.question", "seeds.where"


class Unit(Base, kw_only=True):
    id: str  # "task/subtask"
    task: str
    subtask: str
    title: str
    domain: Literal["knowledge", "reasoning"]
    description: str | None = None
    tags: list[str] = msgspec.field(default_factory=list)
    vars: dict[str, Any] = msgspec.field(default_factory=dict)
    origin: str  # the spec file, relative to the plan root
    imported_from: str | None = None
    family: Literal["multiple_choice", "generative"]
    source: PlanSource
    seeds: PlanSeeds
    mapping: PlanMapping
    format: PlanFormat
    steps: list[PlanStep]
    verify: PlanVerify
    judge: PlanJudge = msgspec.field(default_factory=PlanJudge)
    filters: PlanFilters
    dedup: PlanDedup
    decontaminate: PlanDecontaminate
    hooks: list[PlanHook] = msgspec.field(default_factory=list)  # run only with --trust-hooks
    fingerprint: str = ""


class PlanTemplate(Base, kw_only=True):
    text: str  # the Jinja source
    origin: str  # "taskspecs/_templates/x.j2" or "taskspecs/reasoning/arc.yaml:40"


class PlanFixture(Base, kw_only=True):
    origin: str
    rows: list[dict[str, Any]]


class Plan(Base, kw_only=True):
    format: str = PLAN_FORMAT
    version: int = PLAN_VERSION
    generator: str
    fingerprint: str
    units: list[Unit]
    templates: dict[str, PlanTemplate]
    fixtures: dict[str, PlanFixture]

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)


class PlanHeader(msgspec.Struct):
    """Read first, so that a plan from another version fails with a clear message."""

    format: str = ""
    version: int = 0
    generator: str = ""


def encode(plan: Plan) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    raw = msgspec.json.encode(plan, order="deterministic")
    return msgspec.json.format(raw, indent=2) + b"\n"


class PlanError(Exception):
    """A file that is not a plan this runtime can read."""


def decode(data: bytes) -> Plan:
    try:
        header = msgspec.json.decode(data, type=PlanHeader)
    except msgspec.DecodeError as exc:
        raise PlanError(f"not a taskseed plan: {exc}") from None
    if header.format != PLAN_FORMAT:
        raise PlanError("not a taskseed plan (no `format: taskseed.plan` field)")
    if header.version != PLAN_VERSION:
        raise PlanError(
            f"plan version {header.version} (written by {header.generator or 'unknown'}) "
            f"cannot be read by this taskseed, which reads version {PLAN_VERSION}; "
            "compile the specs again with this version"
        )
    try:
        return msgspec.json.decode(data, type=Plan)
    except msgspec.ValidationError as exc:
        raise PlanError(f"the plan is malformed: {exc}") from None
