"""The output folder as a Hugging Face dataset: `out/README.md`, a dataset card.

The card's YAML metadata makes `datasets.load_dataset(<out>)` load the data with one
config per family (`multiple_choice`, `generative`; the first one present is the
default) from the data files the manifest lists, and tells the Hub the seed datasets'
licences, the task categories, the size category and, where the plan records it, the
language. Its body names the tasks with their citations, the model and engine, the
plan fingerprint and the funnel.

Inputs: the plan, the manifest (`finalize.py`: `units` with their `counts`, `files`,
`engine`, `run`, `tokens`, `timings`, `rejects`; missing sections are left out of the
card) and the output folder. Only the units the manifest lists are described.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, Unit
from taskseed.contract.records import OutputRecord
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.progress import FUNNEL

CARD = "README.md"
FAMILIES = ("multiple_choice", "generative")
TASK_CATEGORIES = {
    "multiple_choice": ("multiple-choice", "question-answering"),
    "generative": ("question-answering", "text-generation"),
}
# The Hub's size categories: (upper bound, name); more than the last bound is "n>1T".
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
    (10_000_000_000, "1B<n<10B"),
    (100_000_000_000, "10B<n<100B"),
    (1_000_000_000_000, "100B<n<1T"),
)
# Licence identifiers the Hub knows (https://huggingface.co/docs/hub/repositories-licenses)
# that seed datasets use; a spec's SPDX id is matched case-insensitively.
# fmt: off
HUB_LICENSES = frozenset(
    {
        "apache-2.0", "mit", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause",
        "bsd-3-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc0-1.0", "cc-by-2.0",
        "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0",
        "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "cdla-sharing-1.0",
        "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
        "etalab-2.0", "eupl-1.1", "agpl-3.0", "gfdl", "gpl", "gpl-2.0", "gpl-3.0", "lgpl",
        "lgpl-2.1", "lgpl-3.0", "isc", "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by", "odbl",
        "osl-3.0", "postgresql", "ofl-1.1", "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr",
        "unknown", "other",
    }
)
# fmt: on
# What each field of a written record holds (a test keeps this in step with the record).
FIELDS = {
    "id": "stable record ID (a hash of the unit, seed, kind and sample)",
    "task": "the task the seed came from",
    "subtask": "the subtask (a dataset config, subject or language)",
    "domain": "`knowledge` or `reasoning`",
    "kind": "`similar_question`, `answer_enriched` (with a reasoning trace) or "
    "`context_enriched` (with background or a passage)",
    "family": "`multiple_choice` or `generative` (the config it is in)",
    "question": "the generated question",
    "context": "a passage the question is about, where the task has one",
    "choices": "the options, for multiple choice",
    "answer": "the answer as text (for multiple choice, the correct option's text)",
    "answer_index": "the correct option's position in `choices`",
    "answer_label": "the correct option's label (A, B, ... or 1, 2, ...)",
    "rationale": "a reasoning trace that ends in the answer",
    "tests": "test statements a code answer passes",
    "seed_id": "the seed row the item was made from",
    "parent_id": "for enriched items, the similar question they enrich",
    "verification": "the majority vote: status, k, votes, majority, agreement, method",
    "judgement": "where the task has an LLM judge: k, mean score per criterion, overall, "
    "threshold, abstained samples, verdicts",
    "unit_fingerprint": "the plan unit's fingerprint (what made it)",
    "model": "the model that generated it",
    "license": "the seed dataset's licence, which the item inherits",
}


def licence_id(text: str) -> str:
    """A spec's licence (`CC-BY-4.0`, `unknown (the card says ...)`) as the Hub's id,
    or "" when the Hub has no identifier for it."""
    head = text.split("(", 1)[0].strip().lower()
    return head if head in HUB_LICENSES else ""


def size_category(records: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if records < bound:
            return name
    return "n>1T"


def _languages(units: Sequence[Unit]) -> list[str]:
    """Languages the plan records per unit (a later plan field); none when absent."""
    found: set[str] = set()
    for unit in units:
        value = getattr(unit, "language", None)
        if isinstance(value, str) and value:
            found.add(value)
        elif isinstance(value, list | tuple):
            found.update(v for v in value if isinstance(v, str) and v)
    return sorted(found)


def _family_files(manifest: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_family: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in manifest.get("files", []):
        parts = PurePosixPath(entry["path"]).parts
        if len(parts) >= 3 and parts[0] == "data" and parts[1] in FAMILIES:
            by_family[parts[1]].append(entry)
    return {f: by_family[f] for f in FAMILIES if by_family.get(f)}


def metadata(plan: Plan, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML metadata, in the order it is written."""
    units = _source_units(plan, manifest)
    families = _family_files(manifest)
    records = sum(f.get("records", 0) for files in families.values() for f in files)
    ids = sorted({licence_id(u.source.license) or "other" for u in units})
    data: dict[str, Any] = {"pretty_name": "Task-seeded synthetic questions (taskseed)"}
    if "other" in ids or not ids:
        data["license"] = "other"
        data["license_name"] = "seed-dataset-licences"
    else:
        data["license"] = ids[0] if len(ids) == 1 else ids
    languages = _languages(units)
    if languages:
        data["language"] = languages
    data["task_categories"] = sorted({c for f in families for c in TASK_CATEGORIES[f]})
    data["size_categories"] = [size_category(records)]
    data["tags"] = ["synthetic", "taskseed"]
    configs = []
    for index, (family, files) in enumerate(families.items()):
        suffix = PurePosixPath(files[0]["path"]).suffix
        config: dict[str, Any] = {
            "config_name": family,
            "data_files": [{"split": "train", "path": f"data/{family}/part-*{suffix}"}],
        }
        if index == 0:
            config["default"] = True
        configs.append(config)
    data["configs"] = configs
    return data


def _described_units(plan: Plan, manifest: Mapping[str, Any]) -> list[Unit]:
    """The units the run covered."""
    listed = manifest.get("units", {})
    return [u for u in plan.units if u.id in listed]


def _source_units(plan: Plan, manifest: Mapping[str, Any]) -> list[Unit]:
    """The units whose records are in the dataset: their licences, languages and
    citations apply to it (every unit run, when none wrote a record or the manifest
    does not count them)."""
    listed = manifest.get("units", {})
    units = _described_units(plan, manifest)
    counted = [listed[u.id].get("counts", {}) for u in units]
    if not all("written" in c for c in counted):
        return units
    return [u for u, c in zip(units, counted, strict=True) if c["written"] > 0] or units


def _yaml(data: Mapping[str, Any]) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    stream = io.StringIO()
    yaml.dump(dict(data), stream)
    return stream.getvalue()


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def body(plan: Plan, manifest: Mapping[str, Any], folder_name: str) -> str:
    units = _described_units(plan, manifest)
    families = _family_files(manifest)
    records = {f: sum(e.get("records", 0) for e in files) for f, files in families.items()}
    tasks: dict[str, list[Unit]] = defaultdict(list)
    for unit in units:
        tasks[unit.task].append(unit)
    sections = [
        _intro(plan, tasks, units),
        _summary(plan, manifest, records),
        _loading(families, folder_name),
        _configs(families, records),
        _tasks(tasks, manifest),
        _funnel(manifest),
        _licences(_source_units(plan, manifest)),
        _citations(_source_units(plan, manifest)),
        _fields(),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _intro(plan: Plan, tasks: Mapping[str, list[Unit]], units: Sequence[Unit]) -> list[str]:
    scope = f"{_count(len(tasks), 'public task')} ({_count(len(units), 'subtask')})"
    return [
        "# Task-seeded synthetic questions",
        "",
        f"Generated by {plan.generator} from the training splits of {scope}: a language "
        "model wrote new questions that "
        "keep each seed's skill and answer format but change its content; answers were "
        "verified by a majority vote of sampled answers (code by running its tests), "
        "enriched with reasoning and context, filtered, decontaminated against held-out "
        "evaluation items and deduplicated. Every dropped item is in `rejects/` with its "
        "stage and reason.",
    ]


def _summary(plan: Plan, manifest: Mapping[str, Any], records: Mapping[str, int]) -> list[str]:
    engine = dict(manifest.get("engine", {}))
    by_family = ", ".join(f"{f} {n}" for f, n in records.items())
    rows: list[tuple[str, object]] = [
        ("records", f"{sum(records.values())} ({by_family})" if records else "0"),
        ("model", engine.pop("model", "unknown")),
        ("engine", _engine_text(engine)),
        ("plan fingerprint", f"`{plan.fingerprint}` (`plan.json` beside this card)"),
        ("seeds", _seeds_text(manifest.get("run", {}))),
    ]
    tokens = manifest.get("tokens", {})
    if tokens:
        prompt, completion = tokens.get("prompt", 0), tokens.get("completion", 0)
        rows.append(("tokens", f"{prompt} prompt, {completion} completion"))
    timings = manifest.get("timings", {})
    if "seconds" in timings:
        rows.append(("wall time", f"{timings['seconds']:.1f} s"))
    return _table(["", ""], rows)


def _loading(families: Mapping[str, Any], folder_name: str) -> list[str]:
    calls = [f'{f} = load_dataset("{folder_name}", "{f}", split="train")' for f in families]
    default = f"`{next(iter(families))}` is the default config. " if families else ""
    return [
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        *calls,
        "```",
        "",
        f"The path is this folder's (or the Hub repository it was uploaded to). {default}"
        "`report.html` shows the run's funnel, rejects and throughput.",
    ]


def _configs(families: Mapping[str, list[dict[str, Any]]], records: Mapping[str, int]) -> list[str]:
    rows = []
    for family, files in families.items():
        paths = ", ".join(f"`{e['path']}`" for e in files[:3])
        rows.append(
            (f"`{family}`", len(files), records[family], paths + (" ..." * (len(files) > 3)))
        )
    return ["## Configs", "", *_table(["config", "files", "records", "data files"], rows)]


def _tasks(tasks: Mapping[str, list[Unit]], manifest: Mapping[str, Any]) -> list[str]:
    written = Counter[str]()
    for unit_id, info in manifest.get("units", {}).items():
        written[unit_id.split("/", 1)[0]] += info.get("counts", {}).get("written", 0)
    header = ["task", "title", "domain", "family", "subtasks", "records", "seed dataset"]
    header += ["data kinds", "licence"]
    rows = []
    for task, members in sorted(tasks.items()):
        first = members[0]
        kinds = sorted({s.kind for u in members for s in u.steps})
        rows.append(
            (
                f"`{task}`",
                first.title,
                first.domain,
                first.family,
                len(members),
                written[task],
                first.seeds.dataset or "(local files)",
                ", ".join(kinds),
                _licence_text(first.source.license),
            )
        )
    return ["## Tasks", "", *_table(header, rows)]


def _funnel(manifest: Mapping[str, Any]) -> list[str]:
    funnel: dict[str, Counter[str]] = defaultdict(Counter)
    for unit_id, info in manifest.get("units", {}).items():
        funnel[unit_id.split("/", 1)[0]].update(info.get("counts", {}))
    rows = [(f"`{t}`", *(c.get(k, 0) for k, _ in FUNNEL)) for t, c in sorted(funnel.items())]
    if len(funnel) > 1:
        total = sum(funnel.values(), Counter[str]())
        rows.append(("**all**", *(total.get(k, 0) for k, _ in FUNNEL)))
    lines = ["## Funnel", "", "Items per stage, summed over each task's subtasks.", ""]
    lines += _table(["task", *(label for _, label in FUNNEL)], rows)
    by_stage = manifest.get("rejects", {}).get("by_stage", {})
    if by_stage:
        stages = ", ".join(f"{s} {n}" for s, n in by_stage.items())
        lines += ["", f"Rejects by stage: {stages}."]
    return lines


def _citations(units: Sequence[Unit]) -> list[str]:
    cited: dict[tuple[str, str | None, str | None], list[str]] = defaultdict(list)
    for unit in sorted(units, key=lambda u: u.id):
        key = (unit.title, unit.source.citation, unit.source.url)
        if unit.task not in cited[key]:
            cited[key].append(unit.task)
    lines = ["## Citations", "", "Cite the seed datasets when you use this data:", ""]
    for (title, citation, url), names in cited.items():
        cite = citation or "no citation given in the spec"
        line = f"- **{title}** ({', '.join(f'`{n}`' for n in names)}): {cite}"
        lines.append(line + (f" <{url}>" if url else ""))
    return lines


def _fields() -> list[str]:
    names = [f.name for f in msgspec.structs.fields(OutputRecord)]
    rows = [(f"`{n}`", FIELDS.get(n, "")) for n in names]
    return ["## Fields", "", *_table(["field", "meaning"], rows)]


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _engine_text(engine: Mapping[str, Any]) -> str:
    name = engine.get("engine", "unknown")
    rest = {k: v for k, v in engine.items() if k != "engine" and v not in (None, "", {}, [])}
    return f"`{name}`" + (
        " (" + ", ".join(f"{k} {v}" for k, v in rest.items()) + ")" if rest else ""
    )


def _seeds_text(run: Mapping[str, Any]) -> str:
    source = "the tasks' offline fixture rows" if run.get("fixtures") else "the tasks' datasets"
    parts = [source]
    if run.get("limit_seeds"):
        parts.append(f"at most {run['limit_seeds']} per subtask")
    if "seed" in run:
        parts.append(f"run seed {run['seed']}")
    return ", ".join(parts)


def _licence_text(licence: str) -> str:
    return licence if licence_id(licence) != "unknown" else f"**{licence}**"


def _licences(units: Sequence[Unit]) -> list[str]:
    by_licence: dict[str, set[str]] = defaultdict(set)
    for unit in units:
        by_licence[unit.source.license].add(unit.task)
    text = (
        "Generated items derive from their seeds and keep the seed dataset's terms "
        "(each record's `license` field names it)."
    )
    if any(licence_id(u.source.license) in ("", "other") for u in units):
        text += (
            " Some of these licences have no Hub identifier, so the metadata says "
            "`license: other`; this list is what it stands for."
        )
    out = ["## Licences", "", text, ""]
    for licence, names in sorted(by_licence.items()):
        note = ""
        if licence_id(licence) == "unknown":
            note = " (unknown: check the seed dataset's terms before use)"
        out.append(f"- {licence}{note}: " + ", ".join(f"`{n}`" for n in sorted(names)))
    return out


def render_card(plan: Plan, manifest: Mapping[str, Any], folder_name: str = "out") -> str:
    return "---\n" + _yaml(metadata(plan, manifest)) + "---\n\n" + body(plan, manifest, folder_name)


def write_card(plan: Plan, manifest: Mapping[str, Any], out: Path) -> Path:
    """Write `out/README.md`; return its path."""
    path = out / CARD
    write_atomic(path, render_card(plan, manifest, out.resolve().name).encode())
    return path
