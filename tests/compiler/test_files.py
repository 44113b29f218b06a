"""What a spec may read: the catalog root, `--allow-path`, and files that are refused
before they are opened (a FIFO, a device, a file too large), never quoted."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from taskseed.cli.main import main
from taskseed.compiler.driver import compile_paths
from taskseed.compiler.files import MAX_FIXTURE_BYTES, Catalog, catalog_root
from tests.conftest import CATALOG

CASES = Path(__file__).resolve().parents[1] / "golden" / "cases"
ROWS = (CASES / "clean_minimal/taskspecs/fixtures/toy.jsonl").read_text(encoding="utf-8")
TOY = (CASES / "clean_minimal/taskspecs/toy.yaml").read_text(encoding="utf-8")


def toy_catalog(root: Path, fixture: str = "fixtures/toy.jsonl") -> Path:
    catalog = root / "taskspecs"
    (catalog / "fixtures").mkdir(parents=True)
    (catalog / "fixtures/toy.jsonl").write_text(ROWS, encoding="utf-8")
    (catalog / "toy.yaml").write_text(TOY.replace("fixtures/toy.jsonl", fixture))
    return catalog


def codes(result: object) -> list[str]:
    return [d.code for d in result.diagnostics]  # type: ignore[attr-defined]


def test_the_catalog_root_is_the_folder_that_holds_the_defaults() -> None:
    arc = CATALOG / "reasoning/arc.yaml"
    assert catalog_root(arc) == Path(os.path.realpath(CATALOG))
    assert catalog_root(CATALOG / "reasoning") == Path(os.path.realpath(CATALOG))
    # A single spec file may extend `../_multiple_choice.yaml`: it is inside the root.
    result = compile_paths([arc])
    assert result.ok, [d.message for d in result.diagnostics]


def test_without_defaults_the_root_is_the_folder_given(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the search stops at a repository's top folder
    (tmp_path / "_defaults.yaml").write_text("domain: knowledge\n")
    catalog = toy_catalog(tmp_path / "repo")
    (tmp_path / "repo/.git").mkdir()
    assert catalog_root(catalog) == Path(os.path.realpath(catalog))
    assert catalog_root(catalog / "toy.yaml") == Path(os.path.realpath(catalog))


def test_allow_path_admits_a_folder_outside_the_catalog(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "rows.jsonl").write_text(ROWS, encoding="utf-8")
    catalog = toy_catalog(tmp_path, fixture="../shared/rows.jsonl")
    refused = compile_paths([catalog], root=tmp_path)
    assert codes(refused) == ["TS306"]
    allowed = compile_paths([catalog], root=tmp_path, allow=[shared])
    assert allowed.ok and allowed.plan is not None
    assert [f.origin for f in allowed.plan.fixtures.values()] == ["shared/rows.jsonl"]


def test_allow_path_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "rows.jsonl").write_text(ROWS, encoding="utf-8")
    catalog = toy_catalog(tmp_path, fixture="../shared/rows.jsonl")
    assert main(["validate", str(catalog)]) == 1
    assert "TS306" in capsys.readouterr().out
    assert main(["validate", str(catalog), "--allow-path", str(shared)]) == 0
    assert main(["validate", str(catalog), "--allow-path", str(tmp_path / "absent")]) == 1
    assert "--allow-path" in capsys.readouterr().err


@pytest.mark.timeout(30)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    catalog = toy_catalog(tmp_path, fixture="fixtures/pipe.jsonl")
    os.mkfifo(catalog / "fixtures/pipe.jsonl")
    os.mkfifo(catalog / "_pipe.yaml")  # a spec file that is a FIFO, too
    result = compile_paths([catalog], root=tmp_path)
    assert sorted(codes(result)) == ["TS108", "TS108"]
    messages = " ".join(d.message for d in result.diagnostics)
    assert "a FIFO" in messages


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.timeout(30)
def test_a_device_is_refused_even_when_allowed(tmp_path: Path) -> None:
    devices = tmp_path / "dev"
    devices.mkdir()
    os.symlink("/dev/zero", devices / "zero.jsonl")
    catalog = toy_catalog(tmp_path / "b", fixture=str(devices / "zero.jsonl"))
    result = compile_paths([catalog], root=tmp_path, allow=[devices, Path("/dev")])
    assert codes(result) == ["TS108"]
    assert "a device" in result.diagnostics.items[0].message


def test_a_file_too_large_is_not_read(tmp_path: Path) -> None:
    catalog = toy_catalog(tmp_path)
    row = json.dumps({"id": "x", "question": "q" * 1000, "options": ["a", "b"], "gold": 0})
    count = MAX_FIXTURE_BYTES // len(row) + 1
    (catalog / "fixtures/toy.jsonl").write_text((row + "\n") * count, encoding="utf-8")
    result = compile_paths([catalog], root=tmp_path)
    assert codes(result) == ["TS107"]


def test_a_spec_file_too_large_is_not_read(tmp_path: Path) -> None:
    catalog = toy_catalog(tmp_path)
    padding = "# " + "x" * 100 + "\n"
    (catalog / "big.yaml").write_text(padding * 3000 + TOY.replace("task: toy", "task: big"))
    result = compile_paths([catalog], root=tmp_path)
    assert codes(result) == ["TS107"]


def test_refused_files_are_never_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A spec that names a file outside the catalog sees none of its lines, in any format
    (the golden case `hostile_paths` holds such specs; /etc/passwd is read by none)."""
    case = tmp_path / "case"
    shutil.copytree(CASES / "hostile_paths", case, symlinks=True)
    secrets = ["SECRET-CONTENT"]
    passwd = Path("/etc/passwd")
    if passwd.is_file():
        secrets += [line for line in passwd.read_text(errors="replace").splitlines() if line][:3]
    previous = Path.cwd()
    os.chdir(case)
    try:
        for fmt in ("text", "json", "github"):
            assert main(["validate", "taskspecs", "--format", fmt]) == 1
            out = capsys.readouterr().out
            assert "TS306" in out
            for secret in secrets:
                assert secret not in out, (fmt, secret)
    finally:
        os.chdir(previous)


def test_a_symlinked_spec_folder_is_not_followed(tmp_path: Path) -> None:
    outside = toy_catalog(tmp_path / "outside")
    catalog = toy_catalog(tmp_path / "inside")
    os.symlink(outside, catalog / "linked")
    result = compile_paths([catalog], root=tmp_path)
    assert result.ok and result.plan is not None and len(result.plan.units) == 1


def test_a_spec_named_through_a_symlinked_folder_stays_refused(tmp_path: Path) -> None:
    """`taskseed validate taskspecs/evil/x.yaml` where `evil` leads out of the catalog:
    the root is found from the folders as written, so the file is outside it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.yaml").write_text("SECRET-CONTENT: 1\n")
    catalog = toy_catalog(tmp_path / "repo")
    (catalog / "_defaults.yaml").write_text("domain: knowledge\n")
    os.symlink(outside, catalog / "evil")
    result = compile_paths([catalog / "evil/x.yaml"], root=tmp_path)
    assert codes(result) == ["TS306"]
    assert "SECRET" not in " ".join(d.message for d in result.diagnostics)


def test_paths_as_written_are_checked_before_any_system_call(tmp_path: Path) -> None:
    catalog = Catalog.of([toy_catalog(tmp_path)])
    for written in ("a\0b", "x" * 256, "/".join(["d"] * 3000), ""):
        refusal = catalog.locate(tmp_path, written)
        assert getattr(refusal, "code", None) == "TS307", written
    assert getattr(catalog.locate(tmp_path / "taskspecs", "../x.yaml"), "code", None) == "TS306"
    assert getattr(catalog.locate(tmp_path / "taskspecs", ".env"), "code", None) == "TS308"
    assert getattr(catalog.check_pattern(tmp_path / "taskspecs", "a/*/.git"), "code", None) == (
        "TS308"
    )
