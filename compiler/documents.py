"""Phases 1 and 2 for one file: a spec file loaded (`load.py`) and validated in partial
mode (`validate.py`), once per real path.

The driver loads every file it discovered through this store; `resolve.py` asks it for
the files an `extends` names, which are loaded when first named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from taskseed.compiler.diagnostics import Diagnostics
from taskseed.compiler.load import load_file
from taskseed.compiler.nodes import MapNode
from taskseed.compiler.source import SourceFile, Span
from taskseed.compiler.validate import validate_document


@dataclass
class Documents:
    diagnostics: Diagnostics
    sources: dict[str, SourceFile]
    _files: dict[Path, MapNode | None] = field(default_factory=dict)
    _shown: dict[Path, Path] = field(default_factory=dict)  # real path -> as first named

    def get(self, path: Path, named_at: Span | None = None) -> MapNode | None:
        """The file's tree, validated in partial mode; None when it cannot be used (the
        diagnostics say why). `named_at`: the value that named it, where a refusal is
        reported."""
        key = path.resolve()
        if key not in self._files:
            shown = self._shown.get(key, path)
            root = load_file(shown, self.diagnostics, self.sources, str(key), named_at)
            self._files[key] = validate_document(root, self.diagnostics) if root else None
        return self._files[key]

    def name(self, real: Path, written: Path) -> None:
        """Remember how a spec named the file at `real` (the first name is kept)."""
        self._shown.setdefault(real, written)

    def shown(self, real: Path) -> Path:
        """The file as first named, for messages."""
        return self._shown.get(real, real)
