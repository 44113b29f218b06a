"""Every diagnostic code the compiler can emit, with its documentation.

Codes are stable: once published, a code keeps its meaning. `taskseed explain CODE`
prints the entry, `docs/diagnostics.md` is generated from this table (`make docs`),
and a test fails when a code used in the source has no entry here, or the reverse.

Numbering: 1xx loading files, 2xx the shape of a spec, 3xx resolving extends and
subtasks, 4xx seed data and answer rules, 5xx templates and expressions, 600-629
provenance and Python hooks (imported specs), 9xx the compiler itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    code: str
    name: str
    severity: Severity
    summary: str
    explanation: str


def _entries() -> list[CodeInfo]:
    E, W = Severity.ERROR, Severity.WARNING
    return [
        CodeInfo(
            "TS100",
            "yaml-syntax",
            E,
            "The file is not valid YAML.",
            """
The YAML parser stopped at the marked position. Common causes are a tab used for
indentation, a `:` inside an unquoted value, or an unclosed quote or bracket.

    question: What is 2: the answer?   # quote it: "What is 2: the answer?"
""",
        ),
        CodeInfo(
            "TS101",
            "file-unreadable",
            E,
            "A file could not be read.",
            """
A path given on the command line, or referenced by a spec, does not exist, is not a
regular file, or is not UTF-8 text. Paths in a spec are relative to the spec's folder.
""",
        ),
        CodeInfo(
            "TS102",
            "not-a-mapping",
            E,
            "A spec file must hold one YAML mapping.",
            """
A task spec is a mapping of keys (`task:`, `seeds:`, ...). An empty file, a list at
the top level, or several documents separated by `---` are not specs.
""",
        ),
        CodeInfo(
            "TS103",
            "duplicate-key",
            E,
            "The same key appears twice in one mapping.",
            """
YAML leaves the meaning of a repeated key undefined and many tools silently keep the
last one. taskseed refuses it: delete one of the two.
""",
        ),
        CodeInfo(
            "TS104",
            "no-specs",
            E,
            "No task spec was found under the given paths.",
            """
A directory is searched recursively for `*.yaml` and `*.yml` files, skipping
`_templates/` and `fixtures/` folders. Files whose names start with `_` are shared
defaults, not tasks: they are validated but produce no plan unit on their own.
""",
        ),
        CodeInfo(
            "TS105",
            "non-string-key",
            E,
            "Mapping keys must be strings.",
            """
Keys such as `1:` or `null:` are read by YAML as numbers or null. Quote them, or use a
list instead of a mapping.
""",
        ),
        CodeInfo(
            "TS106",
            "not-utf8",
            E,
            "A file is not UTF-8 text.",
            """
Spec files, templates and fixtures are read as UTF-8. The diagnostic points at the
line and column of the first byte that is not UTF-8; its content is not shown. Save
the file as UTF-8 (a leading byte-order mark is allowed and ignored).
""",
        ),
        CodeInfo(
            "TS107",
            "file-too-large",
            E,
            "A file is larger than its kind's limit.",
            """
The compiler reads spec files and templates of at most 256 KiB and fixtures of at
most 4 MiB (the largest in the shipped catalog are under 8 KiB). A fixture holds a few
rows, not a dataset: point `seeds.files` or `seeds.dataset` at the data.
""",
        ),
        CodeInfo(
            "TS108",
            "not-a-regular-file",
            E,
            "A path names a folder, FIFO, device or socket.",
            """
Only regular files are read: a FIFO or a device could block or never end. The file
is not opened.
""",
        ),
        CodeInfo(
            "TS109",
            "yaml-too-deep",
            E,
            "Mappings and lists nest too deeply.",
            """
A spec nests mappings and lists at most 64 levels deep (the catalog needs 6), and so
does an alias where it is used. Deeper nesting is refused at the first value past the
limit, before the rest of the file is parsed.
""",
        ),
        CodeInfo(
            "TS110",
            "yaml-alias-budget",
            E,
            "Aliases expand a file past its budget.",
            """
An alias (`*name`) stands for the whole value of its anchor (`&name`). Aliases of
aliases multiply, so a file of a few lines can stand for billions of values ("billion
laughs"). A spec file may hold at most 100,000 values with its aliases expanded; the
alias that would pass the limit is not expanded.
""",
        ),
        CodeInfo(
            "TS111",
            "yaml-recursive-alias",
            E,
            "An alias refers to a value that contains it.",
            """
`a: &x [1, *x]` describes an infinite value. Task specs hold finite trees: write the
value out, or use an anchor that is closed before its alias.
""",
        ),
        CodeInfo(
            "TS200",
            "unknown-field",
            E,
            "A key is not a field of this section.",
            """
Every section of a spec has a fixed set of fields (see `docs/taskspec.md` and
`schemas/taskspec.schema.json`). A misspelt key is an error, never ignored, and the
diagnostic suggests the closest field name.

    generate:
      similar_question:
        sampling:
          tempature: 0.2    # did you mean `temperature`?
""",
        ),
        CodeInfo(
            "TS201",
            "wrong-type",
            E,
            "A value has the wrong type.",
            """
The field expects another type: for example a number where a string was written, a
list where a single value was written, or a mapping where a scalar was written. YAML
reads `yes`, `no`, `on` and `off` as strings in YAML 1.2; quote values that must be
strings and look like numbers (`"1.0"`).
""",
        ),
        CodeInfo(
            "TS202",
            "missing-field",
            E,
            "A required field is missing.",
            """
After `extends` and subtask overrides are merged, every task must say at least:
`task`, `title`, `domain`, `source`, `seeds`, `mapping` and `answer_format`.
The diagnostic points at the mapping that lacks the field.
""",
        ),
        CodeInfo(
            "TS203",
            "out-of-range",
            E,
            "A value is outside its allowed range.",
            """
Numbers have bounds: `verify.threshold` lies in (0, 1], `verify.k` is at least 1,
`sampling.temperature` lies in [0, 2], `dedup.num_perm` is at least 16, and so on.
Names must match their pattern: task and subtask names use lowercase letters, digits,
`_` and `-`.
""",
        ),
        CodeInfo(
            "TS204",
            "unknown-choice",
            E,
            "A value is not one of the allowed choices.",
            """
Fields such as `domain`, `answer_format.type`, `dedup.scope` or `generate.*.from`
accept a fixed set of words. The diagnostic lists them and suggests the closest one.
""",
        ),
        CodeInfo(
            "TS205",
            "unsupported-version",
            E,
            "The spec declares a version this compiler does not read.",
            """
`version: 1` is the only task spec version so far. A newer spec needs a newer
taskseed.
""",
        ),
        CodeInfo(
            "TS206",
            "conflicting-fields",
            E,
            "Fields that exclude each other were both given, or none was.",
            """
Some sections take exactly one of several fields:
- `seeds`: `dataset` (Hugging Face) or `files` (local JSONL, Parquet or CSV);
- `generate.<kind>`: `template` (a shared template's name) or `prompt` (inline);
- `mapping.answer`: `index`, `label` or `text`.
""",
        ),
        CodeInfo(
            "TS207",
            "invalid-regex",
            E,
            "A regular expression does not compile.",
            """
Patterns in `filters.require` and `filters.forbid` use Python's `re` syntax. In YAML,
write them in single quotes so that backslashes stay as they are: `'\\d+'`.
""",
        ),
        CodeInfo(
            "TS300",
            "extends-not-found",
            E,
            "The file named by `extends` does not exist.",
            """
`extends` paths are relative to the folder of the file that names them.
""",
        ),
        CodeInfo(
            "TS301",
            "extends-cycle",
            E,
            "`extends` files form a cycle.",
            """
A file extends itself through a chain of other files. The diagnostic prints the whole
chain; break it by removing one `extends`. The rest of the spec is still checked, as if
the edge that closes the cycle were absent.
""",
        ),
        CodeInfo(
            "TS302",
            "duplicate-task",
            E,
            "Two spec files declare the same task name.",
            """
Task names are unique across the catalog that is compiled together, since plan unit IDs
(`task/subtask`) derive from them.
""",
        ),
        CodeInfo(
            "TS303",
            "duplicate-subtask",
            E,
            "Two subtasks of one task have the same name.",
            """
Subtask names must be unique within their task. With a matrix, the `name` template must
use every axis that varies (`"${subject}_${language}"`), or names collide.
""",
        ),
        CodeInfo(
            "TS304",
            "matrix-variable",
            E,
            "A `${...}` placeholder names no matrix axis.",
            """
Inside `subtasks.name` and `subtasks.with`, `${axis}` is replaced by each value of the
matrix axis of that name. The diagnostic suggests the closest axis.
""",
        ),
        CodeInfo(
            "TS305",
            "matrix-invalid",
            E,
            "A subtask matrix is malformed.",
            """
Each axis must be a non-empty list of distinct scalars, and each `exclude` entry must
name existing axes and values. A matrix that excludes every combination is an error.
""",
        ),
        CodeInfo(
            "TS306",
            "path-outside-catalog",
            E,
            "A path leads outside the catalog.",
            """
Every path a spec names (`extends`, `template`, `seeds.fixture`, `seeds.files`,
`decontaminate.files`) must resolve, symlinks followed, inside the catalog root or a
folder given with `--allow-path DIR` (repeatable, on `validate`, `compile`, `run` and
`catalog`). The catalog root of a path given on the command line is the nearest folder
at or above it that holds `_defaults.yaml` (looking no higher than a folder that holds
`.git`), or else that folder itself (a file's own folder). Absolute paths and `..`
that leave it are refused, and so are symlinks that lead out of it. A template is
named by its path under `_templates/`, with no `..`. Nothing is read from a refused
path, and its content is never shown.
""",
        ),
        CodeInfo(
            "TS307",
            "path-invalid",
            E,
            "A path cannot name a file.",
            """
The path is empty, holds a NUL character, has a file name longer than 255 bytes, or is
longer than 4096 bytes. No file system call sees it.
""",
        ),
        CodeInfo(
            "TS308",
            "hidden-path",
            E,
            "A path leads to a name that starts with a dot.",
            """
Names that start with a dot (`.git/config`, `.env`, `.github/`) are not read from a
spec even inside the catalog: they hold a repository's settings and secrets, not task
data. A glob pattern in `seeds.files` may not match them either.
""",
        ),
        CodeInfo(
            "TS309",
            "wrong-file-kind",
            E,
            "A path names a file of the wrong kind.",
            """
`extends` names spec files (`.yaml` or `.yml`); `seeds.fixture` names a JSON Lines file
(`.jsonl` or `.ndjson`).
""",
        ),
        CodeInfo(
            "TS310",
            "too-many-subtasks",
            E,
            "A task expands to too many subtasks.",
            """
A task may have at most 10,000 subtasks; a matrix multiplies the lengths of its axes
(the catalog's largest task has a few hundred). Split the task, or `exclude`
combinations.
""",
        ),
        CodeInfo(
            "TS311",
            "extends-too-deep",
            E,
            "An `extends` chain passes through too many files.",
            """
A spec may extend a file that extends another, and so on, through at most 32 files
(the shipped catalog needs 3). The `extends` that would go deeper is not followed.
""",
        ),
        CodeInfo(
            "TS400",
            "held-out-split",
            E,
            "The seed split is not a training split.",
            """
Seeds come from training splits only, so that generated data never re-creates a
benchmark. A split whose name is not a training name (`train`, `training`,
`auxiliary_train`, `train_*`, `*_train`) is refused, unless the spec declares it a
training split with a reason:

    seeds:
      split: dev
      training_split_reason: "the dataset ships dev as its only non-test split"
""",
        ),
        CodeInfo(
            "TS401",
            "split-is-evaluated",
            E,
            "The seed split is also an evaluation split.",
            """
A split listed in `seeds.eval_splits` is where the task is evaluated. It can never be
a seed split, whatever reason is given: a dataset that exists only as a benchmark is
not a seed.
""",
        ),
        CodeInfo(
            "TS402",
            "fixture-invalid",
            E,
            "The fixture file is missing or is not JSON Lines of objects.",
            """
`seeds.fixture` names a small JSON Lines file, relative to the spec, holding three to
five rows in the seed dataset's own row format (same field names and nesting). The
offline runs and the tests read it.
""",
        ),
        CodeInfo(
            "TS403",
            "unknown-source-field",
            E,
            "A mapping expression uses a field the seed rows do not have.",
            """
Mapping expressions read the seed dataset's native rows. The names they use are checked
against the fields of the fixture rows, which mirror the dataset's row format.
""",
        ),
        CodeInfo(
            "TS404",
            "answer-format-mismatch",
            E,
            "The mapping does not fit the answer format.",
            """
A `multiple_choice` task needs `mapping.choices`; an answer given by `index` or `label`
needs choices to index into; `numeric`, `short_answer`, `code` and `free_form` answers
are given as `text`.
""",
        ),
        CodeInfo(
            "TS405",
            "no-fixture",
            W,
            "The task has no offline fixture.",
            """
Without `seeds.fixture`, the task cannot be run offline or checked by the catalog tests.
""",
        ),
        CodeInfo(
            "TS406",
            "fixture-row-unmappable",
            E,
            "A fixture row does not map to a seed record.",
            """
The compiler runs every fixture row through the task's mapping. A row failed: an
expression raised an error, an answer index fell outside the choices, a label was not
among the labels, or a required field came out empty. The note names the row.
""",
        ),
        CodeInfo(
            "TS407",
            "unknown-input-kind",
            E,
            "A data kind takes its input from a kind that is not generated.",
            """
`answer_enriched` and `context_enriched` take their input `from` the seed or from the
items of another kind. That kind must be enabled in the same task.
""",
        ),
        CodeInfo(
            "TS408",
            "nothing-to-generate",
            W,
            "Every data kind is disabled.",
            """
A task with no enabled kind under `generate` compiles to a unit that produces nothing.
""",
        ),
        CodeInfo(
            "TS409",
            "fixture-rows-unused",
            W,
            "A subtask's `seeds.where` keeps none of its fixture rows.",
            """
Offline runs (`taskseed run --fixtures`) and the catalog tests read the fixture rows
that the subtask's `where` keeps. When it keeps none, the subtask never sees a seed:
its mapping, filters and templates are never exercised. Add rows of the dataset's own
format that the expression keeps (one or more for each subtask), or give the subtask a
fixture of its own (`seeds.fixture` in the subtask or the matrix's `with`).
`--strict` turns this warning into a failure.
""",
        ),
        CodeInfo(
            "TS410",
            "load-options-without-dataset",
            E,
            "`revision`, `data_files` or `data_dir` is set for local seed files.",
            """
These fields tell the `datasets` library how to load a Hugging Face dataset (as
lm-eval's `dataset_kwargs` do). Seeds read from local `files` are read as they are.
""",
        ),
        CodeInfo(
            "TS411",
            "data-files-split-missing",
            E,
            "`data_files` maps splits to files but leaves out a split that is read.",
            """
When `data_files` is a mapping, `datasets` knows only the splits it names. The seed
split, every split in `eval_splits` (and `decontaminate.splits`) and every split of a
`decontaminate.sources` entry must be among its keys:

    seeds:
      revision: refs/convert/parquet
      data_files:
        train: hi/train/*.parquet
        validation: hi/validation/*.parquet
        test: hi/test/*.parquet
""",
        ),
        CodeInfo(
            "TS412",
            "eval-source-unknown-subtask",
            E,
            "A `decontaminate.sources` entry names a subtask the task does not have.",
            """
`subtasks` restricts a benchmark in another dataset to the subtasks it belongs to (BBH's
`causal_judgement` to BIG-bench's `causal_judgment`). Every name must be one of the
task's own subtasks; a misspelt name would leave its subtask unchecked.
""",
        ),
        CodeInfo(
            "TS413",
            "data-files-outside-repository",
            E,
            "A `data_files` pattern or `data_dir` points outside the dataset repository.",
            """
Dataset files are paths inside the repository being loaded (`gu/train/*.parquet`), or
`hf://datasets/<owner>/<name>/...` URLs for files of another Hub dataset. Absolute paths,
other URLs and `..` would let a spec read files from the machine that runs it.
""",
        ),
        CodeInfo(
            "TS430",
            "unknown-language",
            E,
            "The subtask's `language` names no language the language filter knows.",
            """
`language` takes an ISO 639 code or an English name of one of the 142 languages the
identifier (py3langid) knows (`ko`, `Korean`, `nb`, `Norwegian`), `auto` (the default:
detected from the fixture rows when the plan is compiled) or `none` (no language checks,
for tasks whose items mix languages by design, such as translation):

    language: ko
    subtasks:
      matrix: {lang: [de, fr]}
      name: "${lang}"
      with: {language: "${lang}"}
""",
        ),
        CodeInfo(
            "TS440",
            "judge-rubric",
            E,
            "The judge's score schema contradicts itself.",
            """
`judge.scores` gives the criteria the judge scores (1 to 16, each named once) and the integer
range of a score, `min` below `max`; `judge.threshold` is the least mean score an item
keeps, so it lies within that range:

    judge:
      enabled: true
      threshold: 3.5          # within 1..5
      scores:
        criteria: [correctness, clarity]
        min: 1
        max: 5
""",
        ),
        CodeInfo(
            "TS500",
            "template-syntax",
            E,
            "A Jinja template does not parse.",
            """
The template's position is mapped back to the line inside the YAML file (or the
`.j2` file of a shared template).
""",
        ),
        CodeInfo(
            "TS501",
            "undefined-variable",
            E,
            "A template uses a variable that will not exist.",
            """
Templates are rendered with StrictUndefined, so an unknown variable would fail mid-run.
The compiler checks every variable against what the step provides:
- all prompts: `seed`, `task`, `vars`, `format`, `n`;
- enrichment and verification prompts also: `item`.
""",
        ),
        CodeInfo(
            "TS502",
            "unknown-record-field",
            E,
            "A template reads a field the record does not have.",
            """
`seed.*` and `item.*` are the unified record: `id`, `question`, `context`, `choices`,
`answer`, `answer_index`, `answer_label`, `answer_source`, `rationale`, `metadata`.
`task.*` holds `name`, `subtask`, `title`, `domain` and `vars`.
""",
        ),
        CodeInfo(
            "TS503",
            "template-not-found",
            E,
            "A named template does not exist.",
            """
`template: similar_question/multiple_choice` refers to
`taskspecs/_templates/similar_question/multiple_choice.j2`, found by walking up from the
spec's folder to the nearest `_templates/` folder.
""",
        ),
        CodeInfo(
            "TS504",
            "expression-syntax",
            E,
            "A mapping expression does not parse.",
            """
Mapping values are Jinja expressions over the seed row (`choices.text`,
`answers.text[0]`), or templates (`"{{ a }} {{ b }}"`) when they contain `{{`.
""",
        ),
        CodeInfo(
            "TS505",
            "unknown-filter",
            E,
            "A template uses a filter or test that does not exist.",
            """
Only Jinja's built-in filters and taskseed's own are available: `options`, `letter`,
`boxed`, `regex_search`, `regex_findall`, `regex_replace` and `from_json`.
""",
        ),
        CodeInfo(
            "TS506",
            "time-budget",
            E,
            "A mapping expression took too long on a fixture row.",
            """
Mapping expressions and `seeds.where` run on every seed row, in the compiler on the
fixture rows and in the runtime on the dataset, within a budget of 2 s of CPU time per
evaluation (the compiler evaluates a fixture row's whole mapping as one; the runtime
each expression, and each prompt render). The compiler also stops evaluating once one
compile has spent 60 s of CPU time on fixture rows. Loops, recursion or a slow regular
expression are the usual causes; the runtime rejects a row or item that runs out of
time with the same reason.
""",
        ),
        CodeInfo(
            "TS507",
            "size-budget",
            E,
            "A template or expression would build too large a value.",
            """
A string may hold at most 2,000,000 characters and a list, tuple or mapping at most
100,000 items; one row's evaluation (or one prompt's render) may produce at most
20,000,000 characters in all. The check comes before the value is built, so
`'a' * 10**10`, `range(10**10)` or `x|center(10**10)` fail at once instead of
exhausting memory.
""",
        ),
        CodeInfo(
            "TS508",
            "integer-budget",
            E,
            "An expression would build too large an integer.",
            """
Integers are limited to 4,096 bits; `9 ** (9 ** 9)` is refused before it is computed.
""",
        ),
        CodeInfo(
            "TS509",
            "iteration-budget",
            E,
            "Loops ran too many iterations.",
            """
One evaluation or render may run at most 100,000 loop iterations, all loops together
(nested loops multiply).
""",
        ),
        CodeInfo(
            "TS510",
            "recursion-budget",
            E,
            "Calls nest too deeply.",
            """
Macros that call themselves, and recursive loops, may nest at most 64 levels.
""",
        ),
        CodeInfo(
            "TS511",
            "regex-budget",
            E,
            "A regular expression ran too long or is too large.",
            """
The `regex_search`, `regex_findall` and `regex_replace` filters use the `regex`
engine (Python's `re` syntax) with the evaluation's remaining time as timeout, so a
pattern that backtracks catastrophically (`(a|a)+$`) stops instead of hanging.
Patterns whose counted repeats unroll past 100,000 steps (`(?:a{1000}){1000}`) are
refused before they are compiled. Patterns in `filters.require` and `filters.forbid`
run in polars, whose regular expressions (Rust's `regex`) take linear time.
""",
        ),
        CodeInfo(
            "TS600",
            "missing-citation",
            W,
            "The task's source has no citation.",
            """
Every task cites the paper or page of its seed data in `source.citation`. A spec may
leave it out while it is being written (`taskseed import` does when lm-eval's README has
no BibTeX entry), but the catalog requires it: `taskseed validate --strict` fails on
this warning.

    source:
      citation: "Clark et al. (2018), Think you have Solved Question Answering? ..."
""",
        ),
        CodeInfo(
            "TS601",
            "hook-file",
            E,
            "A hook's file does not exist, is not a `.py` file, or lies outside the spec's folder.",
            """
A hook names a Python file relative to the spec that names it, and the file must lie
in that spec's folder or below it (symbolic links resolved), like the file `taskseed
import lm-eval --hooks` copies to `hooks/`:

    question: {hook: hooks/logiqa_utils.py:doc_to_text}
""",
        ),
        CodeInfo(
            "TS602",
            "hook-syntax",
            E,
            "A hook's file is not valid Python.",
            """
Validation parses hook files with Python's `ast` module and never imports them; a file
that does not parse cannot be checked. The note gives the line of the syntax error.
""",
        ),
        CodeInfo(
            "TS603",
            "hook-function",
            E,
            "A hook names a function its file does not define, or one that cannot take the row.",
            """
The function must be defined at the top level of the file (`def name(doc): ...`) and
be callable with the row as its only argument: one positional parameter, any others
with defaults.
""",
        ),
        CodeInfo(
            "TS604",
            "hook-not-run",
            W,
            "A field is given by a Python hook, which validation checked but did not run.",
            """
Hooks are Python code, and specs may come from pull requests: `taskseed validate`
checks a hook without importing it (its file, its syntax, its function), so the fixture
rows of a task with hooks are not mapped. `taskseed validate --trust-hooks` runs the
hooks on the fixture rows, and `taskseed run` runs them only with `--trust-hooks`. The
catalog itself, validated with `--strict`, has no hooks.
""",
        ),
        CodeInfo(
            "TS900",
            "internal-error",
            E,
            "The compiler failed; this is a bug in taskseed.",
            """
Please report it with the spec that triggers it. The command exits with status 2.
""",
        ),
    ]


CODES: dict[str, CodeInfo] = {info.code: info for info in _entries()}


def explain(code: str) -> str | None:
    info = CODES.get(code.upper())
    if info is None:
        return None
    body = info.explanation.strip("\n")
    return f"{info.code} ({info.name}, {info.severity.value}): {info.summary}\n\n{body}\n"


def markdown() -> str:
    """docs/diagnostics.md, generated from the table above."""
    parts = [
        "# Diagnostic codes\n",
        "Generated from `compiler/codes.py` by `make docs`; do not edit by hand.\n",
        "Run `taskseed explain CODE` to print one entry.\n",
    ]
    for info in CODES.values():
        parts.append(f"\n## {info.code} `{info.name}` ({info.severity.value})\n")
        parts.append(f"\n{info.summary}\n\n{info.explanation.strip(chr(10))}\n")
    return "".join(parts)
