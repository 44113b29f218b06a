"""Find lm-eval tasks, groups and tags by name, without importing lm_eval.

lm-eval registers every `*.yaml` file under its `tasks/` folder by its `task` or `group`
key, and every task under each of its `tag`s. Parsing all of them (about 14,000 files)
for one name is slow, so the index reads them as text once, keeps the files that
mention the name (and the files that include those, since `tag` and `task` are
inherited through `include`), and parses only those.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from taskseed.importers.lm_eval_yaml import Config, LmEvalYamlError, load_config

PACKAGE = "lm_eval"
SKIP_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})
_INCLUDE = re.compile(r"^include:[ \t]*(.*)$", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]+-[ \t]*(\S+)")
_NAME_KEY = re.compile(r"^(?:task|group):[ \t]*[\"']?([^\s\"'#\[]+)", re.MULTILINE)


def tasks_root() -> Path | None:
    """The installed lm_eval package's `tasks/` folder (found, never imported)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "tasks"
        if folder.is_dir():
            return folder
    return None


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def display(path: Path, root: Path | None) -> str:
    """`lm_eval/tasks/arc/arc_easy.yaml` for lm-eval's files; otherwise the path as given."""
    if root is not None:
        try:
            relative = path.resolve().relative_to(root.resolve())
        except ValueError:
            pass
        else:
            return f"{PACKAGE}/tasks/{relative.as_posix()}"
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


@dataclass(frozen=True)
class Found:
    """What a name stands for: a task, a group file, or the tasks carrying a tag."""

    kind: Literal["task", "group", "tag"]
    name: str
    configs: list[Config]


def kind_of(config: Config) -> Literal["task", "group"] | None:
    """lm-eval's reading of a file: a `group` key makes a group, a `task` name a task."""
    if isinstance(config.get("group"), str):
        return "group"
    if isinstance(config.get("task"), str):
        return "task"
    return None


def _tags(config: Config) -> list[str]:
    tags = config.get("tag")
    if isinstance(tags, str):
        return [tags]
    if isinstance(tags, list):
        return [t for t in tags if isinstance(t, str)]
    return []


def _include_names(text: str) -> Iterator[str]:
    for match in _INCLUDE.finditer(text):
        value = match.group(1).split(" #")[0].strip()
        if value.startswith("["):
            yield from (v.strip(" \"'") for v in value.strip("[]").split(","))
        elif value:
            yield value.strip("\"'")
        else:
            for line in text[match.end() + 1 :].splitlines():
                item = _LIST_ITEM.match(line)
                if item is None:
                    break
                yield item.group(1).strip("\"'")


class TaskIndex:
    """Name lookups over one or more task folders; the first folder wins a tie."""

    def __init__(self, roots: Sequence[Path]) -> None:
        resolved = [r.resolve() for r in roots]
        self.roots = [r for i, r in enumerate(resolved) if r not in resolved[:i]]
        self._texts: dict[Path, str] | None = None
        self._includers: dict[Path, set[Path]] = {}

    def texts(self) -> dict[Path, str]:
        """Every task file's text, and the text of every file they include."""
        if self._texts is None:
            texts: dict[Path, str] = {}
            pending = [p for root in self.roots for p in yaml_files(root)]
            while pending:
                path = pending.pop()
                if path in texts:
                    continue
                try:
                    texts[path] = path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError):
                    continue
                for name in _include_names(texts[path]):
                    target = Path(os.path.normpath(path.parent / name))
                    self._includers.setdefault(target, set()).add(path)
                    pending.append(target)
            self._texts = texts
        return self._texts

    def find(self, name: str) -> Found | None:
        texts = self.texts()
        candidates = {p for p, text in texts.items() if name in text}
        frontier = list(candidates)
        while frontier:
            for includer in self._includers.get(frontier.pop(), ()):
                if includer not in candidates:
                    candidates.add(includer)
                    frontier.append(includer)
        groups: list[Config] = []
        tasks: list[Config] = []
        tagged: dict[str, Config] = {}
        for path in self._ordered(p for p in candidates if p.suffix == ".yaml"):
            try:
                config = load_config(path)
            except LmEvalYamlError:
                continue  # lm-eval skips files it cannot read, too
            kind = kind_of(config)
            if kind == "group" and config.get("group") == name:
                groups.append(config)
            elif kind == "task" and config.get("task") == name:
                tasks.append(config)
            elif kind == "task" and name in _tags(config):
                tagged.setdefault(str(config.get("task")), config)
        if groups:
            return Found("group", name, groups[:1])
        if tasks:
            return Found("task", name, tasks[:1])
        if tagged:
            return Found("tag", name, [tagged[k] for k in sorted(tagged)])
        return None

    def includers(self, path: Path) -> set[Path]:
        """The files that include `path` (after `texts()`)."""
        return self._includers.get(path, set())

    def names(self) -> list[str]:
        """Task and group names, for did-you-mean suggestions."""
        found = {m.group(1) for text in self.texts().values() for m in _NAME_KEY.finditer(text)}
        return sorted(found)

    def _ordered(self, paths: Iterator[Path]) -> list[Path]:
        def key(path: Path) -> tuple[int, str]:
            for rank, root in enumerate(self.roots):
                if path.is_relative_to(root):
                    return rank, path.as_posix()
            return len(self.roots), path.as_posix()

        return sorted(paths, key=key)


def yaml_files(root: Path) -> Iterator[Path]:
    """The `*.yaml` files under an absolute folder, skipping caches."""
    for path in root.rglob("*.yaml"):
        if not SKIP_DIRS.intersection(path.relative_to(root).parts):
            yield path
