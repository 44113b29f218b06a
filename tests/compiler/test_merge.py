"""The written merge rules: mappings merge, lists replace, null removes, type replaces."""

from __future__ import annotations

from taskseed.compiler.merge import merge
from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, SeqNode, to_plain
from taskseed.compiler.source import Span


def build(value: object, file: str = "f.yaml") -> Node:
    span = Span.point(file, 1, 1)
    if isinstance(value, dict):
        return MapNode(span, {k: Entry(k, span, build(v, file)) for k, v in value.items()})
    if isinstance(value, list):
        return SeqNode(span, [build(v, file) for v in value])
    assert value is None or isinstance(value, str | int | float | bool)
    return ScalarNode(value, span)


def test_mappings_merge_recursively_and_local_wins() -> None:
    base = build({"a": {"x": 1, "y": 2}, "b": 1})
    local = build({"a": {"y": 3, "z": 4}})
    assert to_plain(merge(base, local)) == {"a": {"x": 1, "y": 3, "z": 4}, "b": 1}


def test_lists_replace() -> None:
    assert to_plain(merge(build({"t": [1, 2]}), build({"t": [3]}))) == {"t": [3]}


def test_null_removes_inherited_value() -> None:
    merged = merge(build({"g": {"a": 1, "b": 2}}), build({"g": {"a": None}}))
    assert to_plain(merged) == {"g": {"b": 2}}


def test_type_change_replaces_whole_mapping() -> None:
    base = build({"f": {"type": "multiple_choice", "max_options": 4}})
    local = build({"f": {"type": "numeric", "tolerance": 0.1}})
    assert to_plain(merge(base, local)) == {"f": {"type": "numeric", "tolerance": 0.1}}


def test_merge_keeps_provenance_and_does_not_mutate() -> None:
    base = build({"a": {"x": 1}}, "base.yaml")
    local = build({"a": {"y": 2}}, "local.yaml")
    merged = merge(base, local)
    assert isinstance(merged, MapNode)
    inner = merged.entries["a"].value
    assert isinstance(inner, MapNode)
    assert inner.entries["x"].value.span.file == "base.yaml"
    assert inner.entries["y"].value.span.file == "local.yaml"
    assert to_plain(base) == {"a": {"x": 1}} and to_plain(local) == {"a": {"y": 2}}


def test_exclusive_fields_replace_each_other() -> None:
    base = build({"k": {"template": "shared/x", "system": "s"}, "seeds": {"dataset": "a/b"}})
    local = build({"k": {"prompt": "inline"}, "seeds": {"files": "x.jsonl"}})
    assert to_plain(merge(base, local)) == {
        "k": {"prompt": "inline", "system": "s"},
        "seeds": {"files": "x.jsonl"},
    }
