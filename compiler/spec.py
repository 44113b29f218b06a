"""Task spec format, version 1: the types of what users write.

These structs mirror the YAML and are strict (`forbid_unknown_fields`). They are not
what the runtime reads: the plan (`contract/plan.py`) holds the resolved, tolerant form.
Field descriptions end up in `schemas/taskspec.schema.json`, which editors use for
completion and hover text. The format is documented in `docs/taskspec.md`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, field

SPEC_VERSION = 1

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Name = Annotated[
    str,
    Meta(
        pattern=NAME_PATTERN,
        max_length=120,
        description="Letters, digits, `_`, `-` and `.`; starts with a letter or digit.",
    ),
]
Expression = Annotated[
    str,
    Meta(
        description=(
            "A Jinja expression over the seed row (`choices.text`, `answers.text[0]`), "
            'or a template when it contains `{{` (`"{{ a }} {{ b }}"`).'
        )
    ),
]
TemplateText = Annotated[str, Meta(description="An inline Jinja template.")]
Scalar = str | int | float | bool
RecordField = Literal["question", "context", "answer", "rationale", "choices"]
Probability = Annotated[float, Meta(gt=0, le=1)]
Count = Annotated[int, Meta(ge=0)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    pass


HOOK_PATTERN = r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$"


class HookSpec(Strict, kw_only=True):
    """A Python function that computes the value from the native row, instead of an
    expression. Opt-in and visible: validation checks it without running it unless
    `--trust-hooks` is given, and a run calls it only with `--trust-hooks`."""

    hook: Annotated[
        str,
        Meta(
            pattern=HOOK_PATTERN,
            description="`file.py:function`: a Python file of the catalog (relative to the "
            "spec) and a function of one argument, the row.",
        ),
    ]


Computed = Expression | HookSpec


class SourceSpec(Strict, kw_only=True):
    """Where the seed data comes from, how to cite it, and under which licence."""

    citation: Annotated[
        str | None,
        Meta(description="How to cite the dataset (a warning, TS600, until it is given)."),
    ] = None
    license: Annotated[str, Meta(description="The seed data's licence (SPDX id where one exists).")]
    url: str | None = None


DataFiles = Annotated[
    str | list[str] | dict[str, str | list[str]],
    Meta(
        description=(
            "Files of the dataset repository to read, as `datasets.load_dataset` takes "
            "them: a pattern, a list, or split name -> pattern(s). With "
            "`revision: refs/convert/parquet` they name the Hub's Parquet export "
            "(`<config>/<split>/*.parquet`) of a repository that loads through a script."
        )
    ),
]
DataDir = Annotated[
    str | None,
    Meta(description="A folder of the dataset repository to read the files of."),
]


class SeedsSpec(Strict, kw_only=True):
    """The seed pool: a Hugging Face dataset or local files, and a training split only."""

    dataset: Annotated[str | None, Meta(description="Hugging Face dataset id.")] = None
    config: Annotated[str | None, Meta(description="Dataset configuration name.")] = None
    revision: Annotated[
        str | None,
        Meta(description="Dataset revision: a commit, tag or branch (`refs/convert/parquet`)."),
    ] = None
    data_files: DataFiles | None = None
    data_dir: DataDir = None
    files: Annotated[
        str | list[str] | None,
        Meta(description="Local JSONL, Parquet or CSV file(s) or globs, relative to the spec."),
    ] = None
    format: Literal["jsonl", "parquet", "csv"] | None = None
    split: Annotated[str, Meta(description="The training split that seeds come from.")] = "train"
    training_split_reason: Annotated[
        str | None,
        Meta(description="Why a split whose name is not a training name is a training split."),
    ] = None
    eval_splits: Annotated[
        list[str],
        Meta(description="Splits the task is evaluated on: never seeds; used to decontaminate."),
    ] = field(default_factory=list)
    where: Annotated[
        Computed | None,
        Meta(description="Keep only rows for which this expression (or hook) is true."),
    ] = None
    fixture: Annotated[
        str | None,
        Meta(description="JSON Lines file of 3-5 rows in the dataset's own row format."),
    ] = None


class AnswerSpec(Strict, kw_only=True):
    """How the answer is given in the seed row: by `index`, by `label`, or as `text`."""

    index: Annotated[Computed | None, Meta(description="0-based index into `choices`.")] = None
    label: Annotated[
        Computed | None, Meta(description="A label such as `B`, looked up in `labels`.")
    ] = None
    labels: Annotated[
        Expression | list[str] | HookSpec | None,
        Meta(description="The option labels; letters A, B, C, ... when absent."),
    ] = None
    text: Annotated[Computed | None, Meta(description="The answer's text.")] = None
    aliases: Annotated[Computed | None, Meta(description="Other accepted answers (a list).")] = None


class MappingSpec(Strict, kw_only=True):
    """From the seed dataset's native row to the unified seed record."""

    question: Computed
    context: Computed | None = None
    choices: Annotated[
        Expression | list[str] | HookSpec | None,
        Meta(description="An expression giving the option texts, or a literal list."),
    ] = None
    answer: AnswerSpec
    rationale: Computed | None = None
    tests: Annotated[
        Computed | None, Meta(description="Code tasks: the test statements (a list).")
    ] = None
    id: Annotated[
        Computed | None, Meta(description="The row's own id; a content hash when absent.")
    ] = None
    metadata: dict[str, Computed] = field(default_factory=dict)


class AnswerFormatBase(Strict, tag_field="type"):
    pass


class MultipleChoiceFormat(AnswerFormatBase, tag="multiple_choice", kw_only=True):
    """Options plus the correct option, kept as text so that reshuffling stays correct."""

    labels: Literal["letters", "numbers"] = "letters"
    min_options: Annotated[int, Meta(ge=2, le=26)] = 2
    max_options: Annotated[int, Meta(ge=2, le=26)] = 10
    shuffle: Annotated[
        bool, Meta(description="Shuffle the options of generated items before writing.")
    ] = True


class NumericFormat(AnswerFormatBase, tag="numeric", kw_only=True):
    """A number, compared with a tolerance."""

    tolerance: Annotated[float, Meta(ge=0)] = 1e-6
    relative_tolerance: Annotated[float, Meta(ge=0)] = 0.0
    integer: bool = False


class ShortAnswerFormat(AnswerFormatBase, tag="short_answer", kw_only=True):
    """A few words, compared after SQuAD-style normalisation."""

    max_words: Annotated[int, Meta(ge=1)] = 12
    case_sensitive: bool = False


class CodeFormat(AnswerFormatBase, tag="code", kw_only=True):
    """A program, checked by running tests."""

    language: Literal["python"] = "python"
    entry_point: str | None = None
    timeout_s: Annotated[float, Meta(gt=0, le=600)] = 10.0


class FreeFormFormat(AnswerFormatBase, tag="free_form", kw_only=True):
    """Open text; verified only where a task-specific extractor exists."""

    max_words: Annotated[int, Meta(ge=1)] | None = None


AnswerFormat = (
    MultipleChoiceFormat | NumericFormat | ShortAnswerFormat | CodeFormat | FreeFormFormat
)


BY_KIND = "Left out: the request kind's default (contract/defaults.py, docs/taskspec.md)."


class SamplingSpec(Strict, kw_only=True):
    """Sampling parameters for one engine request; each left out takes the request
    kind's default."""

    temperature: Annotated[float, Meta(ge=0, le=2, description=BY_KIND)] | None = None
    top_p: Annotated[float, Meta(gt=0, le=1, description=BY_KIND)] | None = None
    max_tokens: Annotated[int, Meta(ge=1, le=131072, description=BY_KIND)] | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None


class PromptFields(Strict, kw_only=True):
    template: Annotated[
        str | None,
        Meta(description="A shared template in `_templates/`, such as `similar_question/numeric`."),
    ] = None
    prompt: Annotated[TemplateText | None, Meta(description="An inline user-message template.")] = (
        None
    )
    system: Annotated[TemplateText | None, Meta(description="The system-message template.")] = None


class KindSpec(PromptFields, kw_only=True):
    """One data kind to generate."""

    enabled: bool = True
    source: Annotated[
        Literal["seed", "similar_question"] | None,
        Meta(description="What the kind starts from: the seed or the similar questions."),
    ] = field(default=None, name="from")
    per_seed: Annotated[int, Meta(ge=1, le=64, description=BY_KIND)] | None = None
    sampling: SamplingSpec | None = None


class GenerateSpec(Strict, kw_only=True):
    """The data kinds to generate; a key set to null removes an inherited kind."""

    similar_question: KindSpec | None = None
    answer_enriched: KindSpec | None = None
    context_enriched: KindSpec | None = None


DATA_KINDS: tuple[str, ...] = ("similar_question", "answer_enriched", "context_enriched")
Extractor = Literal["auto", "option", "number", "short_answer", "code", "free_form"]


class VerifySpec(PromptFields, kw_only=True):
    """Majority-vote verification over k sampled answers."""

    enabled: bool = True
    k: Annotated[int, Meta(ge=1, le=64)] = 4
    threshold: Annotated[Probability, Meta(description="Share of k that must agree.")] = 0.75
    extractor: Extractor = "auto"
    sampling: SamplingSpec | None = None


CRITERION_PATTERN = r"^[a-z][a-z0-9_]*$"
Criterion = Annotated[
    str,
    Meta(
        pattern=CRITERION_PATTERN,
        max_length=40,
        description="A criterion's name: lowercase letters, digits and `_` (a JSON key).",
    ),
]


class JudgeScoresSpec(Strict, kw_only=True):
    """The score schema: each criterion an integer from `min` to `max`."""

    criteria: Annotated[
        list[Criterion],
        Meta(description="The rubric's criteria (1 to 16, each named once), each scored."),
    ] = field(default_factory=lambda: ["correctness", "clarity", "self_contained"])
    min: Annotated[int, Meta(ge=0, le=100, description="The lowest score.")] = 1
    max: Annotated[int, Meta(ge=1, le=100, description="The highest score.")] = 5


class JudgeSpec(PromptFields, kw_only=True):
    """An LLM judge after verification: k sampled scorings of each verified item by a
    rubric; the item is kept when its mean score reaches the threshold (docs/quality.md)."""

    enabled: bool = False
    k: Annotated[int, Meta(ge=1, le=64, description="Scorings sampled per item.")] = 3
    threshold: Annotated[
        float,
        Meta(description="The least mean score (over criteria and samples) an item keeps."),
    ] = 3.0
    scores: JudgeScoresSpec = field(default_factory=JudgeScoresSpec)
    sampling: SamplingSpec | None = None


class Bounds(Strict, kw_only=True):
    min: Count | None = None
    max: Count | None = None


class LengthBounds(Strict, kw_only=True):
    min: Annotated[float, Meta(ge=0)] | None = None
    max: Annotated[float, Meta(ge=0)] | None = None


TextField = Literal["question", "context", "answer", "rationale", "choices"]
Share = Annotated[float, Meta(ge=0, le=1)]


class LanguageFilterSpec(Strict, kw_only=True):
    """Generated text must be in the subtask's `language` (see docs/quality.md)."""

    fields: Annotated[
        list[TextField],
        Meta(description="Fields to check; options are read together as one text."),
    ] = field(default_factory=lambda: ["question", "context", "rationale", "choices"])
    min_length: Annotated[
        float,
        Meta(
            ge=0,
            description="Texts with less evidence than this (weighted characters, once "
            "code, formulas, numbers, quoted names and punctuation are taken out) pass.",
        ),
    ] = 20.0
    min_script_share: Annotated[
        Share,
        Meta(description="A text is refused when less of it is in its language's script."),
    ] = 0.3
    min_share: Annotated[
        Share,
        Meta(description="A text passes while the identifier gives its language this much."),
    ] = 0.1
    min_confidence: Annotated[
        Share,
        Meta(description="A text is refused only when another language is this likely."),
    ] = 0.5


class RepetitionSpec(Strict, kw_only=True):
    """Gopher-style repetition checks (Rae et al. 2021) on longer generated texts."""

    # Short questions repeat little by nature; contexts and rationales are where a
    # looping model shows.
    fields: list[TextField] = field(default_factory=lambda: ["context", "rationale"])
    min_words: Annotated[
        int,
        Meta(
            ge=1, description="N-grams are counted in texts of this many words (CJK: characters)."
        ),
    ] = 50
    duplicate_lines: Annotated[
        Share | None,
        Meta(description="Most share of lines and sentences that repeat an earlier one."),
    ] = 0.3
    duplicate_line_chars: Annotated[
        Share | None, Meta(description="Most share of characters in repeated lines.")
    ] = 0.2
    top_ngrams: Annotated[
        list[Share],
        Meta(
            description="For n = 2, 3, 4, ...: the most share of characters that the most "
            "frequent word n-gram may cover."
        ),
    ] = field(default_factory=lambda: [0.2, 0.18, 0.16])
    duplicate_ngrams: Annotated[
        list[Share],
        Meta(
            description="For n = 5, 6, 7, ...: the most share of characters in word "
            "n-grams that occur more than once."
        ),
    ] = field(default_factory=lambda: [0.15, 0.14, 0.13, 0.12, 0.11, 0.1])


class FiltersSpec(Strict, kw_only=True):
    """Schema and format checks applied to every generated item."""

    question_chars: Bounds | None = None
    answer_chars: Bounds | None = None
    context_chars: Bounds | None = None
    rationale_chars: Bounds | None = None
    question_length: Annotated[
        LengthBounds | None,
        Meta(description="Length in weighted characters: Han 3, kana 2, Hangul 2.5, others 1."),
    ] = None
    answer_length: LengthBounds | None = None
    context_length: LengthBounds | None = None
    rationale_length: LengthBounds | None = None
    options: Annotated[Bounds | None, Meta(description="Number of options.")] = None
    answer_in_options: bool = True
    distinct_options: bool = True
    label_options: Annotated[
        bool, Meta(description="Refuse options that are bare labels (`E`, `(b)`, `Option C`).")
    ] = False
    labelled_options: Annotated[
        bool, Meta(description="Refuse options with their labels written in (`A. 현금`).")
    ] = False
    placeholders: Annotated[
        bool,
        Meta(description="Refuse placeholders (`...`, `<answer>`, `[insert question]`)."),
    ] = False
    repeats_question: Annotated[
        bool, Meta(description="Refuse an option or an answer that repeats the question.")
    ] = False
    answer_in_question: Annotated[
        bool,
        Meta(description="Refuse a multiple-choice question that spells out its answer."),
    ] = False
    context_repeats_question: Annotated[
        bool, Meta(description="Refuse a context that is (nearly) the question again.")
    ] = False
    fragments: Annotated[
        bool,
        Meta(description="Refuse a question that is no question (`The correct answer is`)."),
    ] = False
    question_mark: Annotated[
        bool,
        Meta(
            description="When every fixture seed of the subtask asks with a question mark, "
            "refuse a question without one."
        ),
    ] = False
    answer_in_context: Annotated[
        bool,
        Meta(
            description="When every fixture seed's answer is found in its context "
            "(extractive QA), refuse an answer that is not."
        ),
    ] = False
    language: Annotated[
        LanguageFilterSpec | None,
        Meta(description="Refuse text that is not in the subtask's `language`."),
    ] = None
    repetition: RepetitionSpec | None = None
    require: Annotated[
        dict[RecordField, str | list[str]],
        Meta(description="Regular expressions a field must match."),
    ] = field(default_factory=dict)
    forbid: Annotated[
        dict[RecordField, str | list[str]],
        Meta(description="Regular expressions a field must not match."),
    ] = field(default_factory=dict)


class DedupSpec(Strict, kw_only=True):
    """MinHash LSH near-duplicate removal."""

    enabled: bool = True
    threshold: Annotated[
        Probability, Meta(description="Jaccard similarity to call a duplicate.")
    ] = 0.8
    shingle: Literal["word", "char"] = "word"
    ngram: Annotated[
        int, Meta(ge=1, le=64, description="Words (or characters) in one shingle.")
    ] = 3
    num_perm: Annotated[int, Meta(ge=16, le=1024)] = 128
    bands: Annotated[int, Meta(ge=1)] | None = None
    rows: Annotated[int, Meta(ge=1)] | None = None
    scope: Literal["subtask", "task", "catalog"] = "task"
    against_seeds: bool = True
    fields: list[RecordField] = field(default_factory=lambda: ["question", "context"])


class EvalSourceMappingSpec(Strict, kw_only=True):
    """The text fields of another dataset's rows, when they differ from the seed rows."""

    question: Expression | None = None
    context: Expression | None = None
    choices: Annotated[
        Expression | None, Meta(description="An expression giving the option texts.")
    ] = None
    answer: Annotated[Expression | None, Meta(description="The answer's text.")] = None
    rationale: Expression | None = None


class EvalSourceSpec(Strict, kw_only=True):
    """A benchmark that lives in another dataset (BBH's items come from BIG-bench)."""

    dataset: Annotated[str, Meta(description="Hugging Face dataset id of the benchmark.")]
    config: Annotated[str | None, Meta(description="Dataset configuration name.")] = None
    revision: Annotated[
        str | None, Meta(description="Dataset revision: a commit, tag or branch.")
    ] = None
    data_files: DataFiles | None = None
    data_dir: DataDir = None
    split: Annotated[
        str | list[str], Meta(description="The split(s) the benchmark is evaluated on.")
    ]
    mapping: Annotated[
        EvalSourceMappingSpec | None,
        Meta(description="The benchmark rows' text fields; the task's own mapping when absent."),
    ] = None
    subtasks: Annotated[
        list[str] | None,
        Meta(description="The subtasks this benchmark applies to; all of the task's when absent."),
    ] = None
    configs: Annotated[
        dict[str, str | list[str]] | None,
        Meta(
            description=(
                "Subtask name -> the benchmark's config(s) for it, in place of `config` and "
                "`subtasks` when each subtask has configs of its own (BBH's tasks)."
            )
        ),
    ] = None


class DecontaminateSpec(Strict, kw_only=True):
    """Drop generated items that reproduce held-out evaluation items."""

    enabled: bool = True
    ngram: Annotated[
        int, Meta(ge=4, le=64, description="Words in an overlapping n-gram (13 as in GPT-3).")
    ] = 13
    threshold: Annotated[
        Probability, Meta(description="MinHash Jaccard similarity that also counts as a match.")
    ] = 0.7
    splits: Annotated[
        list[str] | None,
        Meta(description="Evaluation splits to check against; `seeds.eval_splits` by default."),
    ] = None
    files: Annotated[
        str | list[str] | None,
        Meta(description="Local files of evaluation items in the dataset's row format."),
    ] = None
    sources: Annotated[
        list[EvalSourceSpec],
        Meta(description="Benchmarks in other datasets to check against, online runs only."),
    ] = field(default_factory=list)
    fields: list[RecordField] = field(default_factory=lambda: ["question", "context"])


class OutputSpec(Strict, kw_only=True):
    """Which released family the records belong to."""

    family: Literal["multiple_choice", "generative"] | None = None


LanguageField = Annotated[
    str,
    Meta(
        description="The language of the subtask's text: a code or English name (`ko`, "
        "`Korean`); `auto` detects it from the fixture rows; `none` turns language checks off."
    ),
]


class SubtaskOverrides(Strict, kw_only=True):
    """Fields a subtask may override; mappings deep-merge, lists replace."""

    title: str | None = None
    description: str | None = None
    language: LanguageField | None = None
    tags: list[str] | None = None
    vars: dict[str, Scalar] | None = None
    source: SourceSpec | None = None
    seeds: SeedsSpec | None = None
    mapping: MappingSpec | None = None
    answer_format: AnswerFormat | None = None
    generate: GenerateSpec | None = None
    verify: VerifySpec | None = None
    judge: JudgeSpec | None = None
    filters: FiltersSpec | None = None
    dedup: DedupSpec | None = None
    decontaminate: DecontaminateSpec | None = None
    output: OutputSpec | None = None


class SubtaskSpec(SubtaskOverrides, kw_only=True):
    """One named subtask, with its overrides."""

    name: Name


class MatrixSpec(Strict, kw_only=True):
    """Subtasks as the product of axes (subjects x languages), named by a template."""

    matrix: dict[str, list[Scalar]]
    name: Annotated[str, Meta(description="Subtask name template, such as `${subject}_${lang}`.")]
    exclude: list[dict[str, Scalar]] = field(default_factory=list)
    overrides: SubtaskOverrides | None = field(default=None, name="with")


class TaskSpec(Strict, kw_only=True):
    """A task: its seed source, record mapping, answer format, and what to generate."""

    version: int = SPEC_VERSION
    extends: Annotated[
        str | list[str] | None,
        Meta(description="Files whose fields this one inherits (relative paths)."),
    ] = None
    task: Name
    title: str
    domain: Literal["knowledge", "reasoning"]
    imported_from: Annotated[
        str | None,
        Meta(description="Where an importer took this spec from (`taskseed import`)."),
    ] = None
    description: str | None = None
    language: LanguageField = "auto"
    tags: list[str] = field(default_factory=list)
    vars: dict[str, Scalar] = field(default_factory=dict)
    source: SourceSpec
    seeds: SeedsSpec
    mapping: MappingSpec
    answer_format: AnswerFormat
    subtasks: list[SubtaskSpec] | MatrixSpec | None = None
    generate: GenerateSpec = field(default_factory=GenerateSpec)
    verify: VerifySpec = field(default_factory=VerifySpec)
    judge: JudgeSpec = field(default_factory=JudgeSpec)
    filters: FiltersSpec = field(default_factory=FiltersSpec)
    dedup: DedupSpec = field(default_factory=DedupSpec)
    decontaminate: DecontaminateSpec = field(default_factory=DecontaminateSpec)
    output: OutputSpec = field(default_factory=OutputSpec)


# Structs whose required fields are required even in a partial file (defaults or
# overrides can never supply them).
ALWAYS_COMPLETE: frozenset[type[Any]] = frozenset(
    {SubtaskSpec, MatrixSpec, EvalSourceSpec, HookSpec}
)
