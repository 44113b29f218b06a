"""Phase 2, validate: check positioned trees against the spec structs, all errors at once.

msgspec stops at the first error by design, so this walker visits the tree itself,
field by field and item by item, and calls msgspec only on leaves. It reports unknown
keys with a did-you-mean, wrong types and out-of-range values at their own spans, and
returns a cleaned tree with the invalid parts removed, so that later phases do not
report the same mistake again in another form.

Files are validated in *partial* mode (defaults and overrides may leave required
fields to others); resolved units are validated in *full* mode.
"""

from __future__ import annotations

import functools
import re
import types
from collections.abc import Callable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import msgspec

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.nodes import (
    Entry,
    MapNode,
    Node,
    Path,
    ScalarNode,
    SeqNode,
    invalid,
    is_invalid,
    path_text,
)
from taskseed.compiler.source import Span
from taskseed.compiler.spec import ALWAYS_COMPLETE, NAME_PATTERN, SPEC_VERSION, TaskSpec
from taskseed.contract.suggest import closest, one_of

# ---------------------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class FieldDef:
    name: str  # the YAML key (msgspec's encode name)
    type: Any
    required: bool


F = TypeVar("F", bound=Callable[[Any], Any])


def _cache_by_id(fn: F) -> F:
    """Cache a function of one type object by the object's identity.

    Annotated types hash their metadata on every lookup, which made hashing them a
    tenth of compile time; the types here are the spec structs' field types, which live
    as long as the process, and each entry keeps its type alive so its id stays unique.
    """
    table: dict[int, tuple[Any, Any]] = {}

    @functools.wraps(fn)
    def wrapper(tp: Any) -> Any:
        hit = table.get(id(tp))
        if hit is None:
            hit = (tp, fn(tp))
            table[id(tp)] = hit
        return hit[1]

    return wrapper  # type: ignore[return-value]


@_cache_by_id
def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


@_cache_by_id
def _members(tp: Any) -> tuple[Any, ...]:
    """The members of a (possibly annotated, possibly nested) union, else (tp,)."""
    base = _strip(tp)
    if get_origin(base) in (Union, types.UnionType):
        out: list[Any] = []
        for arg in get_args(base):
            out.extend(_members(arg))
        return tuple(out)
    return (tp,)


@_cache_by_id
def _is_struct(tp: Any) -> bool:
    base = _strip(tp)
    return isinstance(base, type) and issubclass(base, msgspec.Struct)


@cache
def struct_fields(cls: type[msgspec.Struct]) -> dict[str, FieldDef]:
    return {
        f.encode_name: FieldDef(f.encode_name, f.type, f.required)
        for f in msgspec.structs.fields(cls)
    }


def _tag_info(cls: type[msgspec.Struct]) -> tuple[str | None, Any]:
    config = cls.__struct_config__
    return config.tag_field, config.tag


# ------------------------------------------------------------------------ describing


def _describe_node(node: Node) -> str:
    if isinstance(node, MapNode):
        return "a mapping"
    if isinstance(node, SeqNode):
        return "a list"
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean (`{str(value).lower()}`)"
    if isinstance(value, int):
        return f"an integer (`{value}`)"
    if isinstance(value, float):
        return f"a number (`{value}`)"
    shown = value if len(value) <= 30 else value[:27] + "..."
    return f'a string ("{shown}")'


def _describe_type(tp: Any) -> str:
    names: list[str] = []
    for member in _members(tp):
        base = _strip(member)
        if base is type(None):
            continue
        if get_origin(base) is Literal:
            names.append(one_of(str(v) for v in get_args(base)))
        elif base is str:
            names.append("a string")
        elif base is bool:
            names.append("true or false")
        elif base is int:
            names.append("an integer")
        elif base is float:
            names.append("a number")
        elif get_origin(base) is list:
            names.append("a list")
        elif get_origin(base) is dict or _is_struct(base):
            names.append("a mapping")
        elif base is Any:
            names.append("any value")
    unique = list(dict.fromkeys(names))
    if len(unique) <= 1:
        return "".join(unique) or "a value"
    return ", ".join(unique[:-1]) + " or " + unique[-1]


_MSGSPEC_AT = re.compile(r" - at `\$[^`]*`$")


def _constraint_message(error: str) -> str:
    text = _MSGSPEC_AT.sub("", error)
    if NAME_PATTERN in text.replace("\\\\", "\\"):
        return "must be a name of letters, digits, `_`, `-` and `.`"
    text = text.replace("Expected `str` matching regex", "must match")
    text = re.sub(r"^Expected `\w+` ", "must be ", text)
    return text


@_cache_by_id
def _scalar_plan(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    """The scalar part of a type (None when it has none) and its literal values."""
    members = _members(tp)
    bases = [_strip(m) for m in members]
    scalar_members = [
        m
        for m, b in zip(members, bases, strict=True)
        if not _is_struct(b) and get_origin(b) not in (list, dict)
    ]
    if not scalar_members:
        return None, ()
    literal_values = tuple(v for b in bases if get_origin(b) is Literal for v in get_args(b))
    # Convert against the scalar part of the union, constraints included.
    scalar_tp: Any = (
        Union[tuple(scalar_members)]  # noqa: UP007 - built from a runtime tuple
        if len(scalar_members) > 1
        else scalar_members[0]
    )
    return scalar_tp, literal_values


_CONVERTED: dict[tuple[Any, type, int], str | None] = {}


def _convert_error(value: Any, tp: Any) -> str | None:
    """msgspec's message when a scalar does not convert to `tp`, else None.

    Cached, since catalogs repeat the same values many times; `tp` comes from
    `_scalar_plan`, which keeps it alive, so its id is stable. The value's type is part
    of the key: 1, 1.0 and True are equal but convert differently.
    """
    key = (value, type(value), id(tp))
    if key not in _CONVERTED:
        try:
            msgspec.convert(value, tp)
            _CONVERTED[key] = None
        except msgspec.ValidationError as exc:
            _CONVERTED[key] = str(exc)
    return _CONVERTED[key]


# --------------------------------------------------------------------------- walker


class Validator:
    def __init__(
        self,
        diagnostics: Diagnostics,
        *,
        partial: bool,
        context: str = "",
        memo: dict[tuple[int, Any, bool], tuple[Node, Node | None]] | None = None,
    ) -> None:
        self.diagnostics = diagnostics
        self.partial = partial
        # A note attached to every diagnostic (for example, which subtask was checked).
        self.notes: tuple[str, ...] = (context,) if context else ()
        # Units share unchanged subtrees; a subtree is checked once per type and mode.
        # Values keep the node alive, so that its id is not reused while cached.
        self.memo = memo if memo is not None else {}

    def error(self, code: str, message: str, span: Span, label: str | None = None) -> None:
        self.diagnostics.add(code, message, span, label=label, notes=self.notes)

    def check(self, node: Node, tp: Any, path: Path, owner: Span, partial: bool) -> Node | None:
        if isinstance(node, ScalarNode):
            return self._check(node, tp, path, owner, partial)
        key = (id(node), id(tp), partial)
        hit = self.memo.get(key)
        if hit is not None:
            return hit[1]
        checked = self._check(node, tp, path, owner, partial)
        self.memo[key] = (node, checked)
        return checked

    def _check(self, node: Node, tp: Any, path: Path, owner: Span, partial: bool) -> Node | None:
        members = _members(tp)
        bases = [_strip(m) for m in members]
        if any(b is Any for b in bases):
            return node
        if isinstance(node, ScalarNode) and node.value is None and type(None) in bases:
            return node

        if isinstance(node, MapNode):
            structs = [b for b in bases if _is_struct(b)]
            if structs:
                return self._struct_union(node, structs, path, owner, partial)
            for base in bases:
                if get_origin(base) is dict:
                    return self._dict(node, base, path, partial)
            return self._wrong_type(node, tp, path)

        if isinstance(node, SeqNode):
            for base in bases:
                if get_origin(base) is list:
                    item_tp = get_args(base)[0]
                    items = []
                    for index, item in enumerate(node.items):
                        if is_invalid(item):
                            continue
                        checked = self.check(item, item_tp, (*path, index), item.span, partial)
                        if checked is not None:
                            items.append(checked)
                    return SeqNode(node.span, items)
            return self._wrong_type(node, tp, path)

        return self._scalar(node, tp, members, bases, path)

    def _scalar(
        self,
        node: ScalarNode,
        tp: Any,
        members: tuple[Any, ...],
        bases: list[Any],
        path: Path,
    ) -> Node | None:
        scalar_tp, literal_values = _scalar_plan(tp)
        if scalar_tp is None:
            return self._wrong_type(node, tp, path)
        message = _convert_error(node.value, scalar_tp)
        if message is None:
            return node
        where = path_text(path)
        if literal_values and isinstance(node.value, str):
            choices = [str(v) for v in literal_values]
            match = closest(node.value, choices)
            label = f"did you mean `{match}`?" if match else f"expected {one_of(choices)}"
            self.error(
                "TS204",
                f"`{where}` must be {one_of(choices)}, found `{node.value}`",
                node.span,
                label,
            )
            return None
        if message.startswith("Expected `") and any(
            op in message for op in (">=", "<=", " > ", " < ", "matching regex", "length")
        ):
            self.error(
                "TS203",
                f"`{where}` {_constraint_message(message)}, found `{node.value}`",
                node.span,
            )
            return None
        return self._wrong_type(node, tp, path)

    def _wrong_type(self, node: Node, tp: Any, path: Path) -> Node | None:
        """Report a value of the wrong type; None, so callers can return the result."""
        self.error(
            "TS201",
            f"`{path_text(path)}` expects {_describe_type(tp)}, found {_describe_node(node)}",
            node.span,
            label=f"expected {_describe_type(tp)}",
        )
        return None

    def _dict(self, node: MapNode, base: Any, path: Path, partial: bool) -> MapNode:
        key_tp, value_tp = get_args(base)
        key_values = get_args(_strip(key_tp)) if get_origin(_strip(key_tp)) is Literal else None
        out = MapNode(node.span)
        for entry in node:
            if key_values is not None and entry.key not in key_values:
                choices = [str(v) for v in key_values]
                match = closest(entry.key, choices)
                self.error(
                    "TS200",
                    f"unknown key `{entry.key}` in `{path_text(path)}`; expected {one_of(choices)}",
                    entry.key_span,
                    f"did you mean `{match}`?" if match else None,
                )
                continue
            checked = self._child(entry, value_tp, path, partial)
            out.entries[entry.key] = Entry(entry.key, entry.key_span, checked)
        return out

    def _child(self, entry: Entry, tp: Any, path: Path, partial: bool) -> Node:
        """A checked mapping value, or a placeholder where it was invalid."""
        if is_invalid(entry.value):
            return entry.value
        checked = self.check(entry.value, tp, (*path, entry.key), entry.key_span, partial)
        return checked if checked is not None else invalid(entry.value.span)

    def _struct_union(
        self, node: MapNode, structs: list[Any], path: Path, owner: Span, partial: bool
    ) -> Node | None:
        if len(structs) == 1:
            return self._struct(node, structs[0], path, owner, partial)
        tag_field, _ = _tag_info(structs[0])
        tags = {str(_tag_info(s)[1]): s for s in structs}
        tag_node = node.get(tag_field) if tag_field else None
        if tag_field is None:  # not expected in the spec: untagged struct unions
            return self._struct(node, structs[0], path, owner, partial)
        if tag_node is None:
            if partial:
                # An override may leave the variant to the file it extends.
                merged = self._merged_fields(structs)
                return self._struct(node, structs[0], path, owner, partial, fields=merged)
            self.error(
                "TS202",
                f"missing field `{tag_field}` in `{path_text(path)}`",
                owner,
                f"add `{tag_field}: ` one of {one_of(tags)}",
            )
            return None
        tag = tag_node.value if isinstance(tag_node, ScalarNode) else None
        if not isinstance(tag, str) or tag not in tags:
            match = closest(str(tag), tags) if isinstance(tag, str) else None
            self.error(
                "TS204",
                f"`{path_text((*path, tag_field))}` must be {one_of(tags)}, found `{tag}`",
                tag_node.span,
                f"did you mean `{match}`?" if match else None,
            )
            return None
        return self._struct(node, tags[tag], path, owner, partial)

    @staticmethod
    def _merged_fields(structs: list[Any]) -> dict[str, FieldDef]:
        merged: dict[str, FieldDef] = {}
        for struct in structs:
            merged.update(struct_fields(struct))
        return merged

    def _struct(
        self,
        node: MapNode,
        cls: type[msgspec.Struct],
        path: Path,
        owner: Span,
        partial: bool,
        fields: dict[str, FieldDef] | None = None,
    ) -> MapNode:
        fields = fields if fields is not None else struct_fields(cls)
        tag_field, _ = _tag_info(cls)
        complete = not partial or cls in ALWAYS_COMPLETE
        out = MapNode(node.span)
        for entry in node:
            if entry.key == tag_field:
                out.entries[entry.key] = entry
                continue
            fdef = fields.get(entry.key)
            if fdef is None:
                self._unknown(entry, fields, path)
                continue
            # Children keep the mode: a subtask's overrides stay partial in a file.
            checked = self._child(entry, fdef.type, path, partial)
            out.entries[entry.key] = Entry(entry.key, entry.key_span, checked)
        if complete:
            for name, fdef in fields.items():
                if fdef.required and name not in node.entries:
                    where = path_text(path) if path else "the task"
                    self.error(
                        "TS202",
                        f"missing field `{name}` in {'`' + where + '`' if path else where}",
                        owner,
                        f"add `{name}:`",
                    )
        return out

    def _unknown(self, entry: Entry, fields: dict[str, FieldDef], path: Path) -> None:
        where = f"`{path_text(path)}`" if path else "the task spec"
        local = closest(entry.key, fields)
        local_score = SequenceMatcher(None, entry.key, local).ratio() if local else 0.0
        label = f"did you mean `{local}`?" if local else None
        hint = _nested_hint(entry.key, fields)
        if hint is not None and hint[1] > local_score + 0.05:
            label = f"did you mean `{hint[0]}`?"
        notes = list(self.notes)
        if label is None:
            notes.append(f"fields here: {', '.join(sorted(fields))}")
        self.diagnostics.add(
            "TS200",
            f"unknown field `{entry.key}` in {where}",
            entry.key_span,
            label=label,
            notes=notes,
        )


def _nested_hint(key: str, fields: dict[str, FieldDef]) -> tuple[str, float] | None:
    """A close field name one or two sections below this one: `sampling.temperature`."""
    best: tuple[str, float] | None = None
    frontier: list[tuple[str, dict[str, FieldDef]]] = [("", fields)]
    for _depth in range(2):
        next_frontier: list[tuple[str, dict[str, FieldDef]]] = []
        for prefix, here in frontier:
            for name, fdef in here.items():
                for member in _members(fdef.type):
                    base = _strip(member)
                    if not _is_struct(base):
                        continue
                    sub = struct_fields(base)
                    dotted = f"{prefix}{name}."
                    match = closest(key, sub)
                    if match is not None:
                        score = SequenceMatcher(None, key, match).ratio()
                        if best is None or score > best[1]:
                            best = (dotted + match, score)
                    next_frontier.append((dotted, sub))
        frontier = next_frontier
    return best


# ----------------------------------------------------------------------------- API


def validate_document(root: MapNode, diagnostics: Diagnostics) -> MapNode | None:
    """Validate one spec file in partial mode; None when its version is unsupported."""
    version = root.get("version")
    if isinstance(version, ScalarNode) and version.value != SPEC_VERSION:
        diagnostics.add(
            "TS205",
            f"task spec version `{version.value}` is not supported (this compiler reads "
            f"version {SPEC_VERSION})",
            version.span,
        )
        return None
    checked = Validator(diagnostics, partial=True).check(root, TaskSpec, (), root.span, True)
    return checked if isinstance(checked, MapNode) else None


def validate_resolved(
    root: MapNode,
    diagnostics: Diagnostics,
    context: str,
    memo: dict[tuple[int, Any, bool], tuple[Node, Node | None]] | None = None,
) -> MapNode | None:
    """Validate a resolved unit in full mode (required fields must be present)."""
    validator = Validator(diagnostics, partial=False, context=context, memo=memo)
    checked = validator.check(root, TaskSpec, (), root.span, False)
    return checked if isinstance(checked, MapNode) else None
