"""Budgets for Jinja: what a template or mapping expression from a spec may spend.

Specs are not trusted, and Jinja's sandbox keeps templates away from Python's
internals but not from the machine's time and memory: `'a' * 10**10`, `9**(9**9)`,
`x|center(10**10)`, nested loops or a catastrophic regular expression would each hang
or exhaust a process. Every render and every evaluation runs inside `within()`, which
holds a tracker of what it has spent, and the environment (`jinja_env.py`) and the
syntax-tree evaluator (`jinja_eval.py`) check, *before* an operation that could grow a
value without bound, what it would produce:

- time: 2 s of CPU time for one render or one evaluation (checked at every call,
  filter, loop iteration, operator and output);
- size: 2,000,000 characters in any string and 100,000 items in any list, tuple or
  mapping; 20,000,000 characters in everything one render produces (its output, and
  every string an operator, call or filter makes);
- integers: 4,096 bits;
- loops: 100,000 iterations in one render;
- recursion: 64 nested calls (macros, recursive loops);
- regular expressions (the `regex_*` filters): run by the `regex` engine, in Python's
  `re` syntax, with the render's remaining time as timeout; patterns whose counted
  repeats (`{n}`) multiply past 100,000 are refused before they are compiled.

A budget that runs out raises `BudgetExceeded`, a `jinja2.TemplateError` whose `kind`
says which budget (the compiler reports each kind with its own code; the runtime turns
it into a reject).
"""

from __future__ import annotations

import json
import math
import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar

from jinja2.exceptions import TemplateRuntimeError
from jinja2.utils import Namespace

Kind = Literal["time", "size", "integer", "iterations", "recursion", "regex"]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Budgets:
    """What one render or one evaluation may spend (see the module's doc)."""

    seconds: float = 2.0
    max_chars: int = 2_000_000
    max_total_chars: int = 20_000_000
    max_items: int = 100_000
    max_int_bits: int = 4096
    max_iterations: int = 100_000
    max_depth: int = 64
    max_regex_repeat: int = 100_000


BUDGETS = Budgets()


class BudgetExceeded(TemplateRuntimeError):
    """A template or expression ran out of one of its budgets."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class RenderError(TemplateRuntimeError):
    """Any other error raised while rendering (a division by zero, a bad type), as a
    TemplateError, so that callers catch one exception type."""


class _Tracker:
    """What one render or evaluation has spent so far.

    Time is the CPU time of the thread that renders, so that a loaded machine does not
    fail renders that would fit on an idle one; it is read only once the wall clock
    says the budget may be spent (a thread's CPU time never runs ahead of the clock)."""

    __slots__ = ("budgets", "chars", "cpu_start", "deadline", "depth", "iterations")

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets
        self.cpu_start = time.thread_time()
        self.deadline = time.perf_counter() + budgets.seconds
        self.iterations = 0
        self.chars = 0
        self.depth = 0

    def check_time(self) -> None:
        if time.perf_counter() > self.deadline:
            self.deadline = time.perf_counter() + self.remaining()

    def remaining(self) -> float:
        """CPU seconds left; BudgetExceeded when none are."""
        left = self.budgets.seconds - (time.thread_time() - self.cpu_start)
        if left <= 0:
            raise BudgetExceeded(
                "time",
                f"evaluation took longer than its budget of {self.budgets.seconds:g} s of CPU time",
            )
        return left

    def produce(self, size: int, what: str) -> None:
        """Count characters made by this render against its total."""
        self.chars += size
        if self.chars > self.budgets.max_total_chars:
            raise BudgetExceeded(
                "size",
                f"{what} brings what this evaluation produced past its budget of "
                f"{self.budgets.max_total_chars:,} characters",
            )


_CURRENT: ContextVar[_Tracker | None] = ContextVar("taskseed_jinja_budget", default=None)
_DEFAULT: ContextVar[Budgets] = ContextVar("taskseed_jinja_budgets", default=BUDGETS)


def within(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call `fn` as one render or evaluation: inside a fresh budget, unless one is
    already running (a template that evaluates an expression spends from its own)."""
    if _CURRENT.get() is not None:
        return fn(*args, **kwargs)
    token = _CURRENT.set(_Tracker(_DEFAULT.get()))
    try:
        return fn(*args, **kwargs)
    finally:
        _CURRENT.reset(token)


class use_budgets:
    """Run renders and evaluations under other budgets (tests use smaller ones)."""

    def __init__(self, budgets: Budgets) -> None:
        self.budgets = budgets

    def __enter__(self) -> Budgets:
        self._token = _DEFAULT.set(self.budgets)
        return self.budgets

    def __exit__(self, *exc: object) -> None:
        _DEFAULT.reset(self._token)


def tracker() -> _Tracker:
    """The running budget; outside one (Jinja folding constants while it compiles), a
    throwaway one, so that sizes are still checked."""
    current = _CURRENT.get()
    return current if current is not None else _Tracker(_DEFAULT.get())


# ----------------------------------------------------------------------- sizes


def _too_big(what: str, size: int, limit: int, unit: str) -> BudgetExceeded:
    shown = f"{size:,}" if size < 10**15 else "more than 10^15"
    return BudgetExceeded(
        "size", f"{what} would hold {shown} {unit}, more than its budget of {limit:,}"
    )


def check_value(value: T, what: str = "a value") -> T:
    """A value an operation produced, against the size and integer budgets (strings
    also count against everything the evaluation produced)."""
    state = tracker()
    budgets = state.budgets
    if isinstance(value, str | bytes):
        if len(value) > budgets.max_chars:
            raise _too_big(what, len(value), budgets.max_chars, "characters")
        state.produce(len(value), what)
    elif isinstance(value, list | tuple | dict | set | frozenset):
        if len(value) > budgets.max_items:
            raise _too_big(what, len(value), budgets.max_items, "items")
    elif isinstance(value, int) and value.bit_length() > budgets.max_int_bits:
        raise BudgetExceeded(
            "integer",
            f"{what} is an integer of {value.bit_length():,} bits, more than its budget "
            f"of {budgets.max_int_bits:,}",
        )
    return value


def check_chars(size: int, what: str) -> None:
    limit = tracker().budgets.max_chars
    if size > limit:
        raise _too_big(what, size, limit, "characters")


def check_items(size: int, what: str) -> None:
    limit = tracker().budgets.max_items
    if size > limit:
        raise _too_big(what, size, limit, "items")


def text_size(value: Any, cap: int) -> int:
    """About how many characters `str(value)` has; more than `cap` once it passes it
    (nested lists and mappings are walked without building the text)."""
    total = 0
    stack = [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 16
    return total


def as_text(value: Any, what: str) -> str:
    """`str(value)`, refused before it is built when it would pass the size budget."""
    if isinstance(value, str):
        return value
    limit = tracker().budgets.max_chars
    if isinstance(value, list | tuple | dict | set | frozenset):
        check_chars(text_size(value, limit), what)
    return str(value)


# ------------------------------------------------------------------- operators

_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
INTERCEPTED = frozenset(_OPERATORS)


def _repeat(seq: Any, count: Any) -> None:
    if isinstance(seq, str | bytes) and isinstance(count, int):
        check_chars(len(seq) * max(count, 0), f"`{type(seq).__name__} * {count}`")
    elif isinstance(seq, list | tuple) and isinstance(count, int):
        check_items(len(seq) * max(count, 0), f"`{type(seq).__name__} * {count}`")


def binop(op: str, left: Any, right: Any) -> Any:
    """`left op right`, with the sizes of what it would produce checked first."""
    state = tracker()
    state.check_time()
    if op == "*":
        _repeat(left, right)
        _repeat(right, left)
    elif op == "**":
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and abs(left) > 1
            and right * math.log2(abs(left)) > state.budgets.max_int_bits
        ):
            raise BudgetExceeded(
                "integer",
                f"`{_short(left)} ** {_short(right)}` would pass the integer budget of "
                f"{state.budgets.max_int_bits:,} bits",
            )
    elif op == "+":
        if isinstance(left, str | bytes) and isinstance(right, str | bytes):
            check_chars(len(left) + len(right), "`+`")
        elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
            check_items(len(left) + len(right), "`+`")
    elif op == "%" and isinstance(left, str):
        check_percent_format(left, right)
    return check_value(_OPERATORS[op](left, right), f"the result of `{op}`")


def concat(parts: Iterable[Any]) -> str:
    """`a ~ b ~ c`: the parts as text, joined, checked before the join."""
    state = tracker()
    state.check_time()
    limit = state.budgets.max_chars
    texts: list[str] = []
    total = 0
    for part in parts:
        text = as_text(part, "a part of `~`")
        total += len(text)
        if total > limit:
            raise _too_big("`~`", total, limit, "characters")
        texts.append(text)
    state.produce(total, "`~`")
    return "".join(texts)


def _short(value: Any) -> str:
    text = str(value) if not isinstance(value, int) or value.bit_length() < 64 else "…"
    return text if len(text) <= 20 else text[:19] + "…"


# ------------------------------------------------------------ format strings

_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)")
_SPEC_NUMBERS = re.compile(r"^(?:.?[<>=^])?[+\- ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?")


def _number(text: str) -> int:
    return int(text) if len(text) < 9 else 10**9


def check_percent_format(fmt: str, args: Any) -> None:
    """`fmt % args` (and the `format` filter): widths and precisions counted first."""
    values = list(args) if isinstance(args, tuple) else [args]
    stars = iter(values)
    size = len(fmt)
    limit = tracker().budgets.max_chars
    for match in _PERCENT.finditer(fmt):
        for part in match.group(1, 2):
            if part == "*":
                star = next(stars, 0)
                size += abs(star) if isinstance(star, int) else 0
            elif part:
                size += _number(part)
        if size > limit:
            break
    if size <= limit:
        mapping = values[0] if values and isinstance(values[0], dict) else None
        parts = mapping.values() if mapping is not None else values
        size += sum(text_size(v, limit) for v in parts)
    check_chars(size, "a `%` format")


def check_str_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """`fmt.format(...)`: each field's width, precision and value counted first."""
    limit = tracker().budgets.max_chars
    size = 0
    auto = 0
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for literal, name, spec, _ in fields:
        size += len(literal)
        if name is None:
            continue
        if spec and "{" in spec:
            raise BudgetExceeded(
                "size", "format fields whose width comes from another field are not allowed"
            )
        numbers = _SPEC_NUMBERS.match(spec or "")
        if numbers is not None:
            size += sum(_number(n) for n in numbers.groups() if n)
        head = re.split(r"[.\[]", name, maxsplit=1)[0]
        if head == "":
            head, auto = str(auto), auto + 1
        value = args[int(head)] if head.isdigit() and int(head) < len(args) else kwargs.get(head)
        size += text_size(value, limit)
        if size > limit:
            break
    check_chars(size, "a `format` call")


# ------------------------------------------------------------------------ loops


def loop(iterable: Iterable[T], chars: int) -> Iterator[T]:
    """A `{% for %}` loop's items, each counted as an iteration and as the `chars`
    characters of text its body writes."""
    state = tracker()
    budgets = state.budgets
    for item in iterable:
        state.iterations += 1
        if state.iterations > budgets.max_iterations:
            raise BudgetExceeded(
                "iterations",
                f"loops ran more than their budget of {budgets.max_iterations:,} iterations",
            )
        state.produce(chars, "a loop's text")
        state.check_time()
        yield item


def output(value: Any) -> str:
    """One `{{ }}` output as text, counted against the output budget."""
    state = tracker()
    text = as_text(value, "an output")
    state.produce(len(text), "an output")
    state.check_time()
    return text


class enter_call:
    """One nested call (a macro, a recursive loop), against the recursion budget."""

    __slots__ = ("state",)

    def __enter__(self) -> None:
        self.state = state = tracker()
        state.check_time()
        state.depth += 1
        if state.depth > state.budgets.max_depth:
            state.depth -= 1
            raise BudgetExceeded(
                "recursion",
                f"calls nest deeper than their budget of {state.budgets.max_depth} levels",
            )

    def __exit__(self, *exc: object) -> None:
        self.state.depth -= 1


class BoundedNamespace(Namespace):
    """`namespace()`: values set on it (`{% set ns.x = ... %}`) are checked, since a
    loop can grow them from one iteration to the next."""

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, list | tuple | dict):
            check_chars(text_size(value, tracker().budgets.max_chars), "a namespace value")
        super().__setitem__(name, check_value(value, "a namespace value"))


def bounded_range(*args: int) -> range:
    """`range(...)`, refused past the item budget."""
    rng = range(*args)
    check_items(len(rng), "`range(...)`")
    return rng


# ------------------------------------------------------ growth of str methods


def _count_or_all(text: Any, old: Any) -> int:
    return len(text) + 1 if not old else text.count(old)


def replaced_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    """How long `text.replace(old, new, count)` is."""
    if not isinstance(text, str | bytes) or type(old) is not type(text):
        return 0
    if type(new) is not type(text):
        return 0
    hits = _count_or_all(text, old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def joined_size(sep: Any, items: list[Any]) -> int:
    limit = tracker().budgets.max_chars
    return len(sep) * max(len(items) - 1, 0) + sum(text_size(i, limit) - 2 for i in items)


def method_size(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int | None:
    """How long the result of a str or bytes method that can grow would be (`obj` is
    the bound method); None for every other call."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str | bytes):
        return None
    name = getattr(obj, "__name__", "")
    given = list(args)
    if name == "replace" and len(given) >= 2:
        return replaced_size(owner, given[0], given[1], kwargs.get("count", given[2:3] or -1))
    if name in ("center", "ljust", "rjust", "zfill") and given and isinstance(given[0], int):
        return max(len(owner), given[0])
    if name == "expandtabs":
        size = given[0] if given else kwargs.get("tabsize", 8)
        tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
        return len(owner) + tabs * size if isinstance(size, int) else None
    if name == "translate" and given and isinstance(given[0], dict):
        longest = max((len(v) for v in given[0].values() if isinstance(v, str)), default=1)
        return len(owner) * max(longest, 1)
    return None


# --------------------------------------------------- regular expressions


def _regex() -> Any:
    import regex  # a dependency; imported when a spec first uses a pattern

    return regex


_QUANTIFIER = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def repeat_weight(pattern: str) -> int:
    """A bound on how far the `regex` engine unrolls a pattern's counted repeats
    (`(?:a{1000}){1000}` unrolls to a million nodes when it is compiled): the sum over
    the pattern of each item's weight, where a counted repeat multiplies the weight of
    what it repeats by its minimum count."""
    stack: list[list[int]] = [[]]
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
            if i - 1 < n and pattern[i - 1] in "pPNxu" and i < n and pattern[i] == "{":
                end = pattern.find("}", i)
                i = n if end < 0 else end + 1
            stack[-1].append(1)
            continue
        if c == "[":
            i += 1
            if i < n and pattern[i] == "^":
                i += 1
            if i < n and pattern[i] == "]":
                i += 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
            stack[-1].append(1)
            continue
        if c == "(":
            stack.append([])
        elif c == ")" and len(stack) > 1:
            inner = stack.pop()
            stack[-1].append(max(sum(inner), 1))
        elif c == "{" and stack[-1]:
            match = _QUANTIFIER.match(pattern, i)
            if match is not None and (match.group(1) or match.group(2)):
                low = _number(match.group(1)) if match.group(1) else 0
                stack[-1][-1] *= max(low, 1)
                i = match.end()
                continue
            stack[-1].append(1)
        elif c not in "|*+?^$":
            stack[-1].append(1)
        i += 1
    while len(stack) > 1:
        inner = stack.pop()
        stack[-1].append(sum(inner))
    return sum(stack[0])


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> Any:
    weight = repeat_weight(pattern)
    limit = BUDGETS.max_regex_repeat
    if weight > limit:
        raise BudgetExceeded(
            "regex",
            f"the regular expression's counted repeats unroll to {weight:,} steps, more "
            f"than their budget of {limit:,}",
        )
    return _regex().compile(pattern)


def compiled_pattern(pattern: str) -> Any:
    if not isinstance(pattern, str):
        raise TypeError(f"a regular expression must be a string, not {type(pattern).__name__}")
    return _compiled(pattern)


def _timed_out(pattern: str) -> BudgetExceeded:
    return BudgetExceeded(
        "regex", f"the regular expression `{pattern[:60]}` ran past the time budget"
    )


def regex_search(text: str, pattern: str, group: int | str = 0) -> str | None:
    """The first match of `pattern` (or one of its groups), or None."""
    compiled = compiled_pattern(pattern)
    try:
        match = compiled.search(text, timeout=tracker().remaining())
    except TimeoutError:
        raise _timed_out(pattern) from None
    return match.group(group) if match else None


def regex_findall(text: str, pattern: str) -> list[Any]:
    """As `re.findall`, counted as the matches come."""
    compiled = compiled_pattern(pattern)
    state = tracker()
    limit = state.budgets.max_chars
    found: list[Any] = []
    size = 0
    try:
        for match in compiled.finditer(text, timeout=state.remaining()):
            if compiled.groups == 0:
                item: Any = match.group(0)
                size += len(item)
            elif compiled.groups == 1:
                item = match.group(1) or ""
                size += len(item)
            else:
                item = match.groups(default="")
                size += sum(len(part) for part in item)
            found.append(item)
            if size > limit or len(found) > state.budgets.max_items:
                raise _too_big("`regex_findall`", size, limit, "characters")
    except TimeoutError:
        raise _timed_out(pattern) from None
    return found


def regex_replace(text: str, pattern: str, replacement: str) -> str:
    """As `re.sub`, with the result's size counted as each match is replaced."""
    compiled = compiled_pattern(pattern)
    state = tracker()
    limit = state.budgets.max_chars
    size = len(text)

    def expand(match: Any) -> str:
        nonlocal size
        out: str = match.expand(replacement)
        size += len(out) - (match.end() - match.start())
        if size > limit:
            raise _too_big("`regex_replace`", size, limit, "characters")
        return out

    try:
        result: str = compiled.sub(expand, text, timeout=state.remaining())
    except TimeoutError:
        raise _timed_out(pattern) from None
    return result


# ------------------------------------------------------------------- filters


def _json_size(value: Any, indent: Any) -> int:
    limit = tracker().budgets.max_chars
    size = 0
    encoder = json.JSONEncoder(indent=indent, default=str)
    for chunk in encoder.iterencode(value):
        size += len(chunk)
        if size > limit:
            break
    return size


def filter_size(name: str, args: list[Any], kwargs: dict[str, Any]) -> int | None:
    """How long the result of one of Jinja's filters that can grow would be, from its
    value and arguments (`args[0]` is the value); None for the others."""
    if not args:
        return None
    value = args[0]

    def arg(index: int, key: str, default: Any) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "center" and isinstance(value, str):
        width = arg(1, "width", 80)
        return max(len(value), width) if isinstance(width, int) else None
    if name == "indent" and isinstance(value, str):
        width = arg(1, "width", 4)
        step = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
        return len(value) + (value.count("\n") + 1) * max(step, 0)
    if name == "wordwrap" and isinstance(value, str):
        width = arg(1, "width", 79)
        wrap = arg(3, "wrapstring", None) or "\n"
        lines = len(value) // max(width, 1) + value.count("\n") + 1 if isinstance(width, int) else 1
        return len(value) + lines * len(wrap) if isinstance(wrap, str) else None
    if name == "replace" and len(args) >= 3:
        return replaced_size(value, args[1], args[2], arg(3, "count", -1))
    if name == "format" and isinstance(value, str):
        check_percent_format(value, kwargs or tuple(args[1:]))
        return None
    if name in ("batch", "slice"):
        count = arg(1, "linecount" if name == "batch" else "slices", 1)
        if isinstance(count, int):
            check_items(count, f"`{name}({count})`")
        return None
    if name == "tojson":
        indent = arg(1, "indent", None)
        return _json_size(value, indent)
    if name in ("pprint", "string", "join", "options"):
        return text_size(value, tracker().budgets.max_chars)
    return None
