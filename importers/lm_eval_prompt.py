"""lm-eval prompts taken apart into a record's question, context and choices.

lm-eval writes the whole prompt a model is scored on; a seed record keeps its parts.
These functions work on templates (text with `{{ }}` parts):

- `option_listing`: the `A. {{opa}}` lines a multiple-choice prompt lists its options
  in (the record keeps them in `choices`, so they leave the question; where lm-eval's
  choices are bare letters, the listed texts become the choices);
- `split_context`: `Passage: ...\\nQuestion: ...` as a context and a question;
- `cloze`: choices that share text (`{{premise}}, right? Yes, {{hypothesis}}` /
  `... No, ...`) as a question with a blank and the words that fill it;
- `substitute`: an lm-eval template over the fields `process_docs` makes, rewritten over
  the dataset's own fields.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from jinja2 import TemplateSyntaxError

from taskseed.contract.jinja_env import environment
from taskseed.importers.py_eval import Walker
from taskseed.importers.py_module import Module
from taskseed.importers.py_values import (
    COMPOUND,
    PRIMARY,
    Concat,
    Const,
    Expr,
    Failed,
    Row,
    Seq,
    Untranslatable,
    Value,
    merge_text,
    render,
    template,
    text_parts,
    wrap,
)

BLANK = "___"
_NOWHERE = Path("<lm-eval expression>")
_OPTION = re.compile(r"^\s*\(?([A-Za-z]|[1-9])\s*[.):]\s*(\S.*?)\s*$")
_HEADER = re.compile(r"^\s*[^\W\d][\w ]{0,30}:\s*$")
_CONTEXT = re.compile(
    r"^\s*(?:Passage|Context|Article|Abstract|Story|Paragraph|Background|Text)\s*:\s*"
    r"(?P<context>.+?)\n+\s*(?:Question|Q)\s*:\s*(?P<question>.+)$",
    re.DOTALL,
)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_SINGLE = re.compile(r"^\{\{(.*?)\}\}$", re.DOTALL)
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False"}
    | {"None", "recursive", "for"}
)


# ------------------------------------------------------------------- options


@dataclass(frozen=True)
class Listing:
    """The option lines of a prompt: the prompt without them, and each option's text."""

    text: str
    options: list[str]


def _sequence_of(label: str) -> list[str] | None:
    for run in ("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "123456789"):
        if label == run[0]:
            return list(run)
    return None


def option_listing(text: str) -> Listing | None:
    """`A. {{opa}}\\nB. {{opb}}` lines (labels in order from A, a or 1, two or more)."""
    lines = text.split("\n")
    for start, line in enumerate(lines):
        first = _OPTION.match(line)
        run = _sequence_of(first.group(1)) if first else None
        if first is None or run is None:
            continue
        options: list[str] = []
        end = start
        while end < len(lines):
            found = _OPTION.match(lines[end])
            if found is None or len(options) >= len(run) or found.group(1) != run[len(options)]:
                break
            options.append(found.group(2))
            end += 1
        if len(options) < 2:
            continue
        begin = start - 1 if start > 0 and _HEADER.match(lines[start - 1]) else start
        kept = [*lines[:begin], *lines[end:]]
        return Listing("\n".join(kept), options)
    return None


def listed_choices(options: list[str]) -> str | list[str]:
    """The listed options as `mapping.choices`: a literal list, or a list expression."""
    if not any("{{" in option or "{%" in option for option in options):
        return options
    items = []
    for option in options:
        single = _SINGLE.match(option.strip())
        if single is not None:
            items.append(single.group(1).strip())
        else:
            items.append(render(template_parts(option)).text)
    return "[" + ", ".join(items) + "]"


def split_context(text: str) -> tuple[str | None, str]:
    """`Passage: {{p}}\\nQuestion: {{q}}` -> (`{{p}}`, `{{q}}`); else (None, text)."""
    found = _CONTEXT.match(text)
    if found is None or "{{" not in found.group("context"):
        return None, text
    return found.group("context").strip(), found.group("question").strip()


# --------------------------------------------------------------------- cloze


@dataclass(frozen=True)
class Cloze:
    """Choices that share text: the shared text before and after, and what differs."""

    before: list[Value]
    middles: list[list[Value]]
    after: list[Value]

    def question(self, prompt: str, delimiter: str) -> str:
        blank = template(Concat(tuple(self.before))).rstrip()
        after = template(Concat(tuple(self.after))).strip()
        if after:
            blank = f"{blank}{' ' if blank and _space_before(self.before) else ''}{BLANK}"
            blank += ("" if after[0] in ",.;:!?" else " ") + after
        joined = f"{prompt}{delimiter}{blank}" if prompt.strip() else blank
        return joined.strip()

    def choices(self) -> str | list[str]:
        texts = [merge_text(m) for m in self.middles]
        if all(len(t) == 1 and isinstance(t[0], Const) for t in texts):
            return [str(t[0].value).strip() for t in texts if isinstance(t[0], Const)]
        items = [render(t[0] if len(t) == 1 else Concat(tuple(t))).text for t in texts]
        return "[" + ", ".join(items) + "]"


def _space_before(before: list[Value]) -> bool:
    last = before[-1] if before else None
    return isinstance(last, Const) and str(last.value).endswith(" ")


def cloze(items: list[list[Value]]) -> Cloze | None:
    """The text all items share at their start and end, when it is more than spacing and
    every item keeps something of its own."""
    if len(items) < 2:
        return None
    parts = [merge_text(item) for item in items]
    before = _shared(parts)
    rest = [_drop(p, before) for p in parts]
    after_rev = _shared([_reverse(p) for p in rest])
    after = _reverse(after_rev)
    middles = [_drop_end(p, after) for p in rest]
    shared_text = template(Concat(tuple(before + after)))
    if not shared_text.strip() or any(not template(Concat(tuple(m))).strip() for m in middles):
        return None
    if len({template(Concat(tuple(m))) for m in middles}) != len(middles):
        return None
    return Cloze(before, middles, after)


def _shared(parts: list[list[Value]]) -> list[Value]:
    """The longest shared start of several part lists, cut between words."""
    out: list[Value] = []
    for index in range(min(len(p) for p in parts)):
        column = [p[index] for p in parts]
        if all(c == column[0] for c in column):
            out.append(column[0])
            continue
        if all(isinstance(c, Const) and isinstance(c.value, str) for c in column):
            texts = [str(c.value) for c in column if isinstance(c, Const)]
            common = _word_prefix(texts)
            if common:
                out.append(Const(common))
        break
    return out


def _word_prefix(texts: list[str]) -> str:
    common = texts[0]
    for text in texts[1:]:
        while not text.startswith(common):
            common = common[:-1]
    cut = len(common)
    if any(len(t) > cut and t[cut].isalnum() for t in texts) and common[-1:].isalnum():
        while cut and common[cut - 1].isalnum():
            cut -= 1
    return common[:cut]


def _reverse(parts: list[Value]) -> list[Value]:
    return [
        Const(p.value[::-1]) if isinstance(p, Const) and isinstance(p.value, str) else p
        for p in reversed(parts)
    ]


def _drop(parts: list[Value], start: list[Value]) -> list[Value]:
    """`parts` without the shared start (whose last piece may be a cut text)."""
    if not start:
        return list(parts)
    rest = list(parts[len(start) - 1 :])
    last = start[-1]
    head = rest[0]
    if head == last:
        return rest[1:]
    assert isinstance(head, Const) and isinstance(last, Const)
    return [Const(str(head.value)[len(str(last.value)) :]), *rest[1:]]


def _drop_end(parts: list[Value], end: list[Value]) -> list[Value]:
    return _reverse(_drop(_reverse(parts), _reverse(end)))


# --------------------------------------------------------------- choice parts


def template_parts(text: str) -> Value:
    """A template made only of text and `{{ }}` parts, as a Concat."""
    parts: list[Value] = []
    at = 0
    for found in _EXPRESSION.finditer(text):
        parts.append(Const(text[at : found.start()]))
        parts.append(Expr(found.group(1).strip(), PRIMARY if _simple(found.group(1)) else COMPOUND))
        at = found.end()
    parts.append(Const(text[at:]))
    return Concat(tuple(parts))


def _simple(text: str) -> bool:
    return bool(re.fullmatch(r"\s*[A-Za-z_][\w.]*(\[[^\]]*\])*\s*", text))


def choice_items(raw: object, row: Row | None = None) -> list[list[Value]] | None:
    """lm-eval's `doc_to_choice` as parts per choice, when each choice is text built from
    row fields: a list of templates, a template that renders a Python list literal, or
    a `{{[a + ", " + b, ...]}}` list expression."""
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return [_parts(template_parts(item)) for item in raw]
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    single = _SINGLE.match(text)
    if single is not None:
        value = evaluate(text, row or Row())
        if not isinstance(value, Seq) or any(isinstance(i, Failed) for i in value.items):
            return None
        return [_parts(item) for item in value.items]
    if text.startswith("[") and text.endswith("]") and "{{" in text:
        return _rendered_list(text)
    return None


def _parts(value: Value) -> list[Value]:
    return text_parts(value)


def evaluate(text: str, row: Row) -> Value | None:
    """A `{{ expression }}` that reads as Python too (`[premise + ", right? " + h]`,
    `summaries["abstractive"]["a1"]`), evaluated over `row`; None for anything else."""
    single = _SINGLE.match(text.strip())
    if single is None:
        return None
    try:
        tree = ast.parse(single.group(1).strip(), mode="eval")
    except SyntaxError:
        return None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if names & _KEYWORDS:
        return None  # `none`, `true`: Jinja's literals, not Python's
    env: dict[str, Value] = {name: row.read(name) for name in names}
    module = Module(_NOWHERE, "", lambda dotted, path: None)
    value = Walker(module).expr(tree.body, env)
    return None if isinstance(value, Failed) else value


def _rendered_list(text: str) -> list[list[Value]] | None:
    """A template whose rendering lm-eval reads as a Python list literal."""
    found: list[str] = []

    def hold(match: re.Match[str]) -> str:
        found.append(match.group(1).strip())
        return f"\ue000{len(found) - 1}\ue001"

    try:
        items = ast.literal_eval(_EXPRESSION.sub(hold, text))
    except (ValueError, SyntaxError):
        return None
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        return None
    out = []
    for item in items:
        parts: list[Value] = []
        at = 0
        for placeholder in _PLACEHOLDER.finditer(item):
            parts.append(Const(item[at : placeholder.start()]))
            parts.append(Expr(found[int(placeholder.group(1))], PRIMARY))
            at = placeholder.end()
        parts.append(Const(item[at:]))
        out.append(merge_text(parts))
    return out


# ---------------------------------------------------------------- substitute


def substitute(text: str, fields: dict[str, Value]) -> str | Failed:
    """A template with the names in `fields` replaced by their expressions."""
    if not fields:
        return text
    env = environment()
    try:
        tokens = list(env.lex(text))
    except TemplateSyntaxError as exc:
        return Failed(f"lm-eval's template does not parse ({exc.message})")
    bound = _bound_names(tokens)
    if bound & fields.keys():
        return Failed("a template that binds a name process_docs also makes")
    out: list[str] = []
    significant: list[tuple[str, str]] = []
    for index, (_, token, value) in enumerate(tokens):
        replaced = value
        if token == "name" and value in fields and _is_read(significant, tokens, index):
            try:
                replaced = wrap(render(fields[value]), PRIMARY)
            except Untranslatable as exc:
                return Failed(f"`{value}` (made by process_docs) has no expression: {exc}")
        out.append(replaced)
        if token not in ("whitespace", "data"):
            significant.append((token, value))
    return "".join(out)


def _bound_names(tokens: list[tuple[int, str, str]]) -> set[str]:
    """Names a template binds itself: `{% for x, y in ... %}`, `{% set x = ... %}`."""
    bound: set[str] = set()
    words = [(token, value) for _, token, value in tokens if token != "whitespace"]
    for index, (token, value) in enumerate(words):
        if token != "name" or value not in ("for", "set"):
            continue
        if index == 0 or words[index - 1][0] != "block_begin":
            continue
        for kind, name in words[index + 1 :]:
            if kind == "name" and name not in ("in",):
                bound.add(name)
            elif kind != "operator" or name != ",":
                break
    return bound


def _is_read(before: list[tuple[str, str]], tokens: list[tuple[int, str, str]], at: int) -> bool:
    """Whether a name token reads a variable (not an attribute, filter, test or keyword)."""
    if tokens[at][2] in _KEYWORDS:
        return False
    if before:
        value = before[-1][1]
        if value in (".", "|", "is") or (value == "not" and before[-2:-1] == [("name", "is")]):
            return False
    for _, token, value in tokens[at + 1 :]:
        if token == "whitespace":
            continue
        return value != "="
    return True
