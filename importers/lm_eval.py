"""`taskseed import lm-eval`: lm-evaluation-harness task files -> taskseed task specs.

For each argument (a task, group or tag name, or a file or folder of lm-eval YAML) and
each `--family` (a folder of lm-eval's tasks, or a group or tag) the importer finds its
families (`lm_eval_families`), translates each member task (`lm_eval_translate`, which
follows Python hooks where it can), assembles one spec per family (`lm_eval_spec`) and
writes it to the output folder. Messages go to `err`, one line each; the table of what
became of every task (`lm_eval_report`) goes to `out`. It never overwrites a spec: a
finished spec holds hand work that a new import would lose.

With `refer` (`--hooks`), a row hook that cannot be translated is referenced instead of
left to finish by hand: its lm-eval file is copied to `hooks/` beside the spec.

The result is 0 when every family was imported whole, 1 when anything was skipped,
needs finishing by hand, or could not be read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from taskseed.importers.lm_eval_families import (
    Families,
    Family,
    FamilyFinder,
    ImportInputError,
)
from taskseed.importers.lm_eval_hooks import HookReader
from taskseed.importers.lm_eval_index import display, installed_version
from taskseed.importers.lm_eval_mapping import HOOKS_DIR, MULTIPLE_CHOICE, HookCopy
from taskseed.importers.lm_eval_report import Report
from taskseed.importers.lm_eval_spec import SpecContext, build_spec
from taskseed.importers.lm_eval_translate import Skip, Translation, translate
from taskseed.importers.lm_eval_yaml import LmEvalYamlError

OK, INCOMPLETE = 0, 1
PREFIX = "taskseed"


class Importer:
    def __init__(
        self, out_dir: Path, err: TextIO, finder: FamilyFinder, *, refer: bool = False
    ) -> None:
        self.out_dir = out_dir
        self.err = err
        self.finder = finder
        self.refer = refer
        self.hooks = HookReader(finder.root)
        self.report = Report()
        self.imported: list[Translation] = []  # the tasks of every spec written
        self.status = OK

    def say(self, message: str) -> None:
        print(message, file=self.err)

    def trouble(self, kind: str, message: str) -> None:
        self.say(f"{PREFIX}: {kind}: {message}")
        self.status = INCOMPLETE

    def show(self, path: Path) -> str:
        shown = display(path, self.finder.root)
        return shown + "/" if path.is_dir() else shown

    def run(self, targets: Sequence[str], families: Sequence[str] = ()) -> int:
        jobs: list[tuple[str, Callable[[str], Families]]] = [
            *((t, self.finder.resolve) for t in targets),
            *((f, self.finder.whole) for f in families),
        ]
        for target, find in jobs:
            try:
                found = find(target)
            except (ImportInputError, LmEvalYamlError) as exc:
                self.trouble("error", str(exc))
                continue
            for problem in found.problems:
                self.trouble("warning", problem)
            for family in found.found:
                self.family(family)
        return self.status

    def family(self, family: Family) -> None:
        translations: list[Translation] = []
        for member in family.members:
            name = str(member.get("task"))
            try:
                translations.append(
                    translate(member, self.finder.where, self.show, self.hooks, self.refer)
                )
            except Skip as skip:
                self.report.skipped(name, skip.kind, skip.reason)
                self.trouble("skipped", f"{name} {skip.reason} ({skip.origin})")
        if not translations:
            if len(family.members) > 1:
                self.trouble("error", f"nothing to import from {family.kind} `{family.name}`")
            return
        for part in self.split(family, translations):
            self.write(*part)

    def split(
        self, family: Family, translations: list[Translation]
    ) -> list[tuple[Family, list[Translation]]]:
        """A folder's template family holds one answer format per spec; any other family
        with mixed formats is an error (import its tasks one at a time)."""
        formats = sorted({t.format for t in translations})
        if len(formats) == 1 or family.kind != "folder":
            return [(family, translations)]
        parts = []
        for fmt in formats:
            chosen = [t for t in translations if t.format == fmt]
            suffix = "mc" if fmt == MULTIPLE_CHOICE else fmt
            named = Family(f"{family.name}_{suffix}", family.kind, family.source, [])
            parts.append((named, chosen))
        return parts

    def write(self, family: Family, translations: list[Translation]) -> None:
        ctx = SpecContext(self.out_dir, self.show, installed_version(), self.finder.root)
        try:
            spec = build_spec(family, translations, ctx)
        except ImportInputError as exc:
            for item in translations:
                self.report.failed(item.name, str(exc))
            self.trouble("error", str(exc))
            return
        path = self.out_dir / f"{spec.name}.yaml"
        if path.exists():
            for item in translations:
                self.report.failed(item.name, f"{self.show(path)} exists")
            self.trouble("error", f"{path} exists; delete it first to import `{family.name}` again")
            return
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.copy_hooks([c for t in translations for c in t.copies])
            path.write_text(spec.written.text, encoding="utf-8")
        except (OSError, ImportInputError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            self.trouble("error", f"cannot write {path}: {reason or exc}")
            return
        twins = dict(spec.left_out)
        self.imported.extend(translations)
        for item in translations:
            self.report.imported(item, self.show(path), twins.get(item.name))
        count = f"{spec.subtasks} subtask{'s' if spec.subtasks != 1 else ''}"
        self.say(f"wrote {path}: task `{spec.name}`, {count}, from {self.show(family.source)}")
        for name, twin in spec.left_out:
            self.say(f"{PREFIX}: note: left out {name} reads the same rows the same way as {twin}")
        for line, problem in spec.written.problems:
            self.trouble(
                "warning",
                f"{problem.origin}: {problem.message}; finish {path}:{line} by hand",
            )
        rows = f"rows of {spec.dataset}" if spec.dataset else "dataset rows"
        self.say(
            f"{path}: needs `seeds.fixture`: a JSON Lines file of 3-5 {rows} in the "
            "dataset's own row format (`taskseed validate` warns TS405 until then)"
        )

    def copy_hooks(self, copies: list[HookCopy]) -> None:
        """lm-eval's hook files, for the hooks a spec references (`--hooks`)."""
        for copy in copies:
            target = self.out_dir / HOOKS_DIR / copy.name
            source = copy.source.read_bytes()
            if target.exists():
                if target.read_bytes() != source:
                    raise ImportInputError(
                        f"{target} exists with other content; delete it to import its hooks"
                    )
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source)
            self.say(f"copied {self.show(copy.source)} to {target} (hooks run with --trust-hooks)")


def import_lm_eval(
    targets: Sequence[str],
    out_dir: Path,
    err: TextIO,
    finder: FamilyFinder | None = None,
    *,
    families: Sequence[str] = (),
    refer: bool = False,
    out: TextIO | None = None,
) -> int:
    importer = Importer(out_dir, err, finder or FamilyFinder.default(), refer=refer)
    status = importer.run(targets, families)
    if out is not None and importer.report.rows:
        out.write(importer.report.render())
    return status
