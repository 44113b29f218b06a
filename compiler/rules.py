"""Rules a well-typed unit must also follow: training splits only, answer formats that
fit the mapping, exactly-one-of fields, valid regular expressions.

Run on each resolved unit after full validation (part of phase 2, applied to the
result of phase 3). Every finding points at the span of the value it is about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.nodes import MapNode, Path, lookup
from taskseed.compiler.source import Span
from taskseed.compiler.spec import (
    DATA_KINDS,
    DataFiles,
    KindSpec,
    MultipleChoiceFormat,
    TaskSpec,
)
from taskseed.contract.language import AUTO, OFF, known_spellings, language_code
from taskseed.contract.splits import is_training_name, split_name
from taskseed.contract.suggest import closest

MAX_CRITERIA = 16  # each a property of the judge's JSON schema

# `data_files` patterns name files inside the dataset repository, or on the Hub.
_HUB_URL = "hf://datasets/"
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class UnitRules:
    def __init__(
        self,
        diagnostics: Diagnostics,
        tree: MapNode,
        notes: Iterable[str],
        subtasks: frozenset[str] | None = None,
    ) -> None:
        self.diagnostics = diagnostics
        self.tree = tree
        self.notes = tuple(notes)
        # Every subtask of the unit's task, for names that refer to them.
        self.subtasks = subtasks

    def span(self, *path: str | int) -> Span:
        """The span of the deepest node that exists along `path`."""
        for end in range(len(path), -1, -1):
            node = lookup(self.tree, path[:end])
            if node is not None:
                return node.span
        return self.tree.span

    def key_span(self, *path: str | int) -> Span:
        parent = lookup(self.tree, path[:-1]) if len(path) > 1 else self.tree
        last = path[-1]
        if isinstance(parent, MapNode) and isinstance(last, str) and last in parent.entries:
            return parent.entries[last].key_span
        return self.span(*path)

    def error(
        self, code: str, message: str, path: Path, label: str | None = None, *, key: bool = False
    ) -> None:
        span = self.key_span(*path) if key else self.span(*path)
        self.diagnostics.add(code, message, span, label=label, notes=self.notes)

    def check(self, spec: TaskSpec) -> None:
        self.source(spec)
        self.seeds(spec)
        self.loading(spec)
        self.answers(spec)
        self.kinds(spec)
        self.filters(spec)
        self.numbers(spec)
        self.language(spec)
        self.judge(spec)

    def source(self, spec: TaskSpec) -> None:
        if spec.source.citation is None or not spec.source.citation.strip():
            self.error(
                "TS600",
                f"task `{spec.task}` has no `source.citation`: cite the paper or page of "
                "its seed data",
                ("source", "citation")
                if lookup(self.tree, ("source", "citation"))
                else ("source",),
                "add the dataset's citation",
                key=True,
            )

    def seeds(self, spec: TaskSpec) -> None:
        seeds = spec.seeds
        if (seeds.dataset is None) == (seeds.files is None):
            self.error(
                "TS206",
                "`seeds` needs exactly one of `dataset` (Hugging Face) or `files` (local)",
                ("seeds",),
                key=True,
            )
        name = split_name(seeds.split)
        evaluated = [split_name(s) for s in seeds.eval_splits]
        if name in evaluated:
            self.error(
                "TS401",
                f"split `{seeds.split}` is listed in `eval_splits`: the task is evaluated "
                "on it, so it cannot seed generation",
                ("seeds", "split"),
                "also an evaluation split",
            )
        elif not is_training_name(seeds.split) and not seeds.training_split_reason:
            self.error(
                "TS400",
                f"seed split `{seeds.split}` is not a training split",
                ("seeds", "split"),
                "not a training split",
            )

    def loading(self, spec: TaskSpec) -> None:
        """How datasets load: `data_files` that cover the splits read, paths inside the
        repository, and benchmark sources that name existing subtasks."""
        seeds = spec.seeds
        if seeds.files is not None:
            for name in ("revision", "data_files", "data_dir"):
                if getattr(seeds, name) is not None:
                    self.error(
                        "TS410",
                        f"`seeds.{name}` tells `datasets` how to load a Hugging Face "
                        "dataset; these seeds are local `files`",
                        ("seeds", name),
                        key=True,
                    )
        if seeds.data_files is not None or seeds.data_dir is not None:
            read = [seeds.split, *seeds.eval_splits]
            if spec.decontaminate.splits is not None:
                read.extend(spec.decontaminate.splits)
            self.data_files(seeds.data_files, seeds.data_dir, read, ("seeds",))
        known = self.subtasks or frozenset()
        for index, source in enumerate(spec.decontaminate.sources):
            path: tuple[str | int, ...] = ("decontaminate", "sources", index)
            if source.data_files is not None or source.data_dir is not None:
                splits = [source.split] if isinstance(source.split, str) else source.split
                self.data_files(source.data_files, source.data_dir, splits, path)
            if source.configs is not None and (
                source.config is not None or source.subtasks is not None
            ):
                self.error(
                    "TS206",
                    "a `decontaminate.sources` entry names its configs by subtask "
                    "(`configs`) or for all its subtasks (`config`, `subtasks`), not both",
                    (*path, "configs"),
                    key=True,
                )
            if not known:
                continue
            named: list[tuple[tuple[str | int, ...], str]] = [
                ((*path, "subtasks", at), name) for at, name in enumerate(source.subtasks or ())
            ]
            named.extend(((*path, "configs", name), name) for name in source.configs or ())
            for at_path, name in named:
                if name in known:
                    continue
                self.error(
                    "TS412",
                    f"`decontaminate.sources` names subtask `{name}`, which task "
                    f"`{spec.task}` does not have",
                    at_path,
                    "not a subtask of this task",
                    key=at_path[-2] == "configs",
                )

    def data_files(
        self,
        data_files: DataFiles | None,
        data_dir: str | None,
        splits: list[str],
        path: tuple[str | int, ...],
    ) -> None:
        where = ".".join(str(p) for p in path)
        if isinstance(data_files, dict):
            keys = {split_name(k) for k in data_files}
            for split in dict.fromkeys(splits):
                if split_name(split) not in keys:
                    self.error(
                        "TS411",
                        f"`{where}.data_files` names the files of splits "
                        f"{', '.join(f'`{k}`' for k in data_files)}, not of split `{split}`, "
                        "which is read",
                        (*path, "data_files"),
                        key=True,
                    )
        patterns: list[tuple[tuple[str | int, ...], str]] = []
        if isinstance(data_files, str):
            patterns.append(((*path, "data_files"), data_files))
        elif isinstance(data_files, list):
            patterns.extend(((*path, "data_files", i), p) for i, p in enumerate(data_files))
        elif isinstance(data_files, dict):
            for split, value in data_files.items():
                if isinstance(value, str):
                    patterns.append(((*path, "data_files", split), value))
                else:
                    patterns.extend(
                        ((*path, "data_files", split, i), p) for i, p in enumerate(value)
                    )
        if data_dir is not None:
            patterns.append(((*path, "data_dir"), data_dir))
        for at, pattern in patterns:
            problem = _outside_repository(pattern)
            if problem:
                self.error(
                    "TS413",
                    f"`{pattern}` {problem}: dataset files are paths inside the dataset "
                    "repository (or `hf://datasets/...` URLs)",
                    at,
                    "not a path inside the repository",
                )

    def answers(self, spec: TaskSpec) -> None:
        answer = spec.mapping.answer
        given = [n for n in ("index", "label", "text") if getattr(answer, n) is not None]
        if len(given) != 1:
            self.error(
                "TS206",
                "`mapping.answer` needs exactly one of `index`, `label` or `text`"
                + (f" (found {', '.join(given)})" if given else ""),
                ("mapping", "answer"),
                key=True,
            )
        is_mc = isinstance(spec.answer_format, MultipleChoiceFormat)
        has_choices = spec.mapping.choices is not None
        if is_mc and not has_choices:
            self.error(
                "TS404",
                "a multiple_choice task needs `mapping.choices`",
                ("mapping",),
                key=True,
            )
        if not is_mc and has_choices:
            self.error(
                "TS404",
                f"a {spec.answer_format.__struct_config__.tag} task has no choices; "
                "remove `mapping.choices` or use `type: multiple_choice`",
                ("mapping", "choices"),
                key=True,
            )
        if given and given[0] in ("index", "label") and not has_choices:
            self.error(
                "TS404",
                f"an answer given by `{given[0]}` needs `mapping.choices` to point into",
                ("mapping", "answer", given[0]),
                key=True,
            )
        if answer.labels is not None and answer.label is None:
            self.error(
                "TS206",
                "`mapping.answer.labels` only applies to an answer given by `label`",
                ("mapping", "answer", "labels"),
                key=True,
            )

    def kinds(self, spec: TaskSpec) -> None:
        enabled = {k: v for k in DATA_KINDS if (v := getattr(spec.generate, k)) and v.enabled}
        if not enabled:
            self.diagnostics.add(
                "TS408",
                f"task `{spec.task}` generates nothing: every data kind is disabled",
                self.key_span("generate") if "generate" in self.tree.entries else self.tree.span,
                notes=self.notes,
            )
        for kind, kspec in enabled.items():
            self.prompt_fields(kspec, ("generate", kind))
            if kspec.source == "similar_question":
                if kind == "similar_question":
                    self.error(
                        "TS407",
                        "`similar_question` cannot take its input from itself",
                        ("generate", kind, "from"),
                    )
                elif "similar_question" not in enabled:
                    self.error(
                        "TS407",
                        f"`{kind}` takes its input from `similar_question`, which this task "
                        "does not generate",
                        ("generate", kind, "from"),
                    )
        if spec.verify.enabled:
            self.prompt_fields(spec.verify, ("verify",))

    def prompt_fields(self, fields: KindSpec | object, path: tuple[str, ...]) -> None:
        template = getattr(fields, "template", None)
        prompt = getattr(fields, "prompt", None)
        if (template is None) == (prompt is None):
            which = "both" if template is not None else "neither"
            self.error(
                "TS206",
                f"`{'.'.join(path)}` needs exactly one of `template` (a shared template) "
                f"or `prompt` (inline); found {which}",
                path,
                key=True,
            )

    def filters(self, spec: TaskSpec) -> None:
        for section in ("require", "forbid"):
            table = getattr(spec.filters, section)
            for name, patterns in table.items():
                items = [patterns] if isinstance(patterns, str) else patterns
                for index, pattern in enumerate(items):
                    try:
                        re.compile(pattern)
                    except (re.error, OverflowError, RecursionError, ValueError) as exc:
                        path: tuple[str | int, ...] = ("filters", section, name)
                        if not isinstance(patterns, str):
                            path = (*path, index)
                        self.error("TS207", f"invalid regular expression: {exc}", path)

    def numbers(self, spec: TaskSpec) -> None:
        fmt = spec.answer_format
        if isinstance(fmt, MultipleChoiceFormat) and fmt.min_options > fmt.max_options:
            self.error(
                "TS203",
                f"`answer_format.min_options` ({fmt.min_options}) is above `max_options` "
                f"({fmt.max_options})",
                ("answer_format", "min_options"),
            )
        dedup = spec.dedup
        if (dedup.bands is None) != (dedup.rows is None):
            self.error(
                "TS206",
                "`dedup.bands` and `dedup.rows` are set together, or neither",
                ("dedup",),
                key=True,
            )
        elif dedup.bands and dedup.rows and dedup.bands * dedup.rows > dedup.num_perm:
            self.error(
                "TS203",
                f"`dedup.bands` x `dedup.rows` ({dedup.bands * dedup.rows}) exceeds "
                f"`num_perm` ({dedup.num_perm})",
                ("dedup", "bands"),
            )
        for name in (
            "question_chars",
            "answer_chars",
            "context_chars",
            "rationale_chars",
            "question_length",
            "answer_length",
            "context_length",
            "rationale_length",
            "options",
        ):
            bounds = getattr(spec.filters, name)
            if (
                bounds
                and bounds.min is not None
                and bounds.max is not None
                and bounds.min > bounds.max
            ):
                self.error(
                    "TS203",
                    f"`filters.{name}.min` is above `max`",
                    ("filters", name, "min"),
                )

    def judge(self, spec: TaskSpec) -> None:
        """The judge's rubric: distinct criteria, a score range, a threshold inside it.
        Checked when the judge is off too, so that switching it on finds no surprise."""
        judge = spec.judge
        scores = judge.scores
        # Counted here, not by the struct: the validation walker checks values, not the
        # length of a list.
        if not scores.criteria or len(scores.criteria) > MAX_CRITERIA:
            self.error(
                "TS440",
                f"`judge.scores.criteria` lists {len(scores.criteria)} criteria, "
                f"not 1 to {MAX_CRITERIA}",
                ("judge", "scores", "criteria"),
            )
        seen: set[str] = set()
        for index, name in enumerate(scores.criteria):
            if name in seen:
                self.error(
                    "TS440",
                    f"criterion `{name}` is listed twice in `judge.scores.criteria`",
                    ("judge", "scores", "criteria", index),
                )
            seen.add(name)
        if scores.min >= scores.max:
            self.error(
                "TS440",
                f"`judge.scores.min` ({scores.min}) is not below `max` ({scores.max})",
                ("judge", "scores", "min"),
            )
        elif not scores.min <= judge.threshold <= scores.max:
            self.error(
                "TS440",
                f"`judge.threshold` ({judge.threshold}) is outside the score range "
                f"{scores.min}..{scores.max}",
                ("judge", "threshold"),
                "a mean score: between `judge.scores.min` and `max`",
            )
        if judge.enabled:
            self.prompt_fields(judge, ("judge",))

    def language(self, spec: TaskSpec) -> None:
        value = spec.language.strip().lower()
        if value in (AUTO, *OFF) or language_code(value) is not None:
            return
        guess = closest(value, known_spellings())
        self.error(
            "TS430",
            f"`{spec.language}` is not a language the language filter knows",
            ("language",),
            f"did you mean `{guess}`?" if guess else "a code or English name, `auto` or `none`",
        )


def _outside_repository(pattern: str) -> str | None:
    """Why a `data_files` pattern or `data_dir` could read outside the dataset
    repository, or None when it stays inside."""
    text = pattern.strip()
    if text.startswith(_HUB_URL):
        text = text[len(_HUB_URL) :]
        if ".." in text.replace("\\", "/").split("/"):
            return "climbs out of its folder with `..`"
        return None
    if _SCHEME.match(text):
        return "is a URL"
    if text.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", text):
        return "is an absolute path"
    if ".." in text.replace("\\", "/").split("/"):
        return "climbs out of the repository with `..`"
    return None
