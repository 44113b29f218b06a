"""Stage 6, filter: the plan's schema and format checks as one fused polars expression.

Every check is an expression that is true for rows that pass. One `when/then` chain
turns them into a reject reason (the first failing check), so polars evaluates the
whole filter in a single pass over each batch; rows with a reason are dropped and keep
it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from taskseed.contract.plan import PlanFilters, PlanFormat

TEXT_FIELDS = ("question", "context", "answer", "rationale")
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "id": pl.String,
    "question": pl.String,
    "context": pl.String,
    "answer": pl.String,
    "rationale": pl.String,
    "choices": pl.List(pl.String),
}


def checks(filters: PlanFilters, fmt: PlanFormat) -> list[tuple[str, pl.Expr]]:
    """(reason, passes) pairs, in the order they are reported."""
    out: list[tuple[str, pl.Expr]] = []
    for name, bounds in filters.bounds.items():
        if name == "options":
            size = pl.col("choices").list.len()
            what = "options"
        else:
            size = pl.col(name).str.len_chars()
            what = f"characters in `{name}`"
        if bounds.min is not None:
            out.append((f"fewer than {bounds.min} {what}", (size >= bounds.min).fill_null(True)))
        if bounds.max is not None:
            out.append((f"more than {bounds.max} {what}", (size <= bounds.max).fill_null(True)))
    if fmt.type == "multiple_choice":
        if filters.answer_in_options:
            out.append(
                (
                    "answer is not among the options",
                    pl.col("choices").list.contains(pl.col("answer")).fill_null(False),
                )
            )
        if filters.distinct_options:
            folded = pl.col("choices").list.eval(pl.element().str.to_lowercase().str.strip_chars())
            out.append(
                (
                    "options repeat each other",
                    (folded.list.n_unique() == pl.col("choices").list.len()).fill_null(True),
                )
            )
    for name, patterns in filters.require.items():
        for pattern in patterns:
            out.append(
                (f"`{name}` does not match {pattern!r}", _matches(name, pattern, every=True))
            )
    for name, patterns in filters.forbid.items():
        for pattern in patterns:
            matched = _matches(name, pattern, every=False)
            out.append((f"`{name}` matches forbidden {pattern!r}", ~matched))
    return out


def _matches(name: str, pattern: str, *, every: bool) -> pl.Expr:
    if name == "choices":
        each = pl.col("choices").list.eval(pl.element().str.contains(pattern))
        combined = each.list.all() if every else each.list.any()
        return combined.fill_null(not every)
    return pl.col(name).str.contains(pattern).fill_null(not every)


def reason_expression(pairs: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    if not pairs:
        return pl.lit(None, dtype=pl.String)
    chain: Any = pl.when(~pairs[0][1]).then(pl.lit(pairs[0][0]))
    for reason, ok in pairs[1:]:
        chain = chain.when(~ok).then(pl.lit(reason))
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
    reasons = frame(rows).select(reason_expression(checks(filters, fmt)).alias("reason"))
    return reasons["reason"].to_list()
