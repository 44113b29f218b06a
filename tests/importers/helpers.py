"""Helpers for the importer tests: scratch catalogs and import results."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "taskspecs"


def scratch_catalog(root: Path) -> Path:
    """A catalog with the shipped defaults and shared templates and no tasks."""
    catalog = root / "taskspecs"
    catalog.mkdir()
    for path in CATALOG.glob("_*.yaml"):
        shutil.copy(path, catalog / path.name)
    shutil.copytree(CATALOG / "_templates", catalog / "_templates")
    return catalog


@dataclass
class Imported:
    """What one in-process import returned, printed and wrote."""

    code: int
    err: str
    out_dir: Path
    table: str = ""  # what the import printed on standard output

    def spec(self, name: str) -> dict[str, Any]:
        data = YAML(typ="safe").load(self.text(name))
        assert isinstance(data, dict)
        return data

    def text(self, name: str) -> str:
        return (self.out_dir / f"{name}.yaml").read_text()
