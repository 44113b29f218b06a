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
from taskseed.compiler.spec import DATA_KINDS, KindSpec, MultipleChoiceFormat, TaskSpec
from taskseed.contract.splits import is_training_name, split_name


class UnitRules:
    def __init__(self, diagnostics: Diagnostics, tree: MapNode, notes: Iterable[str]) -> None:
        self.diagnostics = diagnostics
        self.tree = tree
        self.notes = tuple(notes)

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
        self.seeds(spec)
        self.answers(spec)
        self.kinds(spec)
        self.filters(spec)
        self.numbers(spec)

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
