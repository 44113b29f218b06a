"""The checked-in JSON Schemas match the structs they are generated from."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from taskseed.compiler.schemas import SCHEMAS, render

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schema_is_current(name: str) -> None:
    path = SCHEMA_DIR / name
    assert path.is_file(), f"schemas/{name} is missing; run `make schemas`"
    current = path.read_text(encoding="utf-8")
    fresh = render(name)
    if current != fresh:
        diff = "".join(
            difflib.unified_diff(
                current.splitlines(True), fresh.splitlines(True), "checked in", "generated", n=2
            )
        )
        pytest.fail(f"schemas/{name} is stale; run `make schemas`\n{diff[:4000]}")


def test_defaults_schema_requires_nothing() -> None:
    text = render("taskspec-defaults.schema.json")
    assert '"required"' not in text
    assert '"required"' in render("taskspec.schema.json")


def test_every_catalog_spec_names_a_schema() -> None:
    catalog = SCHEMA_DIR.parent / "taskspecs"
    for path in catalog.rglob("*.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("$schema=", 1)[1]).resolve()
        assert target.is_file(), f"{path}: schema path does not exist"
        json.loads(target.read_text(encoding="utf-8"))
