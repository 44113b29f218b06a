"""The shipped catalog compiles clean, deterministically, and round-trips."""

from __future__ import annotations

from pathlib import Path

import msgspec

from taskseed.compiler.driver import compile_paths
from taskseed.contract.plan import PLAN_VERSION, Plan, decode, encode


def test_catalog_is_clean(repo_cwd: Path) -> None:
    result = compile_paths(["taskspecs"])
    assert not result.diagnostics.items, [d.message for d in result.diagnostics]
    assert result.plan is not None
    assert {u.domain for u in result.plan.units} == {"knowledge", "reasoning"}


def test_compiling_twice_gives_the_same_bytes(repo_cwd: Path) -> None:
    first = compile_paths(["taskspecs"]).plan
    second = compile_paths(["taskspecs"]).plan
    assert first is not None and second is not None
    assert encode(first) == encode(second)


def test_plan_round_trips(repo_cwd: Path) -> None:
    plan = compile_paths(["taskspecs"]).plan
    assert plan is not None
    assert decode(encode(plan)) == plan


def test_plan_body_has_no_absolute_paths_or_clock(repo_cwd: Path) -> None:
    plan = compile_paths(["taskspecs"]).plan
    assert plan is not None
    assert str(repo_cwd) not in encode(plan).decode()
    # Fixture rows are data (DuoRC's plot ids look like `/m/ts0001`): look at the rest.
    for fixture in plan.fixtures.values():
        fixture.rows = []
    text = encode(plan).decode()
    assert "/tmp/" not in text and '"/' not in text
    assert plan.version == PLAN_VERSION


def test_unit_ids_are_unique_and_sorted(repo_cwd: Path) -> None:
    plan = compile_paths(["taskspecs"]).plan
    assert plan is not None
    ids = [u.id for u in plan.units]
    assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_fingerprints_change_only_with_content(repo_cwd: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(repo_cwd / "taskspecs", tmp_path / "taskspecs")
    base = compile_paths([tmp_path / "taskspecs"], root=tmp_path).plan
    spec = tmp_path / "taskspecs/reasoning/gsm8k.yaml"
    spec.write_text(spec.read_text().replace("integer: true", "integer: false"))
    changed = compile_paths([tmp_path / "taskspecs"], root=tmp_path).plan
    assert base is not None and changed is not None
    before = {u.id: u.fingerprint for u in base.units}
    after = {u.id: u.fingerprint for u in changed.units}
    assert [k for k in before if before[k] != after[k]] == ["gsm8k/default"]


def test_plans_are_tolerant_of_new_fields(repo_cwd: Path) -> None:
    plan = compile_paths(["taskspecs"]).plan
    assert plan is not None
    raw = msgspec.json.decode(encode(plan))
    raw["a_future_field"] = {"x": 1}
    raw["units"][0]["another_future_field"] = [1, 2]
    assert isinstance(decode(msgspec.json.encode(raw)), Plan)
