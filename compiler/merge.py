"""The merge rules for `extends` and subtask overrides (docs/taskspec.md#merge-rules).

1. Mappings merge key by key, recursively.
2. Lists and scalars replace: the overriding side wins.
3. A key set to `null` on the overriding side removes the inherited value.
4. A mapping whose `type` differs from the inherited one replaces it whole
   (`answer_format: {type: numeric}` does not keep multiple-choice options).
5. Fields that exclude each other replace each other: setting `prompt` drops an
   inherited `template`, `files` drops `dataset`, `answer.text` drops `answer.index`.
6. `extends` itself is never inherited.

Merging never mutates its inputs; unchanged subtrees are shared, and every value keeps
the span of the file it was written in, which is how provenance survives a merge.
"""

from __future__ import annotations

from taskseed.compiler.nodes import Entry, MapNode, Node, ScalarNode, is_invalid

# Keys of which a mapping holds at most one; an override's choice drops the others.
EXCLUSIVE = ({"template", "prompt"}, {"dataset", "files"}, {"index", "label", "text"})


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.value is None and not is_invalid(node)


def merge(base: Node, override: Node) -> Node:
    if not isinstance(base, MapNode) or not isinstance(override, MapNode):
        return override
    base_type = base.scalar("type")
    override_type = override.scalar("type")
    if base_type is not None and override_type is not None and base_type != override_type:
        return strip_nulls(override)
    out = MapNode(override.span, dict(base.entries))
    for group in EXCLUSIVE:
        chosen = group.intersection(override.entries)
        if chosen:
            for key in group - chosen:
                out.entries.pop(key, None)
    for entry in override:
        if _is_null(entry.value):
            out.entries.pop(entry.key, None)
            continue
        inherited = out.entries.get(entry.key)
        if inherited is None or is_invalid(inherited.value):
            out.entries[entry.key] = Entry(entry.key, entry.key_span, strip_nulls(entry.value))
        else:
            merged = merge(inherited.value, entry.value)
            out.entries[entry.key] = Entry(entry.key, entry.key_span, merged)
    return out


def strip_nulls(node: Node) -> Node:
    """Remove `key: null` entries (they only mean something when overriding)."""
    if not isinstance(node, MapNode):
        return node
    if not any(_is_null(e.value) or isinstance(e.value, MapNode) for e in node):
        return node
    out = MapNode(node.span)
    for entry in node:
        if _is_null(entry.value):
            continue
        out.entries[entry.key] = Entry(entry.key, entry.key_span, strip_nulls(entry.value))
    return out


def without(node: MapNode, *keys: str) -> MapNode:
    if not any(k in node.entries for k in keys):
        return node
    return MapNode(node.span, {k: e for k, e in node.entries.items() if k not in keys})
