"""One lm-eval task configuration -> the seeds, mapping and answer format of a spec.

What translates is written as it is (`lm_eval_mapping` builds the mapping, following
Python hooks where it can); what does not (a hook it cannot follow, a prompt with no
row fields, a dataset loaded with extra arguments) is still written, as a value that
makes `taskseed validate` fail at its line, with a comment naming the lm-eval line. A
task that must not seed at all raises `Skip`, with one of the reasons in `SKIP_REASONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.contract.splits import is_training_name
from taskseed.importers.lm_eval_hooks import HookReader
from taskseed.importers.lm_eval_mapping import (
    MULTIPLE_CHOICE,
    HookCopy,
    HookOutcome,
    MappingBuilder,
)
from taskseed.importers.lm_eval_yaml import Config, Origin, shown
from taskseed.importers.spec_yaml import Note, Problem, hand

SHORT_ANSWER, FREE_FORM = "short_answer", "free_form"
# Metrics that compare a generation with a gold string: the answer is short.
EXACT_METRICS = frozenset(
    {"exact_match", "em", "f1", "acc", "accuracy", "qa_f1_score", "quasi_exact_match"}
)
# Why a task is not imported; every skip names one of these.
NO_TRAINING_SPLIT = "no training split"
SCORED_ON_TRAINING = "the training split is an evaluation split"
WHOLE_DOCUMENTS = "likelihood of whole documents"
PYTHON_CLASS = "a Python class task"
UNKNOWN_OUTPUT = "an unknown output type"
SKIP_REASONS = (
    NO_TRAINING_SPLIT,
    SCORED_ON_TRAINING,
    WHOLE_DOCUMENTS,
    PYTHON_CLASS,
    UNKNOWN_OUTPUT,
)

Where = Callable[[Origin], str]
Show = Callable[[Path], str]


class Skip(Exception):
    """A task that is not imported, and why (one line); `kind` is one of SKIP_REASONS."""

    def __init__(self, kind: str, reason: str, origin: str) -> None:
        super().__init__(f"{reason} ({origin})")
        self.kind = kind
        self.reason = reason
        self.origin = origin


@dataclass
class Translation:
    name: str
    config: Config
    format: str
    format_notes: tuple[str, ...]
    seeds: dict[str, Any] = field(default_factory=dict)
    mapping: dict[str, Any] = field(default_factory=dict)
    hooks: list[HookOutcome] = field(default_factory=list)
    copies: list[HookCopy] = field(default_factory=list)


class Translator:
    def __init__(
        self, config: Config, where: Where, show: Show, hooks: HookReader, refer: bool = False
    ) -> None:
        self.config = config
        self.where = where
        self.show = show
        self.hooks = hooks
        self.refer = refer

    def seen(self, key: str) -> str:
        """`doc_to_text: "..." (lm_eval/tasks/x/x.yaml:9)`, for a comment."""
        return f"lm-eval {key}: {shown(self.config.get(key))} ({self.at(key)})"

    def at(self, key: str) -> str:
        return self.where(self.config.origin(key))

    def problem(self, key: str, message: str) -> Problem:
        return Problem(message, self.at(key))

    def hand_note(self, key: str, what: str, message: str) -> Note:
        return Note(
            hand(f"{what}: {message} ({self.at(key)})"),
            (self.seen(key),),
            self.problem(key, message),
        )

    # ----------------------------------------------------------------- sections

    def translate(self) -> Translation:
        name = str(self.config.get("task"))
        if self.config.get("class") is not None:
            raise Skip(
                PYTHON_CLASS, "is a Python class task, with nothing to translate", self.at("class")
            )
        fmt, notes = self.answer_format()
        result = Translation(name, self.config, fmt, notes)
        result.seeds = self.seeds()
        builder = MappingBuilder(self, fmt, self.hooks, self.refer)
        result.mapping = builder.build()
        if builder.where is not None:
            result.seeds["where"] = builder.where
        result.hooks = builder.outcomes
        result.copies = builder.copies
        return result

    def answer_format(self) -> tuple[str, tuple[str, ...]]:
        output = self.config.get("output_type") or "generate_until"
        seen = self.seen("output_type") if "output_type" in self.config.values else None
        if output == "multiple_choice":
            return MULTIPLE_CHOICE, ()
        if output == "loglikelihood":
            if self.config.get("doc_to_choice") is not None:
                return MULTIPLE_CHOICE, ()
            return SHORT_ANSWER, (f"{seen}: the target's likelihood is scored.",)
        if output == "generate_until":
            metrics = {
                str(m["metric"])
                for m in self.config.get("metric_list") or []
                if isinstance(m, dict) and isinstance(m.get("metric"), str)
            }
            exact = sorted(metrics & EXACT_METRICS)
            origin = seen or "lm-eval output_type: generate_until (the default)"
            if exact:
                return SHORT_ANSWER, (f"{origin}, scored by {', '.join(exact)}: a short answer.",)
            return FREE_FORM, (f"{origin}, with no exact-match metric: a free-form answer.",)
        if output == "loglikelihood_rolling":
            raise Skip(
                WHOLE_DOCUMENTS,
                "scores the likelihood of whole documents (loglikelihood_rolling) "
                "and has no question or answer to seed from",
                self.at("output_type"),
            )
        raise Skip(
            UNKNOWN_OUTPUT, f"has an unknown output_type {shown(output)}", self.at("output_type")
        )

    def seeds(self) -> dict[str, Any]:
        cfg = self.config
        training = cfg.get("training_split")
        if not isinstance(training, str) or not training:
            raise Skip(
                NO_TRAINING_SPLIT,
                "has no training split (lm-eval only evaluates it); seeds come from "
                "training splits only",
                self.at("training_split"),
            )
        for key in ("test_split", "validation_split"):
            if cfg.get(key) == training:
                raise Skip(
                    SCORED_ON_TRAINING,
                    f"is evaluated on its training split `{training}` ({key}); "
                    "a benchmark's evaluation rows are never seeds",
                    self.at(key),
                )
        if "test" in training.lower():
            raise Skip(
                SCORED_ON_TRAINING,
                f"names a test split (`{training}`) as its training split",
                self.at("training_split"),
            )
        if not is_training_name(training):
            raise Skip(
                NO_TRAINING_SPLIT,
                f"has no training split: lm-eval draws its few-shot examples from "
                f"`{training}`, a held-out split by name; if the dataset has a real training "
                "split, write the spec with that one",
                self.at("training_split"),
            )
        seeds: dict[str, Any] = {"dataset": self.dataset()}
        config_name = cfg.get("dataset_name")
        if isinstance(config_name, str):
            seeds["config"] = config_name
        seeds["split"] = training
        evals = []
        for key in ("validation_split", "test_split", "fewshot_split"):
            split = cfg.get(key)
            if isinstance(split, str) and split != training and split not in evals:
                evals.append(split)
        if evals:
            seeds["eval_splits"] = evals
        return seeds

    def dataset(self) -> Any:
        cfg = self.config
        for key in ("custom_dataset", "dataset_kwargs"):
            if cfg.get(key) is not None:
                message = f"lm-eval loads the data with {key}, which taskseed cannot pass on"
                return Note(
                    None,
                    (
                        self.seen(key),
                        "Set `dataset` (and `config`) to a Hugging Face dataset that loads "
                        "without extra arguments, or use `files:` for local data.",
                    ),
                    self.problem(key, message),
                )
        path = cfg.get("dataset_path")
        if not isinstance(path, str) or not path:
            return Note(
                None,
                ("lm-eval names no dataset_path: set `dataset` or `files:` by hand.",),
                self.problem("dataset_path", "lm-eval names no dataset_path"),
            )
        return path


def translate(
    config: Config, where: Where, show: Show, hooks: HookReader, refer: bool = False
) -> Translation:
    return Translator(config, where, show, hooks, refer).translate()
