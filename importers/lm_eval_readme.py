"""A task's title and citation from the README.md lm-eval keeps beside its YAML files.

lm-eval's READMEs start with a `# Title` heading and carry the paper's BibTeX entry in a
fenced block. A task in a subfolder (`afrobench/afrimgsm/prompt_1/`) is described by the
README of the nearest folder above it that has one with an entry. The citation is
condensed to the catalog's style: `Surname et al. (year), Title. Venue.`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^#[ \t]+(\S.*?)[ \t#]*$", re.MULTILINE)
_ENTRY = re.compile(r"@\s*[A-Za-z]+\s*\{")
_KEY = re.compile(r"\s*([^,\s={}]+)\s*(,?)")
_FIELD = re.compile(r"([A-Za-z]+)\s*=\s*")
_PLACEHOLDERS = frozenset({"task-name", "task name", "title", "name"})


@dataclass(frozen=True)
class Readme:
    path: Path
    title: str | None
    citation: str | None


def find_readme(folder: Path, root: Path | None) -> Readme | None:
    """The README of `folder`, or of the nearest folder above it (up to `root`) whose
    README has a citation; None when there is none at all."""
    first: Readme | None = None
    current = folder
    while True:
        readme = read_readme(current)
        if readme is not None and readme.citation:
            return readme
        first = first or readme
        if root is None or current == root or not current.is_relative_to(root):
            return first
        current = current.parent


def read_readme(folder: Path) -> Readme | None:
    path = folder / "README.md"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    heading = _HEADING.search(text)
    title = heading.group(1).strip() if heading else None
    if title is not None and title.lower() in _PLACEHOLDERS:
        title = None  # lm-eval's README template, not filled in
    return Readme(path, title, citation(text))


def citation(text: str) -> str | None:
    """The first BibTeX entry in `text`, as one line; None when there is none."""
    entry = _ENTRY.search(text)
    if entry is None:
        return None
    start = entry.end()
    key = _KEY.match(text, start)
    if key is not None and not text[key.end() :].lstrip().startswith("="):
        start = key.end()  # the entry's key (`@article{smith2020,`), which may lack its comma
    fields = _fields(text, start)
    title, year = fields.get("title"), fields.get("year")
    if not title or not year:
        return None
    authors = [a.strip() for a in re.split(r"\s+and\s+", fields.get("author", "")) if a.strip()]
    parts = []
    if authors:
        lead = _surname(authors[0])
        parts.append(lead if len(authors) == 1 else f"{lead} et al.")
    parts.append(f"({year}),")
    parts.append(_sentence(title))
    venue = _venue(fields)
    if venue:
        parts.append(_sentence(venue))
    return " ".join(parts)


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _fields(text: str, start: int) -> dict[str, str]:
    """`name = {value}` / `name = "value"` / `name = 2020` pairs up to the entry's end."""
    fields: dict[str, str] = {}
    at = start
    while True:
        match = _FIELD.match(text, _skip_separators(text, at))
        if match is None:
            return fields
        value, at = _value(text, match.end())
        if value is None:
            return fields
        fields[match.group(1).lower()] = _clean(value)


def _skip_separators(text: str, at: int) -> int:
    while at < len(text) and (text[at].isspace() or text[at] == ","):
        at += 1
    return at


def _value(text: str, at: int) -> tuple[str | None, int]:
    if at >= len(text):
        return None, at
    opener = text[at]
    if opener == "{":
        depth = 0
        for index in range(at, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    return text[at + 1 : index], index + 1
        return None, at
    if opener == '"':
        end = text.find('"', at + 1)
        return (text[at + 1 : end], end + 1) if end > 0 else (None, at)
    bare = re.match(r"[A-Za-z0-9_.\-]+", text[at:])
    return (bare.group(0), at + bare.end()) if bare else (None, at)


def _clean(value: str) -> str:
    return " ".join(value.replace("{", "").replace("}", "").split())


def _surname(author: str) -> str:
    if "," in author:
        return author.split(",", 1)[0].strip()
    return author.split()[-1]


def _venue(fields: dict[str, str]) -> str | None:
    if fields.get("archiveprefix", "").lower() == "arxiv" and fields.get("eprint"):
        return f"arXiv:{fields['eprint']}"
    return fields.get("booktitle") or fields.get("journal")
