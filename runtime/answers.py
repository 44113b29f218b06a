"""Answer extraction and equivalence, per answer format.

- options: a letter (`B`, `(b)`, `B.`, `**B**`, `The answer is B`), a number label, or
  the option's text, mapped to the option's text, which is what is compared; when a
  label and a text are both given (`D) flowers`), the text decides;
- numbers: thousands separators (`1,200`, `1{,}200`, `1\\,200`, thin spaces), currency
  signs, trailing units (`12 apples`, `3.5 km`), fractions and mixed numbers (`3/4`,
  `1 1/2`), scientific notation (`1.5e3`) and LaTeX (`\\frac{3}{4}`, `\\boxed{}`,
  `3 \\times 10^{5}`, `\\sqrt{2}`) are reduced to one canonical number and compared
  with the format's tolerance. A decimal comma (`3,5`, `0,125`: a comma before one or
  two digits, or after a lone zero) is a decimal point, a space between digit groups
  (`1 200`) a thousands separator, and an English number in words (`twelve`,
  `twenty-one`) a number. Plain answers take a fast regex path; anything with
  LaTeX left in it is parsed by math-verify (its `parse`, which uses sympy), and when
  that finds no number the regex parser has the last word. A percent sign is a unit
  like any other: `75%` is 75, not 0.75 (GSM8K-style answers state percentages as bare
  numbers, and a vote must not split between `75` and `75%`). An equation states its
  right-hand side (`2 + 3 = 5` is 5, `x = 5` is 5);
- short answers (`short_answer_key`): width and accents folded (`ＡＢＣ`, `Pelé`), then
  a leading number with its unit compared as number and unit symbol (`240km`, `240 km`,
  `240 kilometres` and `240 Kilometers` are all `240 km`; `$5` and `5 dollars` are
  `5 $`; `twelve apples` is `12 apples`, `1,200 m` is `1200 m`), and anything else
  SQuAD-style (case, punctuation, articles, spaces); the seed's aliases are accepted.
  The unit table and number words are in `units.py`;
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
import unicodedata
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from taskseed.contract.jinja_env import boxed, option_labels
from taskseed.contract.plan import PlanFormat
from taskseed.runtime.units import number_words, unit_symbol

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
_THOUSANDS = re.compile(r"(?<=\d)(?:,|\{,\}|\\,|\\!|[ \u2009\u202f\u00a0'])(?=\d{3}(?!\d))")
# A decimal comma: before one or two digits (`3,5`, `12,75`), or after a lone zero (`0,125`).
_DECIMAL_COMMA = re.compile(r"(?<![\d,.])(\d+),(\d{1,2})(?![\d,])|(?<![\d,.])0,(\d+)(?![\d,])")
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
    candidate = _DECIMAL_COMMA.sub(_decimal_point, candidate)
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


def _decimal_point(match: re.Match[str]) -> str:
    if match.group(3) is not None:
        return f"0.{match.group(3)}"
    return f"{match.group(1)}.{match.group(2)}"


def _plain_fraction(match: re.Match[str]) -> str:
    """`\\frac{3}{4}` -> `3/4`; after a digit, `1\\frac{1}{2}` -> `1 1/2` (a mixed number)."""
    fraction = f"{match.group(1) or match.group(3)}/{match.group(2) or match.group(4)}"
    start = match.start()
    return f" {fraction}" if start and match.string[start - 1].isdigit() else fraction


def _plain_number(candidate: str) -> Fraction | None:
    """The regex parser: the first number, or the last one after an `=`."""
    matches = _NUMBER.findall(candidate)
    if not matches:
        words = _leading_number_words(candidate)  # `twelve`, `twenty-one apples`
        if words is None or len(words[1].split()) > 1:
            return None
        return Fraction(words[0])
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


def _leading_number_words(text: str) -> tuple[int, str] | None:
    """An English number in words at the start of the text, and the rest of it."""
    tokens = text.split()
    for end in range(len(tokens), 0, -1):
        value = number_words(" ".join(tokens[:end]))
        if value is not None:
            return value, " ".join(tokens[end:])
    return None


# ---------------------------------------------------------------- short answers

_LEADING_NUMBER = re.compile(
    r"^(?P<currency>[$€£¥₹₩])?\s*(?P<number>[-+]?\d(?:[\d,' \u00a0\u2009\u202f]*\d)?(?:[.,]\d+)?"
    r"(?:\s*/\s*\d+)?)(?![\d.,]*\d)\s*(?P<rest>.*)$",
    re.DOTALL,
)


def fold_accents(text: str) -> str:
    """Accents taken off Latin letters (`Pelé` -> `Pele`); other scripts are left as they
    are (their marks are letters' parts, as in Devanagari or Hangul)."""
    if any(c.isalpha() and ord(c) >= 0x250 for c in text):
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    )


def short_answer_key(text: str, *, case_sensitive: bool = False) -> str:
    """The canonical form of a short answer (see the module doc); '' for none."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    if case_sensitive:
        match = _LEADING_NUMBER.match(text)
        if match and match["rest"] and not match["currency"]:
            return f"{match['number']} {match['rest']}"  # `240km` and `240 km` are one
        return text
    text = fold_accents(text).replace("° ", "°")
    quantity = _quantity(text)
    if quantity is not None:
        return quantity
    return normalize_text(text)


def _quantity(text: str) -> str | None:
    """`<number> <unit or words>` in canonical form, when the text starts with a number
    (in digits after an optional currency sign, or in English words)."""
    match = _LEADING_NUMBER.match(text)
    if match:
        value = parse_number(match["number"])
        rest = match["rest"].strip()
        unit = match["currency"]
        if unit and rest:
            return None  # `$5 each`: not a plain amount
    else:
        words = _leading_number_words(text)
        if words is None:
            return None
        value, rest = Fraction(words[0]), words[1]
        unit = None
    if value is None:
        return None
    number = number_key(value)
    if unit is None and rest:
        unit = unit_symbol(rest.rstrip("."))
        if unit is None:
            words_left = normalize_text(rest)
            return f"{number} {words_left}" if words_left else number
    return f"{number} {unit}" if unit else number


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
        return short_answer_key(answer, case_sensitive=fmt.case_sensitive) or None
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
