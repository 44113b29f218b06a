"""What a spec may read, and how the compiler reads files.

Specs may come from pull requests, so every path a spec names (`extends`, named
templates, `seeds.fixture`, `seeds.files`, `decontaminate.files`) is checked before
anything is opened:

- it must resolve, symlinks followed, inside a *catalog root* or inside a folder given
  on the command line with `--allow-path`. The catalog root of a path given on the
  command line is the nearest folder at or above it that holds `_defaults.yaml`
  (looking no higher than a folder that holds `.git`), or else that folder itself (for
  a file: the file's folder). So `taskseed validate taskspecs/reasoning/arc.yaml` may
  read `taskspecs/_multiple_choice.yaml`, and nothing outside `taskspecs/`;
- inside a root, names that start with a dot (`.git/config`, `.env`) are refused too;
- names the file system cannot take (a NUL character, a name over 255 bytes, a path
  over 4096 bytes) are refused before any system call sees them;
- a file is read only when it is a regular file (never a device, FIFO or socket, which
  could block or never end) no larger than its kind's limit, and it must be UTF-8.

A refusal names the path as the spec wrote it and never shows what the file holds.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taskseed.compiler.source import LINE_BREAK, SourceFile

DEFAULTS_FILE = "_defaults.yaml"
REPOSITORY_MARK = ".git"

# Limits on what is read: the catalog's largest spec is under 8 KiB, its largest
# fixture under 8 KiB. YAML's pure-Python parser (used for error messages) reads
# 256 KiB in at most a few seconds.
MAX_SPEC_BYTES = 256 * 1024
MAX_TEMPLATE_BYTES = 256 * 1024
MAX_FIXTURE_BYTES = 4 * 1024 * 1024
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096

_GLOB = re.compile(r"[*?[]")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


class FileMissing(Exception):
    """The file does not exist (each caller words this in its own diagnostic)."""


class FileRefused(Exception):
    """The file exists but is not read: a diagnostic code, a message, and for text
    that is not UTF-8 the 1-based line and column of the first bad byte."""

    def __init__(self, code: str, message: str, at: tuple[int, int] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.at = at


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a path a spec names is not used."""

    code: str
    message: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Located:
    """A path a spec named, checked: as written (normalized) and its real path."""

    path: Path
    real: str


def catalog_root(path: Path) -> Path:
    """The catalog root of a path given on the command line (see the module's doc)."""
    given = Path(os.path.abspath(path))
    try:
        folder_given = given.is_dir()
    except OSError:
        folder_given = False
    # The folders as written, walked up before symlinks are resolved: neither a spec
    # file nor a folder that is a symlink moves the root of the catalog it sits in.
    start = given if folder_given else given.parent
    found = start
    for folder in (start, *start.parents):
        try:
            if (folder / DEFAULTS_FILE).is_file():
                found = folder
                break
            if (folder / REPOSITORY_MARK).exists():
                break
        except OSError:
            break
    return Path(os.path.realpath(found))


def inside(real: str, root: str) -> bool:
    """Whether a real path is `root` or lies below it."""
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def name_problem(written: str) -> str | None:
    """Why the file system cannot take a path, or None."""
    if not written.strip():
        return "the path is empty"
    if "\0" in written:
        return "the path contains a NUL character"
    try:
        encoded = os.fsencode(written)
    except UnicodeError:
        return "the path is not valid text for a file name"
    if len(encoded) > MAX_PATH_BYTES:
        return f"the path is longer than {MAX_PATH_BYTES} bytes"
    for part in encoded.replace(b"\\", b"/").split(b"/"):
        if len(part) > MAX_NAME_BYTES:
            return f"a file name in the path is longer than {MAX_NAME_BYTES} bytes"
    return None


@dataclass(frozen=True)
class Catalog:
    """The folders a compile may read: catalog roots and `--allow-path` folders."""

    roots: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    # Checked paths by (folder, path as written): every subtask of a matrix names the
    # same fixture, and resolving symlinks costs a system call per path component.
    _checked: dict[tuple[str, str], Located | Refusal] = field(
        default_factory=dict, compare=False, repr=False
    )

    @staticmethod
    def of(inputs: Iterable[Path], allow: Sequence[Path] = ()) -> Catalog:
        roots = tuple(dict.fromkeys(str(catalog_root(p)) for p in inputs))
        allowed = tuple(dict.fromkeys(os.path.realpath(p) for p in allow))
        return Catalog(roots, allowed)

    @property
    def folders(self) -> tuple[str, ...]:
        return (*self.roots, *self.allowed)

    def container(self, real: str) -> str | None:
        """The outermost root or allowed folder that holds a real path, if any."""
        holding = [f for f in self.folders if inside(real, f)]
        return min(holding, key=len) if holding else None

    def shown(self) -> str:
        from taskseed.compiler.source import display_path

        names = [display_path(Path(f)) + "/" for f in self.roots]
        text = " or ".join(f"`{n}`" for n in names) or "the catalog"
        if self.allowed:
            text += " or a folder given with --allow-path"
        return text

    def locate(self, base: Path, written: str) -> Located | Refusal:
        """Check `written` (as a spec wrote it, relative to the folder `base`)."""
        key = (str(base), written)
        found = self._checked.get(key)
        if found is None:
            found = self._checked[key] = self._locate(base, written)
        return found

    def _locate(self, base: Path, written: str) -> Located | Refusal:
        problem = name_problem(written)
        if problem is not None:
            return Refusal("TS307", f"cannot use the path `{_short(written)}`: {problem}")
        joined = os.path.normpath(os.path.join(os.path.abspath(base), written))
        real = os.path.realpath(joined)
        holder = self.container(real)
        if holder is None:
            how = "is absolute and " if os.path.isabs(written) else ""
            through = "" if self.container(joined) is None else " through a symlink"
            return Refusal(
                "TS306",
                f"`{_short(written)}` {how}leads outside the catalog{through}",
                (
                    f"paths in a spec must stay inside {self.shown()}; "
                    "add a folder with --allow-path DIR to read from it",
                ),
            )
        hidden = next(
            (part for part in Path(os.path.relpath(real, holder)).parts if part.startswith(".")),
            None,
        )
        if hidden is not None and hidden not in (".", ".."):
            return Refusal(
                "TS308",
                f"`{_short(written)}` leads to `{_short(hidden)}`: names that start with a dot "
                "are not read",
            )
        return Located(Path(joined), real)

    def check_pattern(self, base: Path, written: str) -> Refusal | None:
        """Check a path that may be a glob pattern (`data/*.parquet`): the folder before
        its first wildcard must pass `locate`, and no part of it may start with a dot."""
        problem = name_problem(written)
        if problem is not None:
            return Refusal("TS307", f"cannot use the path `{_short(written)}`: {problem}")
        normal = os.path.normpath(written)
        parts = Path(normal).parts
        magic = next((i for i, part in enumerate(parts) if _GLOB.search(part)), len(parts))
        hidden = next((part for part in parts[magic:] if part.startswith(".")), None)
        if hidden is not None:
            return Refusal(
                "TS308",
                f"`{_short(written)}` matches names that start with a dot (`{_short(hidden)}`), "
                "which are not read",
            )
        prefix = os.path.join(*parts[:magic]) if magic else "."
        located = self.locate(base, prefix)
        if isinstance(located, Refusal) and prefix != normal:
            # Word the refusal with the path as written, not its folder.
            return Refusal(
                located.code,
                located.message.replace(f"`{_short(prefix)}`", f"`{_short(written)}`", 1),
                located.notes,
            )
        return located if isinstance(located, Refusal) else None

    def admits(self, path: Path) -> Refusal | None:
        """Whether a spec file found on the command line may be read (symlinks that
        leave every root are refused)."""
        real = os.path.realpath(path)
        if self.container(real) is None:
            return Refusal(
                "TS306",
                f"{path.as_posix()} is a symlink that leads outside the catalog",
                (f"spec files must stay inside {self.shown()}",),
            )
        return None


def _short(text: str, limit: int = 80) -> str:
    """A path as shown in a message: control characters escaped, long ones cut."""
    shown = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def read_bytes(real: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; never blocks.

    Raises FileMissing, or FileRefused (TS108 not a regular file, TS107 too large,
    TS101 unreadable)."""
    try:
        info = os.stat(real)
    except FileNotFoundError:
        raise FileMissing(real) from None
    except OSError as exc:
        raise FileRefused("TS101", f"cannot read the file: {exc.strerror}") from None
    kind = _kind(info.st_mode)
    if kind is not None:
        raise FileRefused("TS108", f"not a regular file but {kind}")
    if info.st_size > limit:
        raise FileRefused("TS107", f"the file is larger than {_size(limit)}")
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except FileNotFoundError:
        raise FileMissing(real) from None
    except OSError as exc:
        raise FileRefused("TS101", f"cannot read the file: {exc.strerror}") from None
    try:
        opened = os.fstat(fd)
        kind = _kind(opened.st_mode)
        if kind is not None:  # it changed since the stat above
            raise FileRefused("TS108", f"not a regular file but {kind}")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileRefused("TS101", f"cannot read the file: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileRefused("TS107", f"the file is larger than {_size(limit)}")
    return data


def decode(data: bytes) -> str:
    """UTF-8 text without a leading byte-order mark; FileRefused (TS106) at the first
    byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8", errors="replace")
        breaks = list(LINE_BREAK.finditer(before))
        line = len(breaks) + 1
        col = len(before) - (breaks[-1].end() if breaks else 0) + 1
        if before.startswith("\ufeff") and line == 1:
            col -= 1
        raise FileRefused(
            "TS106",
            f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} at line {line}, "
            f"column {col}",
            (line, col),
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_source(path: Path, real: str, limit: int) -> SourceFile:
    """A text file as a SourceFile named as users see `path` (see `read_bytes`)."""
    return SourceFile.from_text(path, decode(read_bytes(real, limit)))


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
