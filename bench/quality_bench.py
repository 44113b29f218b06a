"""`make bench-quality`: the quality gate against an audit set labelled by hand.

`bench/quality/audit.jsonl` holds items the embedded model (SmolLM2-135M on llama.cpp)
generated with the real pipeline over the catalog's fixture seeds, each labelled
`keep` or `drop` by a person who read it, with the reason (bench/quality/README.md).
This bench compiles the catalog, runs each item through its subtask's filters as they
are now, and prints:

1. per check (by its reason code): how many items it refuses, its precision (the share
   of those labelled `drop`) and its recall (the share of all `drop` items it refuses);
2. the whole gate, the filters alone, then with the majority vote (recorded with each
   item when it was collected) and the dedup stage's test against the subtask's seeds
   (a near copy of a seed is never written): precision and recall of what it keeps
   against the `keep` labels, and of what it refuses against the `drop` labels;
3. the funnel before and after: the filters the catalog had before the quality checks
   (character bounds, option count, answer among the options, options distinct after
   case and spaces, `forbid`), then the vote and dedup, beside the filters now, then
   the vote and dedup.

4. the catalog's own seeds, every fixture row of every subtask: real items, so a check
   that refuses one refuses a good item (apart from the rows of a language matrix's
   shared fixture that are in another language than their subtask).

The goal set for the gate: at least 90% of the kept items labelled `keep`, and at least
80% of the `keep` items kept.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from taskseed.compiler.driver import compile_paths
from taskseed.contract.mapping import compile_expr, normalize
from taskseed.contract.plan import Plan, Unit
from taskseed.runtime.dedup import NearDuplicates, item_text
from taskseed.runtime.filters import checks, frame

REPO = Path(__file__).resolve().parent.parent
AUDIT = REPO / "bench" / "quality" / "audit.jsonl"
GOAL_PRECISION, GOAL_RECALL = 0.90, 0.80

# The checks of the catalog's defaults before the quality gate (for the funnel's
# "before"): character bounds per format, option count, the answer among the options,
# options distinct after case and surrounding spaces, and the refusal phrases.
BEFORE_CHARS = {"question": (12, 6000), "context": (40, 12000)}
BEFORE_ANSWER = {"numeric": (1, 40), "short_answer": (1, 120)}
BEFORE_FORBID = re.compile(r"(?i)\b(as an ai|i cannot|i can't help)\b")


def load(path: Path) -> list[dict[str, Any]]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    unlabelled = [item["key"] for item in items if item.get("label") not in ("keep", "drop")]
    if unlabelled:
        raise SystemExit(f"{len(unlabelled)} items have no label, e.g. {unlabelled[:3]}")
    return items


def code_of(reason: str) -> str:
    return reason[1 : reason.index("]")] if reason.startswith("[") else reason


def verdicts(plan: Plan, items: list[dict[str, Any]]) -> list[tuple[str | None, set[str]]]:
    """Per item: the gate's reason (the first failing check) and every failing check."""
    by_unit: dict[str, list[int]] = defaultdict(list)
    for index, item in enumerate(items):
        by_unit[item["unit"]].append(index)
    out: list[tuple[str | None, set[str]]] = [(None, set()) for _ in items]
    for unit_id, indexes in by_unit.items():
        unit = plan.unit(unit_id)
        pairs = checks(unit.filters, unit.format)
        if not pairs:
            continue
        rows = [{**items[i], "id": items[i]["key"]} for i in indexes]
        columns: list[pl.Expr] = []
        for n, (reason, passes) in enumerate(pairs):
            columns.append(passes.alias(f"ok{n}"))
            text = pl.lit(reason) if isinstance(reason, str) else reason
            columns.append(text.alias(f"why{n}"))
        result = frame(rows).lazy().select(columns).collect()
        for row_number, index in enumerate(indexes):
            failed: list[str] = []
            for n in range(len(pairs)):
                if not result[f"ok{n}"][row_number]:
                    failed.append(str(result[f"why{n}"][row_number]))
            out[index] = (failed[0] if failed else None, {code_of(r) for r in failed})
    return out


def before(unit: Unit, item: dict[str, Any]) -> str | None:
    """The reason the filters of the catalog before the quality gate refuse an item."""
    bounds = dict(BEFORE_CHARS)
    bounds["answer"] = BEFORE_ANSWER.get(unit.format.type, (1, 4000))
    for name, own in unit.filters.bounds.items():  # a task's own bounds (its overrides)
        low, high = bounds.get(name, (None, None))
        bounds[name] = (own.min if own.min is not None else low, own.max or high)
    options = bounds.pop("options", (2, 10))
    for name, (low, high) in bounds.items():
        value = item.get(name)
        if value is not None and not (low or 0) <= len(value) <= (high or len(value)):
            return f"[chars] {name}"
    choices = item.get("choices")
    if unit.format.type == "multiple_choice":
        if choices is None or not (options[0] or 0) <= len(choices) <= (options[1] or 26):
            return "[options]"
        if item["answer"] not in choices:
            return "[answer-options]"
        if len({c.lower().strip() for c in choices}) != len(choices):
            return "[duplicate-options]"
    if BEFORE_FORBID.search(item["question"] or ""):
        return "[forbid]"
    return None


def seed_copies(plan: Plan, items: list[dict[str, Any]]) -> list[bool]:
    """Whether each item is a near copy of one of its subtask's seeds (the fixture rows
    the subtask keeps), by the unit's own dedup settings, as the dedup stage tests it."""
    indexes: dict[str, NearDuplicates] = {}
    out = []
    for item in items:
        unit = plan.unit(item["unit"])
        if unit.id not in indexes:
            index = NearDuplicates(unit.dedup)
            rows = plan.fixtures[unit.seeds.fixture].rows if unit.seeds.fixture else []
            keep = compile_expr(unit.seeds.where) if unit.seeds.where else None
            for number, row in enumerate(rows):
                if keep is not None and not keep(row):
                    continue
                seed = normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
                fields = {name: getattr(seed, name) for name in unit.dedup.fields}
                index.add(f"seed{number}", item_text(fields, unit.dedup.fields))
            indexes[unit.id] = index
        text = item_text(item, unit.dedup.fields)
        out.append(unit.dedup.enabled and indexes[unit.id].first_match(text) is not None)
    return out


def voted(item: dict[str, Any]) -> bool | None:
    """Whether the item passed its majority vote: enriched items are made only from
    items that did; None when the vote is unknown."""
    if item["kind"] != "similar_question":
        return True
    vote = item.get("vote")
    return None if vote is None else bool(vote["passed"])


def ratio(hits: int, total: int) -> str:
    return f"{hits / total:6.1%} ({hits:>3}/{total:<3})" if total else "     -          "


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else AUDIT
    items = load(path)
    result = compile_paths([REPO / "taskspecs"], root=REPO)
    if result.plan is None:
        raise SystemExit([d.message for d in result.diagnostics])
    plan = result.plan
    keep = [item["label"] == "keep" for item in items]
    drops = sum(not k for k in keep)
    tasks = Counter(item["unit"].split("/")[0] for item in items)
    languages = Counter(plan.unit(item["unit"]).filters.language.code or "?" for item in items)
    kinds = Counter(item["kind"] for item in items)
    print(f"audit set: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    print(f"  {len(items)} items, {sum(keep)} labelled keep, {drops} drop")
    print(f"  {len(tasks)} tasks: " + ", ".join(f"{t} {n}" for t, n in sorted(tasks.items())))
    print("  languages: " + ", ".join(f"{c} {n}" for c, n in languages.most_common()))
    print("  kinds: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))

    found = verdicts(plan, items)
    flagged: dict[str, list[int]] = defaultdict(list)
    for index, (_, codes) in enumerate(found):
        for code in codes:
            flagged[code].append(index)
    print("\n1. each check on its own (an item may fail several)")
    print(f"   {'check':<26}{'refuses':>8}   {'precision (drop)':<18}{'recall (of drops)':<18}")
    for code in sorted(flagged, key=lambda c: -len(flagged[c])):
        hits = [i for i in flagged[code] if not keep[i]]
        print(
            f"   {code:<26}{len(flagged[code]):>8}   {ratio(len(hits), len(flagged[code]))}  "
            f"{ratio(len(hits), drops)}"
        )
    first = Counter(code_of(reason) for reason, _ in found if reason is not None)
    print("   first failing check (the reason written): " + ", ".join(
        f"{code} {n}" for code, n in first.most_common()
    ))  # fmt: skip

    votes = [voted(item) for item in items]
    unknown = sum(v is None for v in votes)
    copies = seed_copies(plan, items)
    passes = [v is True and not c for v, c in zip(votes, copies, strict=True)]
    filters_keep = [reason is None for reason, _ in found]
    gate_keep = [f and p for f, p in zip(filters_keep, passes, strict=True)]
    before_keep = [before(plan.unit(item["unit"]), item) is None for item in items]
    before_gate = [b and p for b, p in zip(before_keep, passes, strict=True)]
    unvoted_before = sum(b and v is None for b, v in zip(before_keep, votes, strict=True))
    print(
        f"\n2. the whole gate ({sum(copies)} items are near copies of a seed"
        + (f"; {unknown} without a vote count as refused)" if unknown else ")")
    )
    if unvoted_before:
        print(
            f"   ({unvoted_before} items that pass the filters before have no vote: the runs "
            "voted on what passed their filters, the filters now)"
        )
    print(f"   {'':<30}{'kept':>5}   {'keep-precision':<18}{'keep-recall':<18}{'drop-recall':<18}")
    for name, kept in (
        ("filters before", before_keep),
        ("filters before, vote, dedup", before_gate),
        ("filters now", filters_keep),
        ("filters now, vote, dedup", gate_keep),
    ):
        good = sum(k and label for k, label in zip(kept, keep, strict=True))
        caught = sum((not k) and (not label) for k, label in zip(kept, keep, strict=True))
        print(
            f"   {name:<30}{sum(kept):>5}   {ratio(good, sum(kept))}  {ratio(good, sum(keep))}  "
            f"{ratio(caught, drops)}"
        )
    good = sum(k and label for k, label in zip(gate_keep, keep, strict=True))

    def verdict(hits: int, total: int, goal: float) -> str:
        if not total:
            return "undefined: nothing to count"
        return f"{hits / total:.1%}, {'met' if hits / total >= goal else 'not met'}"

    print(
        f"   goal: keep-precision >= {GOAL_PRECISION:.0%} "
        f"({verdict(good, sum(gate_keep), GOAL_PRECISION)}), keep-recall >= "
        f"{GOAL_RECALL:.0%} ({verdict(good, sum(keep), GOAL_RECALL)})"
    )
    missed = Counter(
        tag
        for item, kept, label in zip(items, gate_keep, keep, strict=True)
        if kept and not label
        for tag in item.get("tags", ["untagged"])
    )
    if missed:
        print("   drops the gate keeps, by defect: " + ", ".join(
            f"{tag} {n}" for tag, n in missed.most_common()
        ))  # fmt: skip
    lost = Counter(
        code_of(reason)
        for (reason, _), label in zip(found, keep, strict=True)
        if label and reason is not None
    )
    if lost:
        print("   keeps the filters refuse, by check: " + ", ".join(
            f"{code} {n}" for code, n in lost.most_common()
        ))  # fmt: skip

    print("\n3. funnel (enriched items pass the vote with the item they explain)")
    for name, kept_filters in (("before", before_keep), ("now", filters_keep)):
        voted_ok = [k and v is True for k, v in zip(kept_filters, votes, strict=True)]
        deduped = [k and not c for k, c in zip(voted_ok, copies, strict=True)]
        good = sum(k and label for k, label in zip(deduped, keep, strict=True))
        print(
            f"   {name:<7} items {len(items):>4} -> filters {sum(kept_filters):>4} -> vote "
            f"{sum(voted_ok):>4} -> not a seed copy {sum(deduped):>4} "
            f"(labelled keep among them: {good})"
        )
    seeds(plan)
    return 0


def seeds(plan: Plan) -> None:
    refused: Counter[str] = Counter()
    refused_before: Counter[str] = Counter()
    other_language = total = 0
    for unit in plan.units:
        if unit.seeds.fixture is None:
            continue
        rows = plan.fixtures[unit.seeds.fixture].rows
        keep = compile_expr(unit.seeds.where) if unit.seeds.where else None
        records = []
        for row in rows:
            if keep is None or keep(row):
                record = normalize(row, unit.mapping, unit.format, unit.task, unit.subtask)
                records.append({name: getattr(record, name) for name in FIELDS})
        if not records:
            continue
        total += len(records)
        items = [_as_item(unit, r) for r in records]
        refused_before.update(r for r in (before(unit, item) for item in items) if r)
        reasons = [reason for reason, _ in verdicts(plan, items)]
        for reason in reasons:
            if reason is None:
                continue
            if reason.startswith("[lang]") and unit.filters.language.code_from == "spec":
                other_language += 1
            else:
                refused[code_of(reason)] += 1
    print(f"\n4. the catalog's seeds ({total} seed records: each subtask's fixture rows)")
    for name, counts in (("before", refused_before), ("now", refused)):
        print(
            f"   refused by the filters {name}: {sum(counts.values())}"
            + "".join(f", {code} {n}" for code, n in counts.most_common())
        )
    print(
        f"   and {other_language} rows of shared fixtures refused for their language in a "
        "subtask of another language (right: they are not in it)"
    )


FIELDS = ("question", "context", "choices", "answer", "rationale")


def _as_item(unit: Unit, record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "key": "seed", "unit": unit.id, "kind": "seed"}


if __name__ == "__main__":
    raise SystemExit(main())
