"""Stage 6, filter: the plan's schema, format and quality checks as one fused polars
expression.

Every check is an expression that is true for rows that pass. One `when/then` chain
turns them into a reject reason (the first failing check), so polars evaluates the
whole filter in a single pass over each batch; rows with a reason are dropped and keep
it. A reason starts with a stable code in brackets (`[lang]`, `[length]`), documented
in docs/quality.md, then says what failed.

Most checks are polars expressions (`degenerate.py` holds those about options and
questions); the language, repetition and answer-in-question checks are batch functions
over a column inside the same expression (`map_batches`), since they need a language
identifier or per-row comparisons that expressions cannot state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from taskseed.contract.language import check_language, language_name
from taskseed.contract.plan import PlanFilters, PlanFormat, PlanLanguage, PlanRepetition
from taskseed.runtime import degenerate
from taskseed.runtime.repetition import repetition

TEXT_FIELDS = ("question", "context", "answer", "rationale")
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.String,
    "question": pl.String,
    "context": pl.String,
    "answer": pl.String,
    "rationale": pl.String,
    "choices": pl.List(pl.String),
}

# A reason is fixed text, or (for the batch checks) an expression that gives the text
# for the rows that fail and null for the others.
Reason = str | pl.Expr


def checks(filters: PlanFilters, fmt: PlanFormat) -> list[tuple[Reason, pl.Expr]]:
    """(reason, passes) pairs, in the order they are reported."""
    out: list[tuple[Reason, pl.Expr]] = []
    for name, bounds in filters.bounds.items():
        if name == "options":
            size = pl.col("choices").list.len()
            code, what = "options", "options"
        else:
            size = pl.col(name).str.len_chars()
            code, what = "chars", f"characters in `{name}`"
        if bounds.min is not None:
            out.append(
                (f"[{code}] fewer than {bounds.min} {what}", (size >= bounds.min).fill_null(True))
            )
        if bounds.max is not None:
            out.append(
                (f"[{code}] more than {bounds.max} {what}", (size <= bounds.max).fill_null(True))
            )
    for name, length in filters.lengths.items():
        weighted = degenerate.weighted_length(pl.col(name))
        what = f"weighted characters in `{name}`"
        if length.min is not None:
            out.append(
                (
                    f"[length] fewer than {length.min:g} {what}",
                    (weighted >= length.min).fill_null(True),
                )
            )
        if length.max is not None:
            out.append(
                (
                    f"[length] more than {length.max:g} {what}",
                    (weighted <= length.max).fill_null(True),
                )
            )
    multiple_choice = fmt.type == "multiple_choice"
    if multiple_choice and filters.answer_in_options:
        out.append(
            (
                "[answer-options] answer is not among the options",
                pl.col("choices").list.contains(pl.col("answer")).fill_null(False),
            )
        )
    if multiple_choice and filters.label_options:
        out.append(
            (
                "[label-options] the options are bare labels, not answers",
                ~degenerate.label_options(),
            )
        )
    if multiple_choice and filters.labelled_options:
        out.append(
            (
                "[labelled-options] the options carry their labels (`A. ...`)",
                ~degenerate.labelled_options(),
            )
        )
    if filters.placeholders:
        for name in ("question", "context", "answer", "choices"):
            if name == "choices" and not multiple_choice:
                continue
            out.append((f"[placeholder] `{name}` is a placeholder", ~degenerate.placeholder(name)))
    if multiple_choice and filters.distinct_options:
        out.append(
            (
                "[duplicate-options] options repeat each other",
                degenerate.distinct_options().fill_null(True),
            )
        )
    if filters.repeats_question:
        if multiple_choice:
            out.append(
                (
                    "[repeats-question] an option repeats the question",
                    ~degenerate.option_is_question(),
                )
            )
        out.append(
            ("[repeats-question] the answer repeats the question", ~degenerate.answer_is_question())
        )
    if multiple_choice and filters.answer_in_question:
        out.append(
            (
                "[answer-in-question] the question spells out its answer",
                ~degenerate.answer_in_question(),
            )
        )
    if filters.context_repeats_question:
        out.append(
            (
                "[context-repeats-question] the context repeats the question",
                ~degenerate.context_repeats_question(),
            )
        )
    if filters.fragments:
        out.append(
            ("[fragment] the question is a fragment, not a question", ~degenerate.fragment())
        )
    if filters.question_mark:
        out.append(
            ("[no-question] the question asks nothing (no question mark)", degenerate.asks())
        )
    if filters.answer_in_context:
        out.append(
            (
                "[answer-not-in-context] the answer is not in the context",
                degenerate.answer_in_context(),
            )
        )
    for name, patterns in filters.require.items():
        for pattern in patterns:
            out.append(
                (
                    f"[require] `{name}` does not match {pattern!r}",
                    _matches(name, pattern, every=True),
                )
            )
    for name, patterns in filters.forbid.items():
        for pattern in patterns:
            matched = _matches(name, pattern, every=False)
            out.append((f"[forbid] `{name}` matches forbidden {pattern!r}", ~matched))
    for name in filters.language.fields:
        if name == "choices" and not multiple_choice:
            continue
        reason = _language_reason(name, filters.language)
        out.append((reason, reason.is_null()))
    for name in filters.repetition.fields:
        reason = _repetition_reason(name, filters.repetition)
        out.append((reason, reason.is_null()))
    return out


def _matches(name: str, pattern: str, *, every: bool) -> pl.Expr:
    if name == "choices":
        each = pl.col("choices").list.eval(pl.element().str.contains(pattern))
        combined = each.list.all() if every else each.list.any()
        return combined.fill_null(not every)
    return pl.col(name).str.contains(pattern).fill_null(not every)


def _text(name: str) -> pl.Expr:
    """A field as one text; the options joined one per line."""
    if name == "choices":
        return pl.col("choices").list.join("\n")
    return pl.col(name)


def _language_reason(name: str, language: PlanLanguage) -> pl.Expr:
    """`[lang]` and what the field reads as, for rows not in the subtask's language.
    Options are tested for their script only: they are terms and names (scientific
    names read as Latin), on which the identifier guesses."""
    expected = language.code
    assert expected is not None  # the compiler checks no field without a language

    def reasons(texts: pl.Series) -> pl.Series:
        out: list[str | None] = []
        for text in texts.to_list():
            verdict = None
            if text:
                verdict = check_language(
                    text,
                    expected,
                    min_length=language.min_length,
                    min_script_share=language.min_script_share,
                    min_share=language.min_share,
                    min_confidence=language.min_confidence,
                    words=name != "choices",  # options: the script only
                )
            if verdict is None:
                out.append(None)
            elif verdict.script:
                out.append(
                    f"[lang] `{name}` is not written in {language_name(expected)} script "
                    f"(reads as {language_name(verdict.found)})"
                )
            else:
                out.append(
                    f"[lang] `{name}` reads as {language_name(verdict.found)} "
                    f"({verdict.probability:.2f}), not {language_name(expected)}"
                )
        return pl.Series(out, dtype=pl.String)

    return _text(name).map_batches(reasons, return_dtype=pl.String)


def _repetition_reason(name: str, rules: PlanRepetition) -> pl.Expr:
    def reasons(texts: pl.Series) -> pl.Series:
        out: list[str | None] = []
        for text in texts.to_list():
            why = repetition(text, rules)
            out.append(None if why is None else f"[repetition] `{name}` repeats itself: {why}")
        return pl.Series(out, dtype=pl.String)

    return _text(name).map_batches(reasons, return_dtype=pl.String)


def reason_expression(pairs: Sequence[tuple[Reason, pl.Expr]]) -> pl.Expr:
    if not pairs:
        return pl.lit(None, dtype=pl.String)

    def text(reason: Reason) -> pl.Expr:
        return pl.lit(reason) if isinstance(reason, str) else reason

    chain: Any = pl.when(~pairs[0][1]).then(text(pairs[0][0]))
    for reason, ok in pairs[1:]:
        chain = chain.when(~ok).then(text(reason))
    result: pl.Expr = chain.otherwise(pl.lit(None, dtype=pl.String))
    return result


_SEP = "\x1f"  # joins a row's options into one string, split again by polars


def frame(rows: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """The rows as a frame, built column by column (polars builds a list column from
    Python lists slowly, so the options travel as one joined string each)."""
    columns = {name: [row.get(name) for row in rows] for name in SCHEMA if name != "choices"}
    data: dict[str, pl.Series] = {
        name: pl.Series(name, values, dtype=SCHEMA[name]) for name, values in columns.items()
    }
    data["choices"] = _choices([row.get("choices") for row in rows])
    return pl.DataFrame(data).select(list(SCHEMA))


def _choices(values: list[Any]) -> pl.Series:
    joined: list[str | None] = []
    for value in values:
        if value is None:
            joined.append(None)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(c, str) and _SEP not in c for c in value)
        ):
            joined.append(_SEP.join(value))
        else:  # empty, or not plain text: the general (slower) constructor
            return pl.Series("choices", values, dtype=SCHEMA["choices"])
    return pl.Series("choices", joined, dtype=pl.String).str.split(_SEP)


def reject_reasons(
    rows: Sequence[dict[str, Any]], filters: PlanFilters, fmt: PlanFormat
) -> list[str | None]:
    """For each row, the reason it fails, or None when it passes every check."""
    if not rows:
        return []
    expression = reason_expression(checks(filters, fmt)).alias("reason")
    # Lazily, so that polars computes each batch check once for its test and its text.
    reasons = frame(rows).lazy().select(expression).collect()
    return reasons["reason"].to_list()
