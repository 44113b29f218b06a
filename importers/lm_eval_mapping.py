"""One lm-eval task configuration -> the `mapping` (and `seeds.where`) of a spec.

lm-eval describes a task by the prompt it scores (`doc_to_text`), the options
(`doc_to_choice`) and the target (`doc_to_target`), as Jinja strings or Python hooks,
over the rows `process_docs` makes. This module reads each of them as an expression over
the dataset's own row (`lm_eval_hooks` follows the hooks, `lm_eval_prompt` takes the
prompt apart) and records what became of every hook: translated, referenced (with
`--hooks`), or left to finish by hand.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from taskseed.importers import lm_eval_jinja as jinja
from taskseed.importers.lm_eval_hooks import ROW_HOOKS, Followed, HookFailure, HookReader
from taskseed.importers.lm_eval_prompt import (
    choice_items,
    cloze,
    evaluate,
    listed_choices,
    option_listing,
    split_context,
    substitute,
    template_parts,
)
from taskseed.importers.lm_eval_yaml import FunctionRef, shown
from taskseed.importers.py_values import (
    Const,
    Expr,
    Failed,
    Row,
    Seq,
    Untranslatable,
    Value,
    kind_of,
    render,
    template,
    text_parts,
)
from taskseed.importers.spec_yaml import Note, hand

if TYPE_CHECKING:
    from taskseed.importers.lm_eval_translate import Translator

MULTIPLE_CHOICE = "multiple_choice"
HOOKS_DIR = "hooks"
_LETTER_TABLE = re.compile(
    r"""^\[\s*(?:(['"])[A-Za-z]\1\s*,\s*)*(['"])[A-Za-z]\2\s*,?\s*\]\[.+\]$"""
)

Outcome = Literal["translated", "referenced", "by hand"]


@dataclass(frozen=True)
class HookOutcome:
    """What the importer did with one `!function` hook of a task."""

    key: str
    function: str
    file: Path
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True)
class HookCopy:
    """An lm-eval hook file to copy next to the spec, for a referenced hook."""

    source: Path
    name: str  # the file name under `hooks/`


class MappingBuilder:
    def __init__(self, translator: Translator, fmt: str, hooks: HookReader, refer: bool) -> None:
        self.t = translator
        self.config = translator.config
        self.fmt = fmt
        self.hooks = hooks
        self.refer = refer
        self.row = Row()
        self.fields: dict[str, Value] = {}
        self.rows_failure: HookFailure | None = None
        self.rows_from: str | None = None  # "process_docs in lm_eval/tasks/x/utils.py"
        self.rows_notes: tuple[str, ...] = ()
        self.gold: Note | None = None  # the answer index, for lm-eval's multiple-input tasks
        self.continuation: Value | None = None
        self.where: Any = None
        self.prompt_notes: list[str] = []  # comments for the question (and context)
        self.outcomes: list[HookOutcome] = []
        self.copies: list[HookCopy] = []

    @property
    def choice(self) -> bool:
        return self.fmt == MULTIPLE_CHOICE

    # -------------------------------------------------------------------- build

    def build(self) -> dict[str, Any]:
        self.read_rows()
        prompt = self.prompt()
        mapping: dict[str, Any] = {}
        choices: Any = None
        if self.choice:
            choices, prompt = self.choices(prompt)
        if isinstance(prompt, Note):
            mapping["question"] = prompt
        else:
            context, question = self.question(prompt)
            if context is not None:
                mapping["context"] = context
            mapping["question"] = question
        if choices is not None:
            mapping["choices"] = choices
        mapping["answer"] = {"index": self.gold} if self.gold is not None else self.answer()
        if self.rows_failure is not None:
            mapping["metadata"] = {"process_docs": self.rows_note(self.rows_failure)}
        return mapping

    # ------------------------------------------------------------ process_docs

    def read_rows(self) -> None:
        result = self.hooks.rows(self.config)
        if result is None:
            return
        if isinstance(result, HookFailure):
            self.rows_failure = result
            self.outcome(result, "by hand", result.reason)
            return
        try:
            where = result.where()
        except Untranslatable as exc:
            failure = HookFailure("process_docs", result.function, result.file, str(exc))
            self.rows_failure = failure
            self.outcome(failure, "by hand", failure.reason)
            return
        self.row = result.row
        self.fields = result.row.fields
        self.rows_notes = result.notes
        self.rows_from = f"{result.function} in {self.t.show(result.file)}"
        self.outcomes.append(
            HookOutcome("process_docs", result.function, result.file, "translated")
        )
        if where is not None:
            self.where = Note(
                where,
                (
                    self.t.seen("process_docs"),
                    f"lm-eval's process_docs ({self.rows_from}) keeps only the rows for which "
                    "this is true.",
                    *result.notes,
                ),
            )

    def rows_note(self, failure: HookFailure) -> Note:
        message = f"process_docs is the Python function {failure.function}"
        return Note(
            hand(f"process_docs: {message} ({self.t.at('process_docs')})"),
            (
                self.t.seen("process_docs"),
                "lm-eval rewrites every row with this function before reading it, so the "
                "expressions above may read fields it makes. taskseed could not translate "
                f"it ({failure.reason}). Check them against {self.t.show(failure.file)}, "
                "rewrite them over the dataset's own fields, then delete this entry.",
            ),
            self.t.problem("process_docs", message),
        )

    # ------------------------------------------------------------------ hooks

    def outcome(self, failure: HookFailure, outcome: Outcome, reason: str | None) -> None:
        self.outcomes.append(
            HookOutcome(failure.key, failure.function, failure.file, outcome, reason)
        )

    def follow(self, key: str) -> Followed | HookFailure:
        result = self.hooks.value(self.config, key, self.row)
        if isinstance(result, HookFailure):
            return result
        if isinstance(result.value, Failed):
            return HookFailure(key, result.function, result.file, result.value.reason)
        return result

    def translated(self, key: str, followed: Followed) -> tuple[str, ...]:
        """Comment lines for a hook that was translated."""
        self.outcomes.append(HookOutcome(key, followed.function, followed.file, "translated"))
        lines = [
            self.t.seen(key),
            f"Translated from {followed.function} in {self.t.show(followed.file)}.",
            *followed.notes,
        ]
        if self.rows_from is not None:
            lines.append(f"It reads the row lm-eval's process_docs ({self.rows_from}) makes.")
        return tuple(lines)

    def failed(self, failure: HookFailure, what: str) -> Note:
        """A hook that did not translate: a hook reference (with `--hooks`, for a row
        hook over the dataset's own rows) or a value to finish by hand."""
        key = failure.key
        if self.refer and key in ROW_HOOKS and self.rows_from is None and not self.fields:
            name = f"{_flat(self.t.show(failure.file))}"
            self.copies.append(HookCopy(failure.file, name))
            self.outcome(failure, "referenced", failure.reason)
            return Note(
                {"hook": f"{HOOKS_DIR}/{name}:{failure.function}"},
                (
                    self.t.seen(key),
                    f"{failure.function} could not be translated ({failure.reason}), so the "
                    f"spec calls lm-eval's function, copied to {HOOKS_DIR}/{name}. It is Python "
                    "code: `taskseed validate --trust-hooks` runs it on the fixture rows, and "
                    "`taskseed run` runs it only with --trust-hooks.",
                ),
            )
        self.outcome(failure, "by hand", failure.reason)
        message = f"{key} is the Python function {failure.function}"
        lines = [
            self.t.seen(key),
            f"Write {what} as an expression over the dataset's own row; lm-eval's version "
            f"is {failure.function} in {self.t.show(failure.file)} (taskseed could not "
            f"translate it: {failure.reason}).",
        ]
        if self.refer and key in ROW_HOOKS:
            lines.append(
                "It is not referenced as a hook: it reads the row lm-eval's process_docs "
                "makes, and a hook is called with the dataset's own row."
            )
        return Note(
            hand(f"{what}: {message} ({self.t.at(key)})"),
            tuple(lines),
            self.t.problem(key, message),
        )

    def over_fields(self, key: str, text: str) -> Value | str | Note:
        """An lm-eval string over the dataset's own fields: where `process_docs` made
        fields, the value of a Python-readable expression, or the rewritten template."""
        if self.fields:
            value = evaluate(text, self.row)
            if value is not None:
                return value
        result = substitute(text, self.fields)
        if isinstance(result, Failed):
            found = self.hooks.locate(self.config, "process_docs")
            assert found is not None
            failure = HookFailure("process_docs", found[1], found[0], result.reason)
            return self.failed(failure, f"the {_WHAT[key]}")
        return result

    def derived(self, text: str) -> tuple[str, ...]:
        """A comment naming the process_docs fields a string read, if any."""
        names = sorted(n for n in self.fields if re.search(rf"\b{re.escape(n)}\b", text))
        if not names or self.rows_from is None:
            return ()
        shown = ", ".join(f"`{n}`" for n in names)
        made = f"{shown}: made by lm-eval's process_docs ({self.rows_from}), written out here."
        return (made, *self.rows_notes)

    # ----------------------------------------------------------------- prompt

    def prompt(self) -> str | Note:
        """lm-eval's prompt as one template ("" when it is empty)."""
        key = "doc_to_text"
        raw = self.config.get(key)
        if isinstance(raw, FunctionRef):
            followed = self.follow(key)
            if isinstance(followed, HookFailure):
                return self.failed(followed, "the question")
            comments = self.translated(key, followed)
            self.prompt_notes.extend(comments[1:])
            if self.choice and kind_of(followed.value) == "int":
                self.gold = Note(render(followed.value).text, (*comments, _MULTIPLE_INPUT))
                self.continuation = self.target_text()
                return ""
            try:
                return template(followed.value)
            except Untranslatable as exc:
                failure = HookFailure(key, followed.function, followed.file, str(exc))
                return self.failed(failure, "the question")
        if raw is None:
            return self.t.hand_note(key, "the question", "lm-eval gives no doc_to_text")
        if not isinstance(raw, str):
            return self.t.hand_note(key, "the question", "lm-eval's doc_to_text is not text")
        text = "{{" + raw.strip() + "}}" if jinja.is_field(raw) else raw
        result = self.over_fields(key, text)
        if isinstance(result, str | Note):
            return result
        try:
            return template(result)
        except Untranslatable as exc:
            return self.t.hand_note(key, "the question", f"it has no expression ({exc})")

    def question(self, prompt: str) -> tuple[Note | None, Note]:
        key = "doc_to_text"
        if not prompt.strip():
            return None, self.t.hand_note(
                key, "the question", "lm-eval's doc_to_text is empty (the row is in the choices)"
            )
        raw = self.config.get(key)
        derived = self.derived(raw if isinstance(raw, str) else "")
        seen = (self.t.seen(key), *self.prompt_notes, *derived)
        context_text, text = split_context(prompt)
        text = jinja.strip_scaffolding(text)
        context = None
        if context_text is not None:
            split = "lm-eval's prompt labels a passage and a question: the passage is the context."
            context = self.expression(context_text, (self.t.seen(key), split))
        if not jinja.is_template(text):
            return context, self.t.hand_note(
                key, "the question", "lm-eval's doc_to_text is fixed text"
            )
        return context, self.expression(text, seen)

    @staticmethod
    def expression(text: str, comments: tuple[str, ...]) -> Note:
        expr = jinja.as_expression(text)
        if expr is not None:
            return Note(expr, comments)
        return Note(text, (*comments, "Kept as a template."))

    # ----------------------------------------------------------------- choices

    def choices(self, prompt: str | Note) -> tuple[Any, str | Note]:
        key = "doc_to_choice"
        raw = self.config.get(key)
        items: list[list[Value]] | None = None
        if isinstance(raw, FunctionRef):
            followed = self.follow(key)
            if isinstance(followed, HookFailure):
                return self.failed(followed, "the choices"), prompt
            try:
                choices: Any = Note(render(followed.value).text, self.translated(key, followed))
            except Untranslatable as exc:
                failure = HookFailure(key, followed.function, followed.file, str(exc))
                return self.failed(failure, "the choices"), prompt
            if isinstance(followed.value, Seq):
                items = [_parts(v) for v in followed.value.items]
        elif isinstance(raw, list):
            texts = [str(item) for item in raw]
            if jinja.labels_only(texts):
                return self.lettered(texts, prompt)
            choices = Note(texts, (self.t.seen(key),))
            items = choice_items(raw)
        elif isinstance(raw, str):
            text = "{{" + raw.strip() + "}}" if jinja.is_field(raw) else raw
            rewritten = self.over_fields(key, text)
            if isinstance(rewritten, Note):
                return rewritten, prompt
            comments = (self.t.seen(key), *self.derived(raw))
            if isinstance(rewritten, str):
                expr = jinja.as_expression(rewritten)
                items = choice_items(rewritten)
            else:
                expr = _rendered(rewritten)
                items = [_parts(v) for v in rewritten.items] if isinstance(rewritten, Seq) else None
            not_list = "lm-eval's doc_to_choice is not a list"
            choices = (
                Note(expr, comments)
                if expr is not None
                else self.t.hand_note(key, "the choices", not_list)
            )
        else:
            return self.t.hand_note(
                key, "the choices", "lm-eval's doc_to_choice is not a list"
            ), prompt
        if isinstance(prompt, str):
            listing = option_listing(prompt)
            if listing is not None and all("{{" in option for option in listing.options):
                prompt = listing.text
                self.prompt_notes.append(_LISTED)
        return self.shared_text(choices, items, prompt)

    def lettered(self, labels: list[str], prompt: str | Note) -> tuple[Any, str | Note]:
        """Choices that are bare letters: the option texts are the prompt's lines."""
        key = "doc_to_choice"
        listing = option_listing(prompt) if isinstance(prompt, str) else None
        if listing is None or len(listing.options) != len(labels):
            note = self.t.hand_note(
                key,
                "the choices",
                "lm-eval scores option labels only; the option texts are elsewhere in the row",
            )
            return note, prompt
        comment = (
            "lm-eval scores the option letters; the options are the texts its prompt lists "
            "after them, and the letters become the labels."
        )
        self.prompt_notes.append(_LISTED)
        return Note(listed_choices(listing.options), (self.t.seen(key), comment)), listing.text

    def shared_text(
        self, choices: Any, items: list[list[Value]] | None, prompt: str | Note
    ) -> tuple[Any, str | Note]:
        """Choices that share text around what differs: a question with a blank."""
        if items is None or not isinstance(prompt, str):
            return choices, prompt
        if not any(isinstance(part, Expr) for item in items for part in item):
            return choices, prompt
        found = cloze(items)
        if found is None:
            return choices, prompt
        if self.continuation is not None:
            after = [*found.after, Const(" "), self.continuation]
            found = dataclasses.replace(found, after=after)
        delimiter = self.config.get("target_delimiter")
        delimiter = delimiter if isinstance(delimiter, str) else " "
        try:
            question = found.question(prompt, delimiter)
            listed = found.choices()
        except Untranslatable:
            return choices, prompt
        seen = choices.comments if isinstance(choices, Note) else ()
        comment = (
            "lm-eval's choices are whole continuations that share text; the shared text "
            "moves into the question (`___` marks where the choice goes) and the choices "
            "keep what differs."
        )
        return Note(listed, (*seen, comment)), question

    # ------------------------------------------------------------------ answer

    def target_text(self) -> Value:
        """The target of a multiple-input task: the text after the choice, which the
        question ends with."""
        key = "doc_to_target"
        raw = self.config.get(key)
        if isinstance(raw, FunctionRef):
            followed = self.follow(key)
            if isinstance(followed, HookFailure):
                self.outcome(followed, "by hand", followed.reason)
                return Failed(followed.reason)
            self.translated(key, followed)
            return followed.value
        if isinstance(raw, str):
            text = "{{" + raw.strip() + "}}" if jinja.is_field(raw) else raw
            value = evaluate(text, self.row) if self.fields else None
            if value is not None:
                return value
            rewritten = substitute(text, self.fields)
            return rewritten if isinstance(rewritten, Failed) else template_parts(rewritten)
        return Failed("lm-eval gives no doc_to_target")

    def answer(self) -> dict[str, Any]:
        key = "doc_to_target"
        raw = self.config.get(key)
        kind = "index" if self.choice else "text"
        if isinstance(raw, FunctionRef):
            followed = self.follow(key)
            if isinstance(followed, HookFailure):
                return {kind: self.failed(followed, "the answer")}
            comments = self.translated(key, followed)
            try:
                expr = render(followed.value).text
            except Untranslatable as exc:
                failure = HookFailure(key, followed.function, followed.file, str(exc))
                return {kind: self.failed(failure, "the answer")}
            value_kind = kind_of(followed.value)
            if self.choice and value_kind == "str":
                return {"text": Note(expr, (*comments, "Target kind: the text of the answer."))}
            if self.choice:
                return self.choice_answer(expr, comments)
            if value_kind == "list":
                note = "Target kind: a list of accepted answers; the first is the answer."
                return {"text": Note(f"({expr})[0]", (*comments, note)), "aliases": expr}
            return {"text": Note(expr, comments)}
        if isinstance(raw, bool) or raw is None:
            return {kind: self.t.hand_note(key, "the answer", "lm-eval gives no doc_to_target")}
        if isinstance(raw, int):
            if self.choice:
                note = f"Target kind: a fixed index; the answer is always choice {raw}."
                return {"index": Note(str(raw), (self.t.seen(key), note))}
            return {kind: self.t.hand_note(key, "the answer", "lm-eval's target is a fixed number")}
        if not isinstance(raw, str):
            return {kind: self.t.hand_note(key, "the answer", "lm-eval's target is a list")}
        text = "{{" + raw.strip() + "}}" if jinja.is_field(raw) else raw
        rewritten = self.over_fields(key, text)
        if isinstance(rewritten, Note):
            return {kind: rewritten}
        comments = (self.t.seen(key), *self.derived(raw))
        if not isinstance(rewritten, str):
            value = _rendered(rewritten)
            if value is None:
                return {kind: self.t.hand_note(key, "the answer", "it has no expression")}
            if self.choice:
                if kind_of(rewritten) == "str":
                    return {"text": Note(value, comments)}
                return self.choice_answer(value, comments)
            if kind_of(rewritten) == "str":
                return {"text": Note(value, (*comments, "Target kind: the answer's text."))}
            return self.text_answer(value, comments)
        found = jinja.as_expression(rewritten)
        if found is None:
            if jinja.is_template(rewritten):
                return self.template_answer(rewritten, comments)
            return {kind: self.t.hand_note(key, "the answer", "lm-eval's target is fixed text")}
        if self.choice:
            return self.choice_answer(found, comments)
        return self.text_answer(found, comments)

    def choice_answer(self, expr: str, seen: tuple[str, ...]) -> dict[str, Any]:
        letters = jinja.letter_lookup(expr)
        if letters is not None:
            labels, field_expr = letters
            note = (
                f"Target kind: a letter, looked up in {shown(labels)}; taken as the answer's label."
            )
            return {"label": Note(field_expr, (*seen, note)), "labels": labels}
        if _LETTER_TABLE.match(expr.strip()):
            note = "Target kind: a letter picked from a list; taken as the answer's label."
            return {"label": Note(expr, (*seen, note))}
        if ".index(" in expr:
            note = "Target kind: the position of a label in a list; taken as a 0-based index."
            return {"index": Note(expr, (*seen, note))}
        if jinja.looks_numeric(expr):
            return {
                "index": Note(expr, (*seen, "Target kind: a number; taken as a 0-based index."))
            }
        what = f"the field `{expr}`" if jinja.is_field(expr) else "a value"
        note = (
            f"Target kind: {what}; taken as a 0-based index, as lm-eval reads a number. "
            f"If it holds the choice's text, write `text: {expr}` instead; if a letter "
            f"(A, B, ...), `label: {expr}`."
        )
        return {"index": Note(expr, (*seen, note))}

    @staticmethod
    def text_answer(expr: str, seen: tuple[str, ...]) -> dict[str, Any]:
        if jinja.is_literal_list(expr):
            note = "Target kind: a list of accepted answers; the first is the answer."
            return {"text": Note(f"{expr}[0]", (*seen, note)), "aliases": expr}
        note = (
            f"Target kind: the answer's text. If `{expr}` holds a list of accepted "
            f"answers, write `text: {expr}[0]` and `aliases: {expr}`."
        )
        return {"text": Note(expr, (*seen, note))}

    def template_answer(self, text: str, seen: tuple[str, ...]) -> dict[str, Any]:
        if self.choice:
            note = (
                "Target kind: a template; taken as a 0-based index, as lm-eval reads a "
                "number. If it renders the choice's text, write it under `text:`."
            )
            return {"index": Note(text, (*seen, note))}
        return {"text": Note(text, (*seen, "Target kind: a template rendering the answer."))}


_LISTED = (
    "lm-eval's prompt lists the options after the question; the record keeps them in "
    "`choices`, so the question leaves them out."
)
_WHAT = {"doc_to_text": "question", "doc_to_choice": "choices", "doc_to_target": "answer"}
_MULTIPLE_INPUT = (
    "lm-eval's doc_to_text gives the number of the right choice here (a task scored by "
    "its continuation); it is the answer's index."
)


def _rendered(value: Value) -> str | None:
    try:
        return render(value).text
    except Untranslatable:
        return None


def _parts(value: Value) -> list[Value]:
    return text_parts(value)


def _flat(shown: str) -> str:
    """`lm_eval/tasks/logiqa/utils_logiqa.py` -> `logiqa_utils_logiqa.py`."""
    path = shown.removeprefix("lm_eval/tasks/")
    return re.sub(r"[^A-Za-z0-9_.]", "_", path.replace("/", "_"))
