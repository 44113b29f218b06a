"""The driver's hand-offs: a unit the typed conversion refuses is reported, not dropped."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import msgspec
import pytest

from taskseed.compiler import driver
from tests.runtime.catalog import write_catalog


def test_a_constraint_the_walker_misses_is_a_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = write_catalog(tmp_path)
    assert driver.compile_paths([catalog], root=tmp_path).plan is not None

    def refuse(value: Any, kind: Any, **kwargs: Any) -> Any:
        if kind is driver.TaskSpec:
            raise msgspec.ValidationError("Expected `array` of length >= 1 - at `$.x`")
        return msgspec.convert(value, kind, **kwargs)

    fake = types.SimpleNamespace(convert=refuse, ValidationError=msgspec.ValidationError)
    monkeypatch.setattr(driver, "msgspec", fake)
    result = driver.compile_paths([catalog], root=tmp_path)
    assert result.plan is None
    [error] = [d for d in result.diagnostics if d.severity == "error"]
    assert error.code == "TS203"
    assert "length >= 1" in error.message
    assert error.span is not None and error.span.file.endswith("quiz.yaml")
