"""One lm-eval task configuration -> the seeds, mapping and answer format of a spec.

What translates is written as it is; what does not (a `!function` hook, a prompt with
no row fields, a dataset loaded with extra arguments) is still written, as a value that
makes `taskseed validate` fail at its line, with a comment naming the lm-eval line. A
task that must not seed at all (no training split, or trained and scored on the same
split) raises `Skip`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.contract.splits import is_training_name
from taskseed.importers import lm_eval_jinja as jinja
from taskseed.importers.lm_eval_yaml import Config, FunctionRef, Origin
from taskseed.importers.spec_yaml import Note, Problem, hand

MULTIPLE_CHOICE, SHORT_ANSWER, FREE_FORM = "multiple_choice", "short_answer", "free_form"
# Metrics that compare a generation with a gold string: the answer is short.
EXACT_METRICS = frozenset(
    {"exact_match", "em", "f1", "acc", "accuracy", "qa_f1_score", "quasi_exact_match"}
)
SHOWN_CHARS = 72

Where = Callable[[Origin], str]
Show = Callable[[Path], str]


class Skip(Exception):
    """A task that is not imported, and why (one line)."""

    def __init__(self, reason: str, origin: str) -> None:
        super().__init__(f"{reason} ({origin})")
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


def shown(value: Any) -> str:
    """An lm-eval value as it would read in its file, shortened for a comment."""
    if isinstance(value, FunctionRef):
        return f"!function {value.target}"
    text = json.dumps(value, ensure_ascii=False, default=_shown_nested)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + '..."'


def _shown_nested(value: object) -> str:
    return shown(value) if isinstance(value, FunctionRef) else str(value)


class Translator:
    def __init__(self, config: Config, where: Where, show: Show) -> None:
        self.config = config
        self.where = where
        self.show = show

    def seen(self, key: str) -> str:
        """`doc_to_text: "..." (lm_eval/tasks/x/x.yaml:9)`, for a comment."""
        return f"lm-eval {key}: {shown(self.config.get(key))} ({self.at(key)})"

    def at(self, key: str) -> str:
        return self.where(self.config.origin(key))

    def problem(self, key: str, message: str) -> Problem:
        return Problem(message, self.at(key))

    def function_note(self, key: str, what: str) -> Note:
        """A `!function` hook in `key`: a failing value and what to do instead."""
        ref = self.config.get(key)
        assert isinstance(ref, FunctionRef)
        module = ref.module_file(self.config.origin(key).path.parent)
        message = f"{key} is the Python function {ref.target}"
        return Note(
            hand(f"{what}: {message} ({self.at(key)})"),
            (
                self.seen(key),
                f"Write {what} as an expression over the dataset's own row; lm-eval's "
                f"version is {ref.target.rpartition('.')[2]} in {self.show(module)}.",
            ),
            self.problem(key, message),
        )

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
            raise Skip("is a Python class task, with nothing to translate", self.at("class"))
        fmt, notes = self.answer_format()
        result = Translation(name, self.config, fmt, notes)
        result.seeds = self.seeds()
        result.mapping = self.mapping(fmt)
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
                "scores the likelihood of whole documents (loglikelihood_rolling) "
                "and has no question or answer to seed from",
                self.at("output_type"),
            )
        raise Skip(f"has an unknown output_type {shown(output)}", self.at("output_type"))

    def seeds(self) -> dict[str, Any]:
        cfg = self.config
        training = cfg.get("training_split")
        if not isinstance(training, str) or not training:
            raise Skip(
                "has no training split (lm-eval only evaluates it); seeds come from "
                "training splits only",
                self.at("training_split"),
            )
        scored_key = "test_split" if isinstance(cfg.get("test_split"), str) else "validation_split"
        scored = cfg.get(scored_key)
        if training == scored:
            raise Skip(
                f"is scored on its training split `{training}` ({scored_key}); "
                "a benchmark's scored rows are never seeds",
                self.at(scored_key),
            )
        if "test" in training.lower():
            raise Skip(
                f"names a test split (`{training}`) as its training split",
                self.at("training_split"),
            )
        seeds: dict[str, Any] = {"dataset": self.dataset()}
        config_name = cfg.get("dataset_name")
        if isinstance(config_name, str):
            seeds["config"] = config_name
        seeds["split"] = self.split(training)
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

    def split(self, training: str) -> Any:
        if is_training_name(training):
            return training
        message = (
            f"lm-eval's training split `{training}` is not named like one: say why it is "
            "training data in `training_split_reason`"
        )
        return Note(
            training,
            (self.seen("training_split"), message[0].upper() + message[1:] + "."),
            self.problem("training_split", message),
        )

    def mapping(self, fmt: str) -> dict[str, Any]:
        mapping: dict[str, Any] = {"question": self.question()}
        if fmt == MULTIPLE_CHOICE:
            mapping["choices"] = self.choices()
        mapping["answer"] = self.answer(fmt)
        if isinstance(self.config.get("process_docs"), FunctionRef):
            ref = self.config.get("process_docs")
            assert isinstance(ref, FunctionRef)
            message = f"process_docs is the Python function {ref.target}"
            module = ref.module_file(self.config.origin("process_docs").path.parent)
            mapping["metadata"] = {
                "process_docs": Note(
                    hand(f"process_docs: {message} ({self.at('process_docs')})"),
                    (
                        self.seen("process_docs"),
                        "lm-eval rewrites every row with this function before reading it, "
                        "so the expressions above may read fields it makes. Check them "
                        f"against {self.show(module)}, rewrite them over the "
                        "dataset's own fields, then delete this entry.",
                    ),
                    self.problem("process_docs", message),
                )
            }
        return mapping

    # ------------------------------------------------------------------ fields

    def question(self) -> Any:
        key = "doc_to_text"
        raw = self.config.get(key)
        if isinstance(raw, FunctionRef):
            return self.function_note(key, "the question")
        if raw is None:
            return self.hand_note(key, "the question", "lm-eval gives no doc_to_text")
        if not isinstance(raw, str):
            return self.hand_note(key, "the question", "lm-eval's doc_to_text is not text")
        if not raw.strip():
            return self.hand_note(
                key, "the question", "lm-eval's doc_to_text is empty (the row is in the choices)"
            )
        text = jinja.strip_scaffolding(raw)
        expr = jinja.as_expression(text)
        if expr is not None:
            return Note(expr, (self.seen(key),))
        if jinja.is_template(text):
            return Note(text, (self.seen(key), "Kept as a template."))
        return self.hand_note(key, "the question", "lm-eval's doc_to_text is fixed text")

    def choices(self) -> Any:
        key = "doc_to_choice"
        raw = self.config.get(key)
        if isinstance(raw, FunctionRef):
            return self.function_note(key, "the choices")
        if isinstance(raw, list):
            items = [str(item) for item in raw]
            if jinja.labels_only(items):
                return self.hand_note(
                    key,
                    "the choices",
                    "lm-eval scores option labels only; the option texts are elsewhere in the row",
                )
            return Note(items, (self.seen(key),))
        if isinstance(raw, str):
            expr = jinja.as_expression(raw)
            if expr is not None:
                return Note(expr, (self.seen(key),))
        return self.hand_note(key, "the choices", "lm-eval's doc_to_choice is not a list")

    def answer(self, fmt: str) -> dict[str, Any]:
        key = "doc_to_target"
        raw = self.config.get(key)
        kind = "index" if fmt == MULTIPLE_CHOICE else "text"
        if isinstance(raw, FunctionRef):
            return {kind: self.function_note(key, "the answer")}
        if isinstance(raw, bool) or raw is None:
            return {kind: self.hand_note(key, "the answer", "lm-eval gives no doc_to_target")}
        if isinstance(raw, int):
            if fmt == MULTIPLE_CHOICE:
                note = f"Target kind: a fixed index; the answer is always choice {raw}."
                return {"index": Note(str(raw), (self.seen(key), note))}
            return {kind: self.hand_note(key, "the answer", "lm-eval's target is a fixed number")}
        if not isinstance(raw, str):
            return {kind: self.hand_note(key, "the answer", "lm-eval's target is a list")}
        expr = jinja.as_expression(raw)
        if expr is None:
            if jinja.is_template(raw):
                return self.template_answer(fmt, raw)
            return {kind: self.hand_note(key, "the answer", "lm-eval's target is fixed text")}
        if fmt == MULTIPLE_CHOICE:
            return self.choice_answer(expr, raw)
        return self.text_answer(expr)

    def choice_answer(self, expr: str, raw: str) -> dict[str, Any]:
        seen = self.seen("doc_to_target")
        letters = jinja.letter_lookup(expr)
        if letters is not None:
            labels, field_expr = letters
            note = (
                f"Target kind: a letter, looked up in {shown(labels)}; taken as the answer's label."
            )
            return {"label": Note(field_expr, (seen, note)), "labels": labels}
        if ".index(" in expr:
            note = "Target kind: the position of a label in a list; taken as a 0-based index."
            return {"index": Note(expr, (seen, note))}
        if jinja.looks_numeric(expr):
            return {"index": Note(expr, (seen, "Target kind: a number; taken as a 0-based index."))}
        what = f"the field `{expr}`" if jinja.is_field(raw) or jinja.is_field(expr) else "a value"
        note = (
            f"Target kind: {what}; taken as a 0-based index, as lm-eval reads a number. "
            f"If it holds the choice's text, write `text: {expr}` instead; if a letter "
            f"(A, B, ...), `label: {expr}`."
        )
        return {"index": Note(expr, (seen, note))}

    def text_answer(self, expr: str) -> dict[str, Any]:
        seen = self.seen("doc_to_target")
        if jinja.is_literal_list(expr):
            note = "Target kind: a list of accepted answers; the first is the answer."
            return {"text": Note(f"{expr}[0]", (seen, note)), "aliases": expr}
        note = (
            f"Target kind: the answer's text. If `{expr}` holds a list of accepted "
            f"answers, write `text: {expr}[0]` and `aliases: {expr}`."
        )
        return {"text": Note(expr, (seen, note))}

    def template_answer(self, fmt: str, raw: str) -> dict[str, Any]:
        seen = self.seen("doc_to_target")
        if fmt == MULTIPLE_CHOICE:
            note = (
                "Target kind: a template; taken as a 0-based index, as lm-eval reads a "
                "number. If it renders the choice's text, write it under `text:`."
            )
            return {"index": Note(raw, (seen, note))}
        return {"text": Note(raw, (seen, "Target kind: a template rendering the answer."))}


def translate(config: Config, where: Where, show: Show) -> Translation:
    return Translator(config, where, show).translate()
