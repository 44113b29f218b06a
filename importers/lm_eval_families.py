"""What one `taskseed import lm-eval` argument stands for: families of lm-eval tasks.

A family becomes one spec. A task is a family of one; a group file (`group:` with a
`task:` list) or a tag (the tasks sharing a `tag`) is a family whose members become
subtasks. An argument is a task, group or tag name looked up in the installed lm-eval,
a task or group file, or a folder, which gives one family per group file in it and one
per task that none of those groups lists.

`--family NAME` names a folder of lm-eval's tasks (`hendrycks_math`, `afrobench/afrimgsm`)
or a group or tag: every task of the folder is imported, one family per template its
files share (the file their `output_type` or `dataset_path` comes from), so that tasks
written from one template become the subtasks of one spec.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from taskseed.contract.suggest import did_you_mean
from taskseed.importers.lm_eval_index import (
    Found,
    TaskIndex,
    display,
    kind_of,
    tasks_root,
    yaml_files,
)
from taskseed.importers.lm_eval_yaml import (
    Config,
    LmEvalYamlError,
    Origin,
    inline_config,
    load_config,
)

# Keys of a group file that describe the group; every other key is passed to its tasks.
GROUP_KEYS = frozenset({"group", "group_alias", "task", "aggregate_metric_list", "metadata", "tag"})
Overrides = tuple[dict[str, Any], dict[str, Origin]]


class ImportInputError(Exception):
    """An argument that names nothing importable (one line)."""


@dataclass
class Family:
    name: str
    kind: Literal["task", "group", "tag", "folder"]
    source: Path  # the task or group file; for a tag, the folder holding its tasks
    members: list[Config]


@dataclass
class Families:
    found: list[Family] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # members that could not be read


class FamilyFinder:
    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._indexes: dict[tuple[Path, ...], TaskIndex] = {}

    @staticmethod
    def default() -> FamilyFinder:
        return FamilyFinder(tasks_root())

    def where(self, origin: Origin) -> str:
        return f"{display(origin.path, self.root)}:{origin.line}"

    def index(self, extra: Path | None = None) -> TaskIndex:
        roots = tuple(p for p in (extra, self.root) if p is not None)
        if roots not in self._indexes:
            self._indexes[roots] = TaskIndex(list(roots))
        return self._indexes[roots]

    def resolve(self, target: str) -> Families:
        path = Path(target).expanduser()
        if path.is_dir():
            return self.folder(path)
        if path.is_file():
            return self.file(path)
        if "/" in target or path.suffix in (".yaml", ".yml"):
            raise ImportInputError(f"no such file or folder: {target}")
        return self.name(target)

    def name(self, name: str) -> Families:
        if self.root is None:
            raise ImportInputError(
                f"cannot look up `{name}`: lm_eval is not installed; give the path of a "
                "task file or folder instead"
            )
        index = self.index()
        found = index.find(name)
        if found is None:
            hint = did_you_mean(name, index.names())
            raise ImportInputError(
                f"no lm-eval task, group or tag is named `{name}`" + (f"; {hint}" if hint else "")
            )
        return self.family(found, index)

    def file(self, path: Path) -> Families:
        config = _load(path)
        kind = kind_of(config)
        if kind is None:
            raise ImportInputError(f"{path} is neither an lm-eval task nor a group file")
        index = self.index(path.resolve().parent)
        name = str(config.get(kind))
        return self.family(Found(kind, name, [config]), index)

    def whole(self, name: str) -> Families:
        """`--family NAME`: a folder of lm-eval's tasks, else a group or tag."""
        if self.root is None:
            raise ImportInputError(
                f"cannot look up `{name}`: lm_eval is not installed; give a folder instead"
            )
        folder = self.root / name
        if ".." not in Path(name).parts and folder.is_dir():
            return self.templates(folder, name)
        found = self.index().find(name)
        if found is None or found.kind == "task":
            folders = sorted(p.name for p in self.root.iterdir() if p.is_dir())
            hint = did_you_mean(name, folders + self.index().names())
            raise ImportInputError(
                f"no lm-eval task folder, group or tag is named `{name}`"
                + (f"; {hint}" if hint else "")
            )
        return self.family(found, self.index())

    def templates(self, folder: Path, name: str) -> Families:
        """Every task under `folder`, one family per shared template."""
        result = Families()
        clusters: dict[Path, list[Config]] = {}
        for path in sorted(yaml_files(folder.resolve())):
            try:
                config = load_config(path)
            except LmEvalYamlError as exc:
                result.problems.append(str(exc))
                continue
            if kind_of(config) == "task":
                clusters.setdefault(template_of(config), []).append(config)
        if not clusters:
            raise ImportInputError(f"no lm-eval task files under {folder}")
        names = _cluster_names(name, list(clusters), folder.resolve())
        for template, members in clusters.items():
            result.found.append(Family(names[template], "folder", template, _unique(members)))
        return result

    def folder(self, folder: Path) -> Families:
        index = self.index(folder.resolve())
        result = Families()
        tasks: list[Config] = []
        for path in sorted(yaml_files(folder.resolve())):
            try:
                config = load_config(path)
            except LmEvalYamlError as exc:
                result.problems.append(str(exc))
                continue
            kind = kind_of(config)
            if kind == "group":
                part = self.family(Found("group", str(config.get("group")), [config]), index)
                result.found.extend(part.found)
                result.problems.extend(part.problems)
            elif kind == "task":
                tasks.append(config)
        grouped = {str(m.get("task")) for family in result.found for m in family.members}
        for config in tasks:
            if str(config.get("task")) not in grouped:
                name = str(config.get("task"))
                result.found.append(Family(name, "task", config.path, [config]))
        if not result.found and not result.problems:
            raise ImportInputError(f"no lm-eval task or group files in {folder}")
        return result

    def family(self, found: Found, index: TaskIndex) -> Families:
        if found.kind == "task":
            config = found.configs[0]
            return Families([Family(found.name, "task", config.path, [config])])
        if found.kind == "tag":
            folder = Path(os.path.commonpath([c.path.parent for c in found.configs]))
            return Families([Family(found.name, "tag", folder, list(found.configs))])
        group = found.configs[0]
        problems: list[str] = []
        members = _unique(self.members(group, index, ({}, {}), {found.name}, problems))
        return Families([Family(found.name, "group", group.path, members)], problems)

    def members(
        self,
        group: Config,
        index: TaskIndex,
        outer: Overrides,
        seen: set[str],
        problems: list[str],
    ) -> list[Config]:
        """A group's tasks, nested groups and tags flattened, with lm-eval's overrides."""
        own = {k: v for k, v in group.values.items() if k not in GROUP_KEYS}
        overrides: Overrides = (
            {**own, **outer[0]},
            {**{k: group.origin(k) for k in own}, **outer[1]},
        )
        listed = group.get("task")
        items = listed if isinstance(listed, list) else [listed]
        at = group.origin("task")
        members: list[Config] = []
        for item in items:
            if isinstance(item, str):
                members.extend(self.named(item, {}, group, index, overrides, seen, problems))
            elif isinstance(item, dict) and isinstance(item.get("group"), str):
                extra = {k: v for k, v in item.items() if k != "group"}
                name = item["group"]
                found = index.find(name)
                nested = (
                    found.configs[0]
                    if found is not None and found.kind == "group"
                    else _inline(group.path, item, at, problems)
                )
                if nested is not None and name not in seen:
                    inner = _with(overrides, extra, at)
                    members.extend(self.members(nested, index, inner, seen | {name}, problems))
            elif isinstance(item, dict) and isinstance(item.get("task"), str):
                extra = {k: v for k, v in item.items() if k != "task"}
                if index.find(item["task"]) is None:
                    inline = _inline(group.path, item, at, problems)
                    if inline is not None:
                        members.append(
                            inline.overlay(*overrides).overlay(*_with(({}, {}), item, at))
                        )
                else:
                    members.extend(
                        self.named(item["task"], extra, group, index, overrides, seen, problems)
                    )
            else:
                problems.append(
                    f"{self.where(at)}: group `{group.get('group')}` lists {item!r}, "
                    "which names no task"
                )
        return members

    def named(
        self,
        name: str,
        extra: dict[str, Any],
        group: Config,
        index: TaskIndex,
        overrides: Overrides,
        seen: set[str],
        problems: list[str],
    ) -> list[Config]:
        at = group.origin("task")
        merged = _with(overrides, extra, at)
        found = index.find(name)
        if found is None:
            problems.append(
                f"{self.where(at)}: group `{group.get('group')}` lists `{name}`, which is no "
                "lm-eval task, group or tag"
            )
            return []
        if found.kind == "group":
            if name in seen:
                return []
            return self.members(found.configs[0], index, merged, seen | {name}, problems)
        return [config.overlay(*merged) for config in found.configs]


def template_of(config: Config) -> Path:
    """The file a task's shape comes from: where its `output_type` (or `dataset_path`)
    is written, itself when it writes both."""
    for key in ("output_type", "dataset_path"):
        if key in config.origins:
            return config.origin(key).path.resolve()
    return config.path.resolve()


_TEMPLATE_WORDS = frozenset({"yaml", "template", "default", "common", "base", "task"})


def _cluster_names(family: str, templates: list[Path], folder: Path) -> dict[Path, str]:
    """One spec name per template: the family's name, plus what tells templates apart."""
    if len(templates) == 1:
        return {templates[0]: family.replace("/", "_")}
    base = family.replace("/", "_")
    names: dict[Path, str] = {}
    for template in templates:
        parts = template.parent.relative_to(folder).parts if template.is_relative_to(folder) else ()
        words = [w for part in parts for w in part.split("_")]
        words += [w for w in template.stem.split("_") if w and w not in _TEMPLATE_WORDS]
        suffix = "_".join(dict.fromkeys(w for w in words if w)) or template.stem.strip("_")
        name = f"{base}_{suffix}" if not suffix.startswith(base) else suffix
        while name in names.values():
            name += "_"
        names[template] = name
    return names


def _with(overrides: Overrides, extra: dict[str, Any], at: Origin) -> Overrides:
    return {**overrides[0], **extra}, {**overrides[1], **{k: at for k in extra}}


def _inline(path: Path, item: dict[str, Any], at: Origin, problems: list[str]) -> Config | None:
    try:
        return inline_config(path, item, at)
    except LmEvalYamlError as exc:
        problems.append(str(exc))
        return None


def _unique(configs: list[Config]) -> list[Config]:
    seen: dict[str, Config] = {}
    for config in configs:
        seen.setdefault(str(config.get("task")), config)
    return list(seen.values())


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except LmEvalYamlError as exc:
        raise ImportInputError(str(exc)) from None
