"""Every default has one home: the spec structs (and, for what depends on the request
kind, `contract/defaults.py`). The checked-in JSON Schemas, the plan structs and the
catalog's `_defaults.yaml` are walked generically and must agree with them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from msgspec import inspect as mi

from taskseed.compiler.spec import (
    DATA_KINDS,
    FiltersSpec,
    LanguageFilterSpec,
    RepetitionSpec,
    TaskSpec,
)
from taskseed.contract.defaults import PER_SEED, REQUEST_KINDS, SAMPLING
from taskseed.contract.plan import (
    Plan,
    PlanFilters,
    PlanFormat,
    PlanLanguage,
    PlanRepetition,
)

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
CATALOG_DEFAULTS = REPO / "taskspecs" / "_defaults.yaml"


def _default(field: mi.Field) -> Any:
    if field.default is not mi.NODEFAULT:
        return field.default
    if field.default_factory is not mi.NODEFAULT:
        return field.default_factory()
    return mi.NODEFAULT


def _members(tp: mi.Type) -> list[mi.Type]:
    return list(tp.types) if isinstance(tp, mi.UnionType) else [tp]


def _structs(tp: mi.Type) -> list[mi.StructType]:
    return [t for t in _members(tp) if isinstance(t, mi.StructType)]


def _every_struct(root: type) -> Iterator[mi.StructType]:
    """Each struct type reachable from `root`, once."""
    seen: set[type] = set()
    stack = [mi.type_info(root)]
    while stack:
        tp = stack.pop()
        if isinstance(tp, mi.StructType):
            if tp.cls in seen:
                continue
            seen.add(tp.cls)
            yield tp
            stack.extend(f.type for f in tp.fields)
        elif isinstance(tp, mi.UnionType):
            stack.extend(tp.types)
        elif isinstance(tp, mi.ListType | mi.DictType):
            stack.extend([tp.item_type] if isinstance(tp, mi.ListType) else [tp.value_type])


def _by_kind(path: tuple[str, ...]) -> Any:
    """The request kind's default for a field the structs leave to it, else NODEFAULT."""
    kind = path[1] if path[:1] == ("generate",) and len(path) > 2 else path[0]
    if kind not in REQUEST_KINDS:
        return mi.NODEFAULT
    if path[-2:-1] == ("sampling",) and path[-1] in ("temperature", "top_p", "max_tokens"):
        return getattr(SAMPLING[kind], path[-1])
    if path[-1] == "per_seed" and kind in PER_SEED:
        return PER_SEED[kind]
    return mi.NODEFAULT


def _switches_on(default: Any) -> bool:
    """A default that leaves something off (a check, a bound, a pattern): a shared file
    may switch it on."""
    return default is None or default is False or default in ([], {})


def _leaves(data: dict[str, Any], struct: mi.StructType, path: tuple[str, ...] = ()):
    """(path, value written, the field's default) for each value a YAML mapping sets."""
    fields = {f.encode_name: f for f in struct.fields}
    for key, value in data.items():
        field = fields[key]
        here = (*path, key)
        nested = _structs(field.type)
        if isinstance(value, dict) and len(nested) == 1:
            yield from _leaves(value, nested[0], here)
            continue
        default = _by_kind(here)
        yield here, value, _default(field) if default is mi.NODEFAULT else default


@pytest.mark.parametrize("name", ["taskspec.schema.json", "taskspec-defaults.schema.json"])
def test_schema_defaults_are_the_struct_defaults(name: str) -> None:
    defs = json.loads((SCHEMAS / name).read_text())["$defs"]
    checked = 0
    for struct in _every_struct(TaskSpec):
        properties = defs[struct.cls.__name__]["properties"]
        for field in struct.fields:
            default = _default(field)
            shown = properties[field.encode_name]
            if default is mi.NODEFAULT:
                assert "default" not in shown, (struct.cls.__name__, field.name)
                continue
            if isinstance(default, msgspec.Struct):
                continue  # a section: its fields are checked in its own struct
            assert shown.get("default") == msgspec.to_builtins(default), (
                struct.cls.__name__,
                field.name,
            )
            checked += 1
    assert checked > 100  # the walk reached the nested structs


def test_plan_schema_defaults_are_the_plan_struct_defaults() -> None:
    defs = json.loads((SCHEMAS / "plan.schema.json").read_text())["$defs"]
    for struct in _every_struct(Plan):
        for field in struct.fields:
            default = _default(field)
            shown = defs[struct.cls.__name__]["properties"][field.encode_name]
            if default is not mi.NODEFAULT and not isinstance(default, msgspec.Struct):
                assert shown.get("default") == msgspec.to_builtins(default), field.name


def _format_structs() -> list[type]:
    info = mi.type_info(TaskSpec)
    field = next(f for f in info.fields if f.name == "answer_format")
    return [s.cls for s in _structs(field.type)]


# Plan structs whose fields repeat spec fields: where both give a default, it is one.
@pytest.mark.parametrize(
    ("plan", "spec"),
    [
        (PlanLanguage, LanguageFilterSpec),
        (PlanRepetition, RepetitionSpec),
        (PlanFilters, FiltersSpec),
        *((PlanFormat, fmt) for fmt in _format_structs()),
    ],
    ids=lambda cls: cls.__name__,
)
def test_plan_structs_repeat_no_other_default(plan: type, spec: type) -> None:
    """A plan field's default is only what an older plan without it means; where it is a
    value (not "off", not "another format's option"), it is the spec's default."""
    plan_fields = {f.name: _default(f) for f in mi.type_info(plan).fields}
    for field in mi.type_info(spec).fields:
        mine, theirs = _default(field), plan_fields.get(field.name, mi.NODEFAULT)
        if mi.NODEFAULT in (mine, theirs) or _switches_on(theirs):
            continue
        if isinstance(theirs, msgspec.Struct):
            continue  # a section, checked as its own pair
        assert msgspec.to_builtins(theirs) == msgspec.to_builtins(mine), (plan, field.name)


def test_catalog_defaults_agree_with_the_structs() -> None:
    data = yaml.safe_load(CATALOG_DEFAULTS.read_text())
    leaves = list(_leaves(data, mi.type_info(TaskSpec)))
    assert len(leaves) > 10
    for path, value, default in leaves:
        if default is mi.NODEFAULT or _switches_on(default):
            continue
        assert value == default, f"{'.'.join(path)}: {value!r} here, {default!r} by default"


def test_catalog_defaults_restate_no_default() -> None:
    """One home: the shared file only switches on what is off by default, or says what
    has no default (`version`, the system prompts)."""
    data = yaml.safe_load(CATALOG_DEFAULTS.read_text())
    restated = [
        ".".join(path)
        for path, value, default in _leaves(data, mi.type_info(TaskSpec))
        if path != ("version",) and default is not mi.NODEFAULT and not _switches_on(default)
    ]
    assert restated == []


def test_every_request_kind_has_its_defaults() -> None:
    assert set(REQUEST_KINDS) == {*DATA_KINDS, "verify", "judge"}
    assert set(SAMPLING) == set(REQUEST_KINDS)
    assert set(PER_SEED) == set(DATA_KINDS)
