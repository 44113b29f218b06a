"""JSON Schemas generated from the structs: the task spec, the plan, the records.

Editors that speak the YAML language server read the modeline at the top of a spec,
`# yaml-language-server: $schema=../../schemas/taskspec.schema.json`, and offer
completion and hover documentation from these files. `make schemas` rewrites them and
a test fails when a checked-in copy is stale.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import msgspec

from taskseed.compiler.spec import TaskSpec
from taskseed.contract.plan import Plan
from taskseed.contract.records import OutputRecord, SeedRecord

DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _with_header(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {"$schema": DRAFT, "title": title, "description": description, **schema}


def _with_defaults(schema: dict[str, Any], root: type) -> dict[str, Any]:
    """msgspec writes a field's default only when it is a constant or an empty list or
    dict; add the ones made by a factory (`["question", "context"]`), so that editors
    show every default the structs give (sections excepted: their fields show theirs)."""
    defs = schema.get("$defs", {})
    seen: set[type] = set()
    stack: list[Any] = [msgspec.inspect.type_info(root)]
    while stack:
        tp = stack.pop()
        if isinstance(tp, msgspec.inspect.UnionType):
            stack.extend(tp.types)
        elif isinstance(tp, msgspec.inspect.ListType):
            stack.append(tp.item_type)
        elif isinstance(tp, msgspec.inspect.DictType):
            stack.append(tp.value_type)
        elif isinstance(tp, msgspec.inspect.StructType) and tp.cls not in seen:
            seen.add(tp.cls)
            properties = defs.get(tp.cls.__name__, {}).get("properties", {})
            for field in tp.fields:
                stack.append(field.type)
                if (
                    field.default_factory is msgspec.NODEFAULT
                    or field.encode_name not in properties
                ):
                    continue
                value = field.default_factory()
                if not isinstance(value, msgspec.Struct):
                    properties[field.encode_name].setdefault("default", msgspec.to_builtins(value))
    return schema


def _drop_required(value: Any) -> Any:
    """The schema of a partial file: every field optional, at every depth."""
    if isinstance(value, dict):
        return {k: _drop_required(v) for k, v in value.items() if k != "required"}
    if isinstance(value, list):
        return [_drop_required(v) for v in value]
    return value


def _taskspec() -> dict[str, Any]:
    return _with_header(
        _with_defaults(msgspec.json.schema(TaskSpec), TaskSpec),
        "taskseed task spec, version 1",
        "A task spec: seed source, record mapping, answer format, subtasks and what to "
        "generate. Put `# yaml-language-server: $schema=<path to this file>` on a spec's "
        "first line for completion in editors. Documentation: docs/taskspec.md.",
    )


def _defaults() -> dict[str, Any]:
    schema = _drop_required(_with_defaults(msgspec.json.schema(TaskSpec), TaskSpec))
    return _with_header(
        schema,
        "taskseed shared defaults (a partial task spec)",
        "A file other specs `extends`: any task spec field, none required.",
    )


def _generated(struct: type, title: str, description: str) -> Callable[[], dict[str, Any]]:
    return lambda: _with_header(
        _with_defaults(msgspec.json.schema(struct), struct), title, description
    )


SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "taskspec.schema.json": _taskspec,
    "taskspec-defaults.schema.json": _defaults,
    "plan.schema.json": _generated(
        Plan,
        "taskseed execution plan",
        "Written by `taskseed compile`; read by `taskseed run`. Versioned by `version`.",
    ),
    "seed-record.schema.json": _generated(
        SeedRecord, "taskseed seed record", "A seed row normalized by its task's mapping."
    ),
    "output-record.schema.json": _generated(
        OutputRecord,
        "taskseed output record",
        "One generated, verified and filtered item, as written to the dataset.",
    ),
}


def render(name: str) -> str:
    return json.dumps(SCHEMAS[name](), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
