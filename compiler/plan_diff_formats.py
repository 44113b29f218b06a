"""Renderers of a plan diff: readable text, JSON, and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from taskseed.compiler.diagnostic_formats import escape_data, escape_property
from taskseed.compiler.plan_diff import ABSENT, STAGE_EFFECT, PlanDiff, UnitChange

RUN_KEY_NOTE = (
    "a unit's run key is its fingerprint plus the run's options (engine model, --seed, "
    "--limit-seeds, --fixtures, --max-tokens) and the contents of its held-out files; a "
    "plan holds neither, so a run with other options reruns every unit, and an edited "
    "held-out file reruns the units that read it"
)
ROOTS_HINT = (
    "every shared unit moved to another spec path: were the plans compiled from "
    "different roots? Compile both from the repository root (or pass --old-root/--new-root)"
)
MAX_DIFF_LINES = 200  # of one template, in text output
MAX_NAMED = 8  # unit IDs named for a group of units with the same change


def _value(value: Any) -> str:
    return "(none)" if value is ABSENT else json.dumps(value, ensure_ascii=False)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def counts_line(diff: PlanDiff) -> str:
    return (
        f"{len(diff.added)} added, {len(diff.removed)} removed, {len(diff.changed)} changed, "
        f"{diff.unchanged} unchanged"
    )


def rerun_line(diff: PlanDiff) -> str:
    if not diff.reruns:
        return "rerun: nothing runs again; every unit's staged result is reused"
    free = sum(1 for c in diff.changed if not c.new_requests)
    parts = [f"{len(diff.added)} added", f"{len(diff.changed)} changed"]
    if free:
        parts.append(f"{free} of them without a new engine request")
    verb = "runs" if diff.reruns == 1 else "run"
    return (
        f"rerun: {_plural(diff.reruns, 'unit')} {verb} again ({', '.join(parts)}); "
        f"{_plural(diff.unchanged, 'unchanged unit')} reused"
    )


def effect_line(change: UnitChange) -> str:
    stage = change.first_stage
    return f"runs again; first stage reached `{stage}`: {STAGE_EFFECT[stage]}"


def _detail_lines(change: UnitChange) -> list[str]:
    """What changed in a unit: settings, templates, fixture (not its fingerprint)."""
    lines = []
    if not change.paths:
        lines.append("no setting, template or fixture differs: compiled by other versions?")
    for setting in change.settings:
        lines.append(f"{setting.path}: {_value(setting.old)} -> {_value(setting.new)}")
    for template in change.templates:
        if template.old_origin is None:
            head = f"template {template.path} added ({template.new_origin})"
        elif template.new_origin is None:
            head = f"template {template.path} removed ({template.old_origin})"
        else:
            head = f"template {template.path} changed"
        lines.append(head + ":")
        shown = template.diff[:MAX_DIFF_LINES]
        lines.extend("  " + line for line in shown)
        if len(template.diff) > len(shown):
            lines.append(f"  ... {len(template.diff) - len(shown)} more diff lines")
    if change.fixture is not None:
        fx = change.fixture
        origin = fx.new_origin or fx.old_origin
        moved = (
            f", moved from {fx.old_origin}"
            if fx.old_origin and fx.new_origin and fx.old_origin != fx.new_origin
            else ""
        )
        lines.append(
            f"fixture {origin}: {_plural(fx.rows_added, 'row')} added, "
            f"{fx.rows_removed} removed{moved}"
        )
    return lines


def same_changes(changes: Sequence[UnitChange]) -> list[list[UnitChange]]:
    """Changed units grouped by identical changes (a shared template or default edited
    under many subtasks is one entry), in order of first appearance."""
    groups: dict[str, list[UnitChange]] = {}
    for change in changes:
        key = "\n".join([change.first_stage, *_detail_lines(change)])
        groups.setdefault(key, []).append(change)
    return list(groups.values())


def _names(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def _group_lines(group: Sequence[UnitChange], indent: str) -> list[str]:
    """A head line naming the unit(s), then the change, indented."""
    first = group[0]
    if len(group) == 1:
        head = f"~ {first.id}  ({first.origin})"
        effect = f"fingerprint {first.old_fingerprint} -> {first.new_fingerprint}: "
        effect += effect_line(first)
    else:
        head = f"~ {len(group)} units with the same change: {_names([c.id for c in group])}"
        effect = "each " + effect_line(first)
    return [head] + [indent + line for line in [effect, *_detail_lines(first)]]


def render_text(diff: PlanDiff) -> str:
    out = [
        f"plan {diff.old_fingerprint} -> {diff.new_fingerprint}",
        f"units: {counts_line(diff)}",
        rerun_line(diff),
    ]
    if diff.old_generator != diff.new_generator:
        out.append(f"compiled by {diff.old_generator} -> {diff.new_generator}")
    if not diff.same_roots:
        out.append(f"hint: {ROOTS_HINT}")
    listed = [("added", "+", diff.added), ("removed", "-", diff.removed)]
    for title, mark, units in listed:
        if not units:
            continue
        out += ["", f"{title}:"]
        width = max(len(u.id) for u in units)
        for u in units:
            out.append(f"  {mark} {u.id:<{width}}  {u.domain}, {u.family}  {u.origin}")
    if diff.changed:
        out += ["", "changed:"]
        for group in same_changes(diff.changed):
            out.extend("  " + line for line in _group_lines(group, "    "))
    out += ["", f"note: {RUN_KEY_NOTE}"]
    if diff.held_out_files:
        out[-1] += f" ({_plural(len(diff.held_out_files), 'unit')} here read held-out files)"
    return "\n".join(out) + "\n"


def as_dict(diff: PlanDiff) -> dict[str, Any]:
    def setting(path: str, old: Any, new: Any) -> dict[str, Any]:
        item: dict[str, Any] = {"path": path}
        if old is not ABSENT:
            item["old"] = old
        if new is not ABSENT:
            item["new"] = new
        return item

    def unit(change: UnitChange) -> dict[str, Any]:
        fx = change.fixture
        return {
            "id": change.id,
            "origin": change.origin,
            "fingerprint": {"old": change.old_fingerprint, "new": change.new_fingerprint},
            "runs_again": True,
            "first_stage": change.first_stage,
            "new_engine_requests": change.new_requests,
            "effect": STAGE_EFFECT[change.first_stage],
            "settings": [setting(s.path, s.old, s.new) for s in change.settings],
            "templates": [
                {
                    "path": t.path,
                    "old_origin": t.old_origin,
                    "new_origin": t.new_origin,
                    "diff": t.diff,
                }
                for t in change.templates
            ],
            "fixture": None
            if fx is None
            else {
                "old_origin": fx.old_origin,
                "new_origin": fx.new_origin,
                "rows_added": fx.rows_added,
                "rows_removed": fx.rows_removed,
            },
        }

    def summary(u: Any) -> dict[str, str]:
        return {
            "id": u.id,
            "origin": u.origin,
            "domain": u.domain,
            "family": u.family,
            "fingerprint": u.fingerprint,
        }

    return {
        "old": {"fingerprint": diff.old_fingerprint, "generator": diff.old_generator},
        "new": {"fingerprint": diff.new_fingerprint, "generator": diff.new_generator},
        "summary": {
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
            "unchanged": diff.unchanged,
            "runs_again": diff.reruns,
            "runs_again_without_new_requests": sum(1 for c in diff.changed if not c.new_requests),
        },
        "added": [summary(u) for u in diff.added],
        "removed": [summary(u) for u in diff.removed],
        "changed": [unit(c) for c in diff.changed],
        "held_out_files": diff.held_out_files,
        "same_roots": diff.same_roots,
        "note": RUN_KEY_NOTE,
    }


def render_json(diff: PlanDiff) -> str:
    return json.dumps(as_dict(diff), indent=2, ensure_ascii=False) + "\n"


def render_github(diff: PlanDiff) -> str:
    """Workflow commands: a summary notice, then one annotation per spec file (GitHub
    shows only a few annotations per step, so units of one file share one)."""
    title = f"taskseed plan diff: {counts_line(diff)}"
    lines = [f"::notice title={escape_property(title)}::{escape_data(rerun_line(diff))}"]
    if not diff.same_roots:
        lines.append(f"::warning title=taskseed plan diff::{escape_data(ROOTS_HINT)}")
    notices: dict[str, list[str]] = defaultdict(list)
    warnings: dict[str, list[str]] = defaultdict(list)
    units: Counter[str] = Counter()
    for u in diff.added:
        notices[u.origin].append(f"{u.id} added: it runs ({u.domain}, {u.family})")
        units[u.origin] += 1
    by_file: dict[str, list[UnitChange]] = defaultdict(list)
    for change in diff.changed:
        by_file[change.origin].append(change)
    for origin, changes in by_file.items():
        for group in same_changes(changes):
            notices[origin].append("\n".join(_group_lines(group, "  ")))
        units[origin] += len(changes)
    for u in diff.removed:
        warnings[u.origin].append(f"{u.id} removed: a run of this plan no longer makes its data")
    for level, groups in (("notice", notices), ("warning", warnings)):
        for origin in sorted(groups):
            messages = groups[origin]
            count = len(messages) if level == "warning" else units[origin]
            head = f"taskseed plan diff: {_plural(count, 'unit')} in this file"
            props = f"file={escape_property(origin)},title={escape_property(head)}"
            lines.append(f"::{level} {props}::{escape_data(chr(10).join(messages))}")
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[PlanDiff], str]] = {
    "text": render_text,
    "json": render_json,
    "github": render_github,
}
