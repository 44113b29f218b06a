"""`taskseed import lm-eval`: lm-evaluation-harness task files -> taskseed task specs.

For each argument (a task, group or tag name, or a file or folder of lm-eval YAML) the
importer finds its families (`lm_eval_families`), translates each member task
(`lm_eval_translate`), assembles one spec per family (`lm_eval_spec`) and writes it to
the output folder. Everything it says goes to `err`, one line per message. It never
overwrites a spec: a finished spec holds hand work that a new import would lose.

The result is 0 when every family was imported whole, 1 when anything was skipped,
needs finishing by hand, or could not be read.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from taskseed.importers.lm_eval_families import Family, FamilyFinder, ImportInputError
from taskseed.importers.lm_eval_index import display, installed_version
from taskseed.importers.lm_eval_spec import SpecContext, build_spec
from taskseed.importers.lm_eval_translate import Skip, Translation, translate
from taskseed.importers.lm_eval_yaml import LmEvalYamlError

OK, INCOMPLETE = 0, 1
PREFIX = "taskseed"


class Importer:
    def __init__(self, out_dir: Path, err: TextIO, finder: FamilyFinder) -> None:
        self.out_dir = out_dir
        self.err = err
        self.finder = finder
        self.status = OK

    def say(self, message: str) -> None:
        print(message, file=self.err)

    def trouble(self, kind: str, message: str) -> None:
        self.say(f"{PREFIX}: {kind}: {message}")
        self.status = INCOMPLETE

    def show(self, path: Path) -> str:
        shown = display(path, self.finder.root)
        return shown + "/" if path.is_dir() else shown

    def run(self, targets: Sequence[str]) -> int:
        for target in targets:
            try:
                families = self.finder.resolve(target)
            except (ImportInputError, LmEvalYamlError) as exc:
                self.trouble("error", str(exc))
                continue
            for problem in families.problems:
                self.trouble("warning", problem)
            for family in families.found:
                self.family(family)
        return self.status

    def family(self, family: Family) -> None:
        translations: list[Translation] = []
        for member in family.members:
            try:
                translations.append(translate(member, self.finder.where, self.show))
            except Skip as skip:
                name = member.get("task")
                self.trouble("skipped", f"{name} {skip.reason} ({skip.origin})")
        if not translations:
            if len(family.members) > 1:
                self.trouble("error", f"nothing to import from {family.kind} `{family.name}`")
            return
        ctx = SpecContext(self.out_dir, self.show, installed_version())
        try:
            spec = build_spec(family, translations, ctx)
        except ImportInputError as exc:
            self.trouble("error", str(exc))
            return
        path = self.out_dir / f"{spec.name}.yaml"
        if path.exists():
            self.trouble("error", f"{path} exists; delete it first to import `{family.name}` again")
            return
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(spec.written.text, encoding="utf-8")
        except OSError as exc:
            self.trouble("error", f"cannot write {path}: {exc.strerror or exc}")
            return
        count = f"{spec.subtasks} subtask{'s' if spec.subtasks != 1 else ''}"
        self.say(f"wrote {path}: task `{spec.name}`, {count}, from {self.show(family.source)}")
        for twin in spec.left_out:
            self.say(f"{PREFIX}: note: left out {twin}")
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


def import_lm_eval(
    targets: Sequence[str], out_dir: Path, err: TextIO, finder: FamilyFinder | None = None
) -> int:
    return Importer(out_dir, err, finder or FamilyFinder.default()).run(targets)
