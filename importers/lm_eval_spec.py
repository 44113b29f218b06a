"""A family of translated lm-eval tasks -> one task spec's text.

The first member's translation is the task's body. Members that differ from it only by
`seeds.config` (lm-eval's `dataset_name`) become a matrix over the configs; otherwise
each member is a named subtask carrying what differs from the first (a key the first
has and a member lacks is set to null, which removes it). Members whose translation is
the same as an earlier one's would seed the same rows twice and are left out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.compiler.spec import NAME_PATTERN
from taskseed.importers.lm_eval_families import Family, ImportInputError
from taskseed.importers.lm_eval_readme import Readme, find_readme
from taskseed.importers.lm_eval_translate import Translation
from taskseed.importers.spec_yaml import Note, Problem, Written, render, strip_notes

DOMAINS = ("knowledge", "reasoning")
SCHEMA = Path("schemas") / "taskspec.schema.json"
_NAME = re.compile(NAME_PATTERN)


@dataclass
class SpecContext:
    """Where the spec goes and how to name lm-eval's files in it."""

    out_dir: Path
    show: Callable[[Path], str]  # a file or folder as the spec names it
    version: str | None
    root: Path | None = None  # lm-eval's tasks folder: READMEs are looked up to it


@dataclass
class Spec:
    name: str
    written: Written
    subtasks: int
    dataset: str | None
    # members whose rows and mapping repeat an earlier member's: (member, that member)
    left_out: list[tuple[str, str]] = field(default_factory=list)


def spec_name(name: str) -> str:
    """An lm-eval name as a taskseed task or subtask name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).lstrip("_.-")
    return cleaned or "task"


def build_spec(family: Family, translations: list[Translation], ctx: SpecContext) -> Spec:
    formats = sorted({t.format for t in translations})
    if len(formats) > 1:
        raise ImportInputError(
            f"the tasks of `{family.name}` have different answer formats "
            f"({', '.join(formats)}); import them one at a time"
        )
    fmt = formats[0]
    kept, left_out = _distinct(translations)
    base = kept[0]
    name = spec_name(family.name)
    extends, schema = _defaults(ctx.out_dir, fmt)
    readme = find_readme(base.config.path.parent, ctx.root)

    header = []
    if schema is not None:
        header += [f"yaml-language-server: $schema={schema}", ""]
    header += [
        f"Imported by `taskseed import lm-eval` from {ctx.show(family.source)}.",
        "To finish it: add `seeds.fixture` (3-5 rows in the dataset's own row format),",
        "settle the comments below, then run `taskseed validate` on this file.",
    ]
    version = f"lm-eval {ctx.version}" if ctx.version else "lm-eval"
    identity: dict[str, Any] = {
        "task": name,
        "title": readme.title if readme and readme.title else family.name,
        "domain": _domain(ctx.out_dir, ctx.show(family.source)),
        "imported_from": f"{version}: {ctx.show(family.source)}",
    }
    dataset = base.seeds.get("dataset")
    sections: list[dict[str, Any]] = [
        {"extends": extends},
        identity,
        {"source": _source(readme, dataset, ctx.show(family.source), ctx)},
    ]
    matrix = _matrix(kept)
    seeds = dict(base.seeds)
    if matrix is not None:
        seeds.pop("config", None)
    sections.append({"seeds": seeds})
    sections.append({"mapping": base.mapping})
    sections.append({"answer_format": Note({"type": fmt}, base.format_notes)})
    if len(kept) > 1:
        sections.append({"subtasks": matrix or _subtask_list(kept, ctx)})
    return Spec(
        name,
        render(header, sections),
        len(kept),
        dataset if isinstance(dataset, str) else None,
        left_out,
    )


def _distinct(
    translations: list[Translation],
) -> tuple[list[Translation], list[tuple[str, str]]]:
    kept: list[Translation] = []
    left_out: list[tuple[str, str]] = []
    for item in translations:
        body = strip_notes({"seeds": item.seeds, "mapping": item.mapping})
        twin = next(
            (k for k in kept if strip_notes({"seeds": k.seeds, "mapping": k.mapping}) == body),
            None,
        )
        if twin is None:
            kept.append(item)
        else:
            left_out.append((item.name, twin.name))
    return kept, left_out


def _matrix(kept: list[Translation]) -> Note | None:
    """A matrix over `config` when that is all the members differ by."""
    if len(kept) < 2:
        return None
    configs = [t.seeds.get("config") for t in kept]
    if not all(isinstance(c, str) and _NAME.match(c) for c in configs):
        return None
    if len(set(configs)) != len(configs):
        return None
    bodies = [
        strip_notes({"seeds": {**t.seeds, "config": None}, "mapping": t.mapping}) for t in kept
    ]
    if any(body != bodies[0] for body in bodies[1:]):
        return None
    tasks = ", ".join(f"{t.name} ({t.seeds['config']})" for t in kept)
    return Note(
        {
            "matrix": {"config": configs},
            "name": "${config}",
            "with": {"seeds": {"config": "${config}"}},
        },
        (f"One subtask per lm-eval task: {tasks}.",),
    )


def _subtask_list(kept: list[Translation], ctx: SpecContext) -> list[Any]:
    names = _subtask_names([t.name for t in kept])
    base = {"seeds": kept[0].seeds, "mapping": kept[0].mapping}
    items = []
    for name, item in zip(names, kept, strict=True):
        overrides = _diff(base, {"seeds": item.seeds, "mapping": item.mapping})
        comment = f"lm-eval task {item.name}: {ctx.show(item.config.path)}"
        items.append(Note({"name": name, **overrides}, (comment,)))
    return items


def _subtask_names(tasks: list[str]) -> list[str]:
    """Task names minus the `_`-separated prefix they all share."""
    parts = [t.split("_") for t in tasks]
    shared = 0
    while all(len(p) > shared + 1 and p[shared] == parts[0][shared] for p in parts):
        shared += 1
    names: list[str] = []
    for part in parts:
        name = spec_name("_".join(part[shared:]))
        while name in names:
            name += "_"
        names.append(name)
    return names


def _diff(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """What `other` changes in `base`, as a subtask override (null removes a key)."""
    out: dict[str, Any] = {}
    for key in [*other, *(k for k in base if k not in other)]:
        if key not in other:
            out[key] = None
        elif key not in base:
            out[key] = other[key]
        else:
            mine, theirs = _unwrap(base[key]), _unwrap(other[key])
            if isinstance(mine, dict) and isinstance(theirs, dict):
                nested = _diff(mine, theirs)
                if nested:
                    out[key] = nested
            elif strip_notes(mine) != strip_notes(theirs):
                out[key] = other[key]
    return out


def _unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Note) else value


def _defaults(out_dir: Path, fmt: str) -> tuple[Any, str | None]:
    """`extends` (the nearest `_<format>.yaml` above the spec) and the schema path."""
    filename = f"_{fmt}.yaml"
    folder = out_dir.resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / filename).is_file():
            extends = Path(os.path.relpath(candidate / filename, folder)).as_posix()
            schema_file = candidate.parent / SCHEMA
            schema = (
                Path(os.path.relpath(schema_file, folder)).as_posix()
                if schema_file.is_file()
                else None
            )
            return extends, schema
    message = f"no {filename} was found above {out_dir}: point `extends` at the defaults file"
    return Note(f"../{filename}", (message,), Problem(message, str(out_dir))), None


def _domain(out_dir: Path, source: str) -> Any:
    for folder in (out_dir.resolve(), *out_dir.resolve().parents):
        if folder.name in DOMAINS:
            return folder.name
    message = "lm-eval has no domain; set `knowledge` or `reasoning`"
    return Note(None, (message,), Problem(message, source))


def _source(readme: Readme | None, dataset: Any, origin: str, ctx: SpecContext) -> dict[str, Any]:
    source: dict[str, Any] = {}
    if readme is not None and readme.citation:
        source["citation"] = Note(
            readme.citation,
            (f"From {ctx.show(readme.path)}; check it against the dataset card.",),
        )
    else:
        message = "lm-eval's README gives no citation; cite the dataset's paper"
        note = f"{message} (`taskseed validate` warns TS600 until then)."
        source["citation"] = Note(None, (note,), Problem(message, origin))
    source["license"] = Note(
        "unknown",
        (
            "lm-eval does not record licences: replace `unknown` with the licence on the "
            "dataset card (an SPDX id where one exists).",
        ),
    )
    if isinstance(dataset, str):
        source["url"] = f"https://huggingface.co/datasets/{dataset}"
    return source
