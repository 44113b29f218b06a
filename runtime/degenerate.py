"""Degenerate items as polars expressions: options that are labels or placeholders,
options equal after normalisation, an option or answer that repeats the question, a
question that spells out its answer, a context that repeats the question, a question
that is a fragment. Each function gives an expression that is true for rows that have
the defect (nulls count as not having it); `filters.py` turns them into checks.

Texts are compared after `normalized`: lower case, punctuation and symbols removed,
the English articles removed, spaces collapsed (SQuAD's answer normalisation, for
every script). docs/quality.md lists the cases each check is meant to catch.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import polars as pl

from taskseed.contract.language import HAN, HANGUL, KANA, WEIGHTS

# English articles, matched before lowercasing: lowercase ones anywhere, capitalised ones
# only where a text starts, so that "Vitamin A" and "Hepatitis A" keep their letter.
ARTICLES = r"^(?:A|An|The)\b|\b(?:a|an|the)\b"


def normalized(text: pl.Expr) -> pl.Expr:
    return (
        text.str.replace_all(ARTICLES, " ")
        .str.to_lowercase()
        .str.replace_all(r"[\p{P}\p{S}]", " ")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def weighted_length(text: pl.Expr) -> pl.Expr:
    """`contract.language.weighted_length` as an expression."""
    return (
        text.str.len_chars().cast(pl.Float64)
        + (WEIGHTS["han"] - 1) * text.str.count_matches(f"[{HAN}]")
        + (WEIGHTS["kana"] - 1) * text.str.count_matches(f"[{KANA}]")
        + (WEIGHTS["hangul"] - 1) * text.str.count_matches(f"[{HANGUL}]")
    )


def _share_of_options(matches: pl.Expr) -> pl.Expr:
    """The share of a row's options for which `matches` (over `pl.element()`) holds."""
    hits = pl.col("choices").list.eval(matches).list.sum()
    return hits / pl.col("choices").list.len()


# `E`, `(b)`, `C.`, `[D]`; `Option 2`, `choice B`, `Answer: C`.
LABEL = r"(?i)^\s*[\(\[]?\s*[a-z]\s*[\)\]\.:]?\s*$"
NAMED_LABEL = (
    r"(?i)^\s*(?:option|choice|answer)\s*:?\s*[\(\[]?\s*(?:[a-z]|\d{1,2})\s*[\)\]\.:]?\s*$"
)


def label_options() -> pl.Expr:
    """More than half of the options are bare labels (`["E", "C", "A", "B", "D"]`)."""
    bare = pl.element().str.contains(LABEL) | pl.element().str.contains(NAMED_LABEL)
    return (_share_of_options(bare) > 0.5).fill_null(False)


# `A. 현금`, `(B) text`, `C) text`, `1. text`, `D: text`; not `1.5 kg` or `U.S. Army`.
LEADING_LABEL = r"^\s*\(?([A-Za-z]|\d{1,2})(?:\)|[.:：]\s)\s*\S"


def labelled_options() -> pl.Expr:
    """Options carry their labels: the leading labels include both `A` and `B` (or `1`
    and `2`). Names with initials (`J. K. Rowling`, `H. G. Wells`) rarely include both."""
    labels = pl.col("choices").list.eval(
        pl.element().str.extract(LEADING_LABEL, 1).str.to_uppercase()
    )
    letters = labels.list.contains("A") & labels.list.contains("B")
    numbers = labels.list.contains("1") & labels.list.contains("2")
    return (letters | numbers).fill_null(False)


# A whole field that stands for content instead of being it.
PLACEHOLDER = (
    r"(?i)^\s*(?:\.{2,}|…+|_{2,}|-{2,}|\?{2,}|\*{2,}|x{3,}|n/?a|tbd|todo|null|nan|undefined"
    r"|<[^<>]{0,40}>|\[[^\[\]]{0,40}\]|\{[^{}]{0,40}\}"
    r"|(?:new\s+|your\s+|the\s+)?(?:question|answer|option|choice|passage|context|text)"
    r"(?:\s*\d{1,2})?(?:\s+(?:here|goes here))?)\s*[.:]?\s*$"
)
# Template slots left in a text: `{{ question }}`, `{answer}`, `<option>`, `[insert ...]`.
SLOT = (
    r"(?i)\{\{[^{}]*\}\}|\{(?:question|answer|options?|choices?|context|passage)\}"
    r"|<(?:question|answer|options?|choices?|context|passage)>|\[(?:insert|your)\b[^\]]*\]"
)


def placeholder(name: str) -> pl.Expr:
    """The field (or any option) is a placeholder, or holds a template slot."""
    if name == "choices":
        found = pl.element().str.contains(PLACEHOLDER) | pl.element().str.contains(SLOT)
        return pl.col("choices").list.eval(found).list.any().fill_null(False)
    column = pl.col(name)
    return (column.str.contains(PLACEHOLDER) | column.str.contains(SLOT)).fill_null(False)


def distinct_options() -> pl.Expr:
    """True when no two options are equal after normalisation (`Mars`, `mars.`)."""
    folded = pl.col("choices").list.eval(normalized(pl.element()))
    return folded.list.n_unique() == pl.col("choices").list.len()


def option_is_question() -> pl.Expr:
    """An option equal to the question after normalisation."""
    folded = pl.col("choices").list.eval(normalized(pl.element()))
    return folded.list.contains(normalized(pl.col("question"))).fill_null(False)


def answer_is_question() -> pl.Expr:
    return (normalized(pl.col("answer")) == normalized(pl.col("question"))).fill_null(False)


def context_repeats_question() -> pl.Expr:
    """The context is the question again: equal after normalisation, or one holds the
    other and is at most a quarter longer."""
    context = normalized(pl.col("context"))
    question = normalized(pl.col("question"))
    short = pl.min_horizontal(context.str.len_chars(), question.str.len_chars())
    long = pl.max_horizontal(context.str.len_chars(), question.str.len_chars())
    holds = context.str.contains(question, literal=True) | question.str.contains(
        context, literal=True
    )
    return ((context == question) | (holds & (short * 1.25 >= long) & (short > 0))).fill_null(False)


# Questions that only announce an answer or name a part: "The correct answer is",
# "Answer:", "Question 3", "정답은", "正确答案是", "La bonne réponse est".
FRAGMENT = (
    r"(?i)^[\s\W]*(?:"
    r"(?:(?:so|thus|therefore|hence)\s+)?(?:the\s+)?(?:correct\s+|right\s+|best\s+|final\s+)?"
    r"(?:answer|option|choice|solution)(?:\s+(?:is|would\s+be|will\s+be))?(?:\s*[\(\[]?[a-e][\)\]]?)?"
    r"|(?:question|q|passage|context|options?|choices?)(?:\s*\d{1,3})?"
    r"|(?:here\s+is\s+)?(?:a|the|one)?\s*new\s+question"
    r"|which\s+of\s+the\s+following"
    r"|(?:el\s+|la\s+)?(?:respuesta|opción)\s+correcta\s+es"
    r"|la\s+(?:bonne\s+)?réponse(?:\s+(?:correcte|exacte|juste))?\s+est"
    r"|die\s+(?:richtige|korrekte)\s+antwort\s+ist"
    r"|la\s+resposta\s+correcta\s+és"
    r"|(?:riktig|korrekt)\s+svar\s+er|svaret\s+er"
    r"|정답은|정답|답은|답"
    r"|正确答案是|正確答案是|答案是|答案|正解は|正解|答えは|答え"
    r")[\s\W]*$"
)


def fragment() -> pl.Expr:
    return pl.col("question").str.contains(FRAGMENT).fill_null(False)


QUESTION_MARK = "[?\uff1f\u061f\u055e\u037e;]"  # as compiler/plan.py's


def asks() -> pl.Expr:
    """The question holds a question mark (`?`, `？`, `؟`, `՞`, Greek `;`)."""
    return pl.col("question").str.contains(QUESTION_MARK).fill_null(True)


def answer_in_context() -> pl.Expr:
    """The (normalised) answer is found in the (normalised) context; true without one."""
    found = normalized(pl.col("context")).str.contains(normalized(pl.col("answer")), literal=True)
    return found.fill_null(True)


# ------------------------------------------------------- the answer in the question

_CJK = re.compile(f"[{HAN}{KANA}{HANGUL}]")
_ARTICLES = re.compile(ARTICLES)


@cache
def _is_mark(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def normalize(text: str) -> str:
    """`normalized` in Python."""
    lowered = "".join(" " if _is_mark(c) else c for c in _ARTICLES.sub(" ", text).lower())
    return " ".join(lowered.split())


def _mentions(question: str, text: str) -> bool:
    """Whether the (normalised) question holds the text: as whole words, or anywhere for
    a text in a script written without spaces (or with particles glued on, as Korean)."""
    if not text:
        return False
    if _CJK.search(text):
        return len(text) >= 2 and text in question
    return f" {text} " in f" {question} "


def spells_answer(question: str | None, choices: list[str] | None, answer: str | None) -> bool:
    """The question holds its answer's text while it holds no other option's text (a
    question that lists every option, "whale or shark?", gives nothing away). Items
    with two options ("Is this sentence plausible?" / plausible, implausible), answers
    of one character, numbers and yes/no are never counted."""
    if not question or not choices or len(choices) < 3 or not answer:
        return False
    key = normalize(answer)
    if len(key) < 2 or key.replace(" ", "").isdigit() or key in ("yes", "no", "true", "false"):
        return False
    folded = normalize(question)
    if not _mentions(folded, key):
        return False
    others = (normalize(c) for c in choices if c != answer)
    return not any(_mentions(folded, other) for other in others if other != key)


def answer_in_question() -> pl.Expr:
    def spelled(rows: pl.Series) -> pl.Series:
        return pl.Series(
            [
                spells_answer(row["question"], row["choices"], row["answer"])
                for row in rows.to_list()
            ],
            dtype=pl.Boolean,
        )

    columns = pl.struct("question", "choices", "answer")
    return columns.map_batches(spelled, return_dtype=pl.Boolean).fill_null(False)
