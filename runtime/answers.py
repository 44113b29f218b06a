"""Answer extraction and equivalence, per answer format.

- options: a letter (`B`, `(b)`, `B.`, `**B**`, `The answer is B`), a number label, or
  the option's text, mapped to the option's text, which is what is compared; when a
  label and a text are both given (`D) flowers`), the text decides;
- numbers: thousands separators (`1,200`, `1{,}200`, `1\\,200`, thin spaces), currency
  signs, trailing units (`12 apples`, `3.5 km`), fractions and mixed numbers (`3/4`,
  `1 1/2`), scientific notation (`1.5e3`) and LaTeX (`\\frac{3}{4}`, `\\boxed{}`,
  `3 \\times 10^{5}`, `\\sqrt{2}`) are reduced to one canonical number and compared
  with the format's tolerance. Plain answers take a fast regex path; anything with
  LaTeX left in it is parsed by math-verify (its `parse`, which uses sympy), and when
  that finds no number the regex parser has the last word. A percent sign is a unit
  like any other: `75%` is 75, not 0.75 (GSM8K-style answers state percentages as bare
  numbers, and a vote must not split between `75` and `75%`). An equation states its
  right-hand side (`2 + 3 = 5` is 5, `x = 5` is 5);
- short answers: SQuAD-style normalisation (case, punctuation, articles, spaces),
  with the seed's aliases accepted;
- code answers are checked by running their tests (`code_check.py`), free-form
  answers are not verified: neither has an extractor here.

math-verify bounds its own parsing time with `signal.alarm`, which works only in the
main thread and would cancel any other alarm of the process (pytest-timeout's, for
one). It is called here with its timeout off (`parsing_timeout=None`), which is safe in
any thread; instead its input is bounded: at most `MAX_LATEX_CHARS` characters, no
power towers, no exponent or factorial of a number with four or more digits (such an
answer states no number), and results beyond 1e30 are no answer.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from taskseed.contract.jinja_env import boxed, option_labels
from taskseed.contract.plan import PlanFormat

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_LETTER = re.compile(r"^\(?\s*([A-Za-z]|\d{1,2})\s*[\).:]?\s*$")
_LEADING_LABEL = re.compile(r"^\(?([A-Za-z])[\).:]\s+(.*)$", re.DOTALL)
# "The answer is B", "Answer: (B)", "Final answer: B. the leaves", "Option 2"
_ANSWER_PREFIX = re.compile(
    r"^\s*(?:(?:so\s+)?(?:the\s+)?(?:final\s+|correct\s+)?(?:answer|option|choice)"
    r"(?:\s+is)?\s*[:\-]?\s*)",
    re.IGNORECASE,
)

# --------------------------------------------------------------------- numbers

_NUMBER = re.compile(
    r"-?(?:\d+\s+\d+/\d+(?![\d.])"  # a mixed number: 1 1/2
    r"|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?:/\d+(?:\.\d+)?)?"  # 12, 1.5e3, 3/4
    r"|\.\d+)"  # .5
)
_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\}|\\,|\\!|[\u2009\u202f\u00a0'])(?=\d{3}(?!\d))")
_SIMPLE_FRAC = re.compile(
    r"\\[dt]?frac\s*\{\s*(-?\d+(?:\.\d+)?)\s*\}\s*\{\s*(-?\d+(?:\.\d+)?)\s*\}"
    r"|\\[dt]?frac\s*(\d)\s*(\d)"
)
_TEXT_MACRO = re.compile(r"\\(?:text|textrm|textbf|mathrm|mbox|operatorname)\s*\{([^{}]*)\}")
_LATEX_LEFT = re.compile(r"\\[A-Za-z]+|\^|[{}]")
_UNICODE_MATH = {"×": r"\times ", "·": r"\cdot ", "÷": r"\div ", "√": r"\sqrt ", "π": r"\pi "}
_CURRENCY = re.compile(r"\\\$|\$|[€£¥₹]|\\%|%|\\euro\b|\\pounds\b")
MAX_LATEX_CHARS = 300
MAX_MAGNITUDE = Fraction(10) ** 30
_UNSAFE_LATEX = re.compile(
    r"\^\s*\{[^{}]*\^"  # a power tower: 9^{9^{9}}
    r"|\^\s*\{?\s*-?\d{4,}"  # a huge exponent: 2^{10000}
    r"|\d{4,}\s*!"  # a huge factorial: 10000!
    r"|\\binom\s*\{?\s*\d{4,}"
)


def normalize_text(text: str) -> str:
    """SQuAD-style: lowercase, no punctuation, no articles, single spaces."""
    lowered = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", lowered).split())


def option_index(answer: str, choices: list[str], style: str = "letters") -> int | None:
    """Which option an answer names: by label, by exact text, by normalised text."""
    text = answer.strip()
    if not text:
        return None
    found = _option_index(text, choices, style)
    if found is not None:
        return found
    # Decorations around a label or a text: **B**, "The answer is B.", "Answer: roots"
    bare = text.replace("*", "").replace("`", "").strip()
    prefix = _ANSWER_PREFIX.match(bare)
    if prefix:
        bare = bare[prefix.end() :]
    bare = bare.strip().rstrip(".").strip()
    if bare and bare != text:
        return _option_index(bare, choices, style)
    return None


def _option_index(text: str, choices: list[str], style: str) -> int | None:
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
    return _parse_number(text.strip())


@lru_cache(maxsize=8192)
def _parse_number(text: str) -> Fraction | None:
    candidate = boxed(text) or text
    for symbol, latex in _UNICODE_MATH.items():
        candidate = candidate.replace(symbol, latex)
    candidate = _CURRENCY.sub("", candidate).replace("−", "-")
    candidate = _THOUSANDS.sub("", candidate)
    candidate = _SIMPLE_FRAC.sub(_plain_fraction, candidate)
    candidate = _TEXT_MACRO.sub(r" \1", candidate).strip()
    if _LATEX_LEFT.search(candidate):
        if len(candidate) > MAX_LATEX_CHARS or _UNSAFE_LATEX.search(candidate):
            return None  # not a number a task would state, and unsafe to evaluate
        value = _latex_number(candidate)
        if value is not None:
            return value
    return _plain_number(candidate)


def _plain_fraction(match: re.Match[str]) -> str:
    """`\\frac{3}{4}` -> `3/4`; after a digit, `1\\frac{1}{2}` -> `1 1/2` (a mixed number)."""
    fraction = f"{match.group(1) or match.group(3)}/{match.group(2) or match.group(4)}"
    start = match.start()
    return f" {fraction}" if start and match.string[start - 1].isdigit() else fraction


def _plain_number(candidate: str) -> Fraction | None:
    """The regex parser: the first number, or the last one after an `=`."""
    matches = _NUMBER.findall(candidate)
    if not matches:
        return None
    token = matches[-1] if len(matches) > 1 and "=" in candidate else matches[0]
    try:
        if " " in token.strip():  # a mixed number
            whole, fraction = token.split(maxsplit=1)
            numerator, denominator = fraction.split("/")
            part = Fraction(numerator) / Fraction(denominator)
            value = Fraction(whole) - part if whole.startswith("-") else Fraction(whole) + part
        elif "/" in token:
            numerator, denominator = token.split("/")
            value = Fraction(numerator) / Fraction(denominator)
        else:
            value = Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None
    return value if abs(value) <= MAX_MAGNITUDE else None


class _DropTimeoutNotice(logging.Filter):
    """math-verify warns once that its timeout is off: that is deliberate here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


@lru_cache(maxsize=1)
def _math_verify() -> Any:
    """math-verify's parse and its LaTeX config, imported on first use (sympy is slow
    to import, and most answers never need it)."""
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_DropTimeoutNotice())
    from math_verify import LatexExtractionConfig, parse  # type: ignore[import-untyped]

    return parse, [LatexExtractionConfig()]


def _latex_number(candidate: str) -> Fraction | None:
    parse, config = _math_verify()
    try:
        results = parse(
            f"${candidate}$",
            extraction_config=config,
            fallback_mode="no_fallback",
            parsing_timeout=None,
        )
    except Exception:
        return None
    for result in results:
        value = _sympy_number(result)
        if value is not None:
            return value
    return None


def _sympy_number(expr: Any) -> Fraction | None:
    """A finite real sympy number as a Fraction (the right side of `x = 5`), else None."""
    import sympy  # type: ignore[import-untyped]

    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
        expr = expr.rhs
    if not isinstance(expr, sympy.Expr):
        return None
    try:
        if not expr.is_number or expr.is_real is not True or expr.is_finite is not True:
            return None
        if expr.is_Rational:
            value = Fraction(int(expr.p), int(expr.q))
        elif expr.is_Float:
            value = Fraction(str(expr))
        else:
            value = Fraction(str(sympy.N(expr, 30)))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if abs(value) <= MAX_MAGNITUDE else None


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
        theirs = parse_number(key)
        if theirs is None:
            return False
        for target in (answer, *aliases):
            mine = parse_number(target)
            if mine is not None and numbers_equal(mine, theirs, fmt):
                return True
        return False
    targets = [answer, *aliases]
    return any(answer_key(t, fmt, choices) == key for t in targets)
