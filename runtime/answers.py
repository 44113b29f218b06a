"""Answer extraction and equivalence, per answer format.

- options: a letter (`B`, `(b)`, `B.`), a number label, or the option's text, mapped
  to the option's text, which is what is compared;
- numbers: thousands separators, currency and percent signs, fractions, simple LaTeX
  (`\\frac{a}{b}`, `\\boxed{}`) and trailing units are normalised to one canonical
  number and compared with the format's tolerance;
- short answers: SQuAD-style normalisation (case, punctuation, articles, spaces),
  with the seed's aliases accepted;
- code and free-form answers have no extractor here: they are not voted on.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from fractions import Fraction

from taskseed.compiler.jinja_env import boxed, option_labels
from taskseed.compiler.plan_model import PlanFormat

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_LETTER = re.compile(r"^\(?\s*([A-Za-z]|\d{1,2})\s*[\).:]?\s*$")
_LEADING_LABEL = re.compile(r"^\(?([A-Za-z])[\).:]\s+(.*)$", re.DOTALL)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+(?:\.\d+)?)?")


def normalize_text(text: str) -> str:
    """SQuAD-style: lowercase, no punctuation, no articles, single spaces."""
    lowered = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", lowered).split())


def option_index(answer: str, choices: list[str], style: str = "letters") -> int | None:
    """Which option an answer names: by label, by exact text, by normalised text."""
    text = answer.strip()
    if not text:
        return None
    if text in choices:
        return choices.index(text)
    labels = option_labels(len(choices), style)
    letter = _LETTER.match(text)
    if letter:
        label = letter.group(1).upper()
        if label in labels:
            return labels.index(label)
    leading = _LEADING_LABEL.match(text)
    if leading and leading.group(2).strip() in choices:
        return choices.index(leading.group(2).strip())
    folded = [normalize_text(c) for c in choices]
    key = normalize_text(leading.group(2) if leading else text)
    if key and key in folded and folded.count(key) == 1:
        return folded.index(key)
    return None


def parse_number(text: str) -> Fraction | None:
    """The number an answer states, or None."""
    candidate = boxed(text) or text
    candidate = candidate.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    candidate = re.sub(r"\\[dt]?frac\{([^{}]+)\}\{([^{}]+)\}", r"\1/\2", candidate)
    candidate = candidate.replace("\\!", "").replace("{,}", "").replace(",", "")
    candidate = candidate.replace("−", "-").strip()
    matches = _NUMBER.findall(candidate)
    if not matches:
        return None
    token = matches[-1] if len(matches) > 1 and "=" in candidate else matches[0]
    try:
        if "/" in token:
            numerator, denominator = token.split("/")
            value = Fraction(numerator) / Fraction(denominator)
        else:
            value = Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None
    return value


def numbers_equal(a: Fraction, b: Fraction, fmt: PlanFormat) -> bool:
    tolerance = fmt.tolerance + fmt.relative_tolerance * max(abs(float(a)), abs(float(b)))
    return abs(float(a) - float(b)) <= tolerance


def number_key(value: Fraction) -> str:
    """A canonical string for voting: exact for integers, 9 significant digits otherwise."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):.9g}"


def answer_key(answer: str, fmt: PlanFormat, choices: list[str] | None) -> str | None:
    """The canonical form of an answer for voting, or None when nothing can be extracted."""
    if fmt.type == "multiple_choice":
        if not choices:
            return None
        index = option_index(answer, choices, fmt.labels)
        return None if index is None else normalize_text(choices[index]) or choices[index]
    if fmt.type == "numeric":
        value = parse_number(answer)
        return None if value is None else number_key(value)
    if fmt.type == "short_answer":
        key = answer.strip() if fmt.case_sensitive else normalize_text(answer)
        return key or None
    return None


def same_answer(
    key: str,
    answer: str,
    fmt: PlanFormat,
    choices: list[str] | None,
    aliases: Sequence[str] = (),
) -> bool:
    """Whether an extracted key names the item's answer (or one of its aliases)."""
    if fmt.type == "numeric":
        mine = parse_number(answer)
        theirs = parse_number(key)
        return mine is not None and theirs is not None and numbers_equal(mine, theirs, fmt)
    targets = [answer, *aliases]
    return any(answer_key(t, fmt, choices) == key for t in targets)
