"""Read lm-evaluation-harness task YAML without running any of it.

lm-eval's files tag Python hooks as `!function module.name`; here that tag becomes a
`FunctionRef` marker and nothing is imported or executed. Every top-level key keeps the
file and line it was written at, through `include` chains, so that the importer can
point at the lm-eval line behind anything it cannot translate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import ScalarNode


class LmEvalYamlError(Exception):
    """A task file that cannot be read: one line, with the file (and line) at fault."""


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """`!function utils.process_docs`: a Python hook, recorded by name only."""

    target: str

    def module_file(self, folder: Path) -> Path:
        """The `.py` file lm-eval would load the hook from, next to the YAML file."""
        module = self.target.rpartition(".")[0]
        return folder / (module.replace(".", "/") + ".py")


SHOWN_CHARS = 72


def shown(value: Any) -> str:
    """An lm-eval value as it would read in its file, shortened for a comment."""
    if isinstance(value, FunctionRef):
        return f"!function {value.target}"
    text = json.dumps(value, ensure_ascii=False, default=_shown_nested)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + '..."'


def _shown_nested(value: object) -> str:
    return shown(value) if isinstance(value, FunctionRef) else str(value)


@dataclass(frozen=True, slots=True)
class Origin:
    """A file and 1-based line."""

    path: Path
    line: int


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that turns `!function` into a marker."""


def _function_ref(constructor: RoundTripConstructor, node: ScalarNode) -> FunctionRef:
    return FunctionRef(str(constructor.construct_scalar(node)).strip())


_Constructor.add_constructor("!function", _function_ref)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    # PyYAML, which lm-eval uses, keeps the last of duplicate keys.
    yaml.allow_duplicate_keys = True
    return yaml


_YAML = _yaml()


def plain(value: Any) -> Any:
    """ruamel's round-trip objects as plain dicts, lists, strings and numbers."""
    if isinstance(value, FunctionRef) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


@dataclass
class Config:
    """A task (or group) configuration: values and where each top-level key was written."""

    path: Path  # the file the configuration was read from
    values: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def origin(self, key: str) -> Origin:
        return self.origins.get(key, Origin(self.path, 1))

    def overlay(self, values: dict[str, Any], origins: dict[str, Origin]) -> Config:
        """A copy with `values` on top (lm-eval's override semantics: top-level keys win)."""
        merged = Config(self.path, {**self.values, **values}, {**self.origins})
        for key in values:
            if key in origins:
                merged.origins[key] = origins[key]
        return merged


def read_file(path: Path) -> Config:
    """One file, without following `include`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LmEvalYamlError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = _YAML.load(text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LmEvalYamlError(f"{where}: not valid YAML ({problem})") from None
    if not isinstance(data, CommentedMap):
        raise LmEvalYamlError(f"{path}: expected a mapping of task settings")
    origins = {str(key): Origin(path, data.lc.key(key)[0] + 1) for key in data}
    return Config(path, plain(data), origins)


def include_paths(config: Config) -> list[Path]:
    """The files named by `include`, relative to the including file."""
    raw = config.values.get("include")
    if raw is None:
        return []
    names = raw if isinstance(raw, list) else [raw]
    paths = []
    for name in names:
        if not isinstance(name, str):
            where = config.origin("include")
            raise LmEvalYamlError(f"{where.path}:{where.line}: `include` must name files")
        target = Path(name).expanduser()
        paths.append(target if target.is_absolute() else config.path.parent / target)
    return paths


def load_config(path: Path) -> Config:
    """A file with its `include` chain merged: the including file's keys win."""
    return _expand(read_file(path), ())


def inline_config(path: Path, values: dict[str, Any], origin: Origin) -> Config:
    """A configuration written inline (in a group's task list), includes merged."""
    return _expand(Config(path, values, {key: origin for key in values}), ())


def _expand(own: Config, chain: tuple[Path, ...]) -> Config:
    resolved = own.path.resolve()
    if resolved in chain:
        cycle = " -> ".join(p.name for p in (*chain, resolved))
        raise LmEvalYamlError(f"{own.path}: `include` cycle: {cycle}")
    includes = include_paths(own)
    if not includes:
        return own
    merged = Config(own.path, {}, {})
    for target in includes:
        if not target.is_file():
            where = own.origin("include")
            raise LmEvalYamlError(
                f"{where.path}:{where.line}: included file not found: {target.name}"
            )
        base = _expand(read_file(target), (*chain, resolved))
        merged = merged.overlay(base.values, base.origins)
    values = {k: v for k, v in own.values.items() if k != "include"}
    return merged.overlay(values, own.origins)
