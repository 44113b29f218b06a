"""Collect the audit set's items from `taskseed run` output folders.

    python bench/quality/collect.py out/audit-1 out/audit-2 ... -o bench/quality/items.jsonl

For each run folder (its `plan.json`, `manifest.json` and `ledger.sqlite`), and each
unit the run ran:

- every similar question that parsed: the unit's seeds are normalised again and its
  generation requests replayed from the ledger (the same requests, so the same items,
  whatever the run's filters did with them); each item's majority vote is replayed too
  when the run asked for it. With `--vote`, a vote the run did not ask for (the item
  failed the run's filters) is asked of the embedded model now, the same request the
  pipeline sends; without it, such an item has no vote (`"vote": null`). A generation
  request missing from the ledger (a run stopped early) gives no items;
- every enriched item that reached the filter: the run's records, and its rejects of the
  filter, decontaminate and dedup stages (those carry the item).

Items are keyed `s<run seed>:<item id>` (item IDs do not depend on `--seed`), so that
runs with other seeds add items; an item seen twice is kept once. Labels are added by
hand in `audit.jsonl` (see README.md here); this script never touches them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec

from taskseed.contract.plan import Plan, decode
from taskseed.runtime.engines.base import ChatRequest, Completion, Engine, RequestRefused
from taskseed.runtime.engines.llama_cpp import LlamaCppEngine
from taskseed.runtime.ledger import Ledger, LedgeredEngine
from taskseed.runtime.unit import RunOptions, UnitRunner

REPO = Path(__file__).resolve().parents[2]
FIELDS = ("question", "context", "choices", "answer", "rationale")


class ReplayOnly(Engine):
    """An engine that answers nothing: only what the ledger holds is replayed."""

    name = "replay-only"

    def __init__(self, model: str) -> None:
        self._model = model

    @property
    def model(self) -> str:
        return self._model

    async def generate(self, request: ChatRequest) -> Completion:
        raise RequestRefused("not in the ledger")


def item_row(
    run_seed: int,
    unit: str,
    item: dict[str, Any],
    vote: dict[str, Any] | None,
    seed_question: str | None = None,
) -> dict[str, Any]:
    return {
        "key": f"s{run_seed}:{item['id']}",
        "unit": unit,
        "kind": item["kind"],
        **{name: item.get(name) for name in FIELDS},
        "vote": vote,
        "seed_question": seed_question,
    }


async def similar_items(
    plan: Plan, unit_id: str, ledger: LedgeredEngine, options: RunOptions
) -> list[dict[str, Any]]:
    unit = plan.unit(unit_id)
    runner = UnitRunner(plan, unit, ledger, options, asyncio.Semaphore(1))
    seeds = runner.normalize()
    runner.seeds = {seed.id: seed for seed in seeds}
    step = next((s for s in unit.steps if s.kind == "similar_question"), None)
    if step is None:
        return []
    rows = []
    for seed in seeds:
        for item in await runner.similar(seed, step):
            before = len(runner.rejects)
            verified = await runner.verify(item)
            if verified is not None and verified.verification is not None:
                record = msgspec.structs.asdict(verified.verification)
                vote = {**record, "passed": record["status"] == "verified"}
            elif len(runner.rejects) > before and runner.rejects[-1].item is not None:
                vote = {**runner.rejects[-1].item, "passed": False}
            else:
                vote = None
            fields = msgspec.structs.asdict(item)
            rows.append(item_row(options.seed, unit.id, fields, vote, seed.question))
    return rows


def enriched_items(out: Path, run_seed: int) -> list[dict[str, Any]]:
    rows = []
    for path in sorted((out / "data").glob("*/part-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record["kind"] != "similar_question":
                unit = f"{record['task']}/{record['subtask']}"
                rows.append(item_row(run_seed, unit, record, None))
    for path in sorted((out / "rejects").glob("part-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            reject = json.loads(line)
            item = reject.get("item")
            if (
                reject["stage"] in ("filter", "decontaminate", "dedup")
                and reject.get("kind") not in (None, "similar_question")
                and item
                and "question" in item
            ):
                rows.append(item_row(run_seed, reject["unit"], item, None))
    return rows


async def collect(out: Path, run: dict[str, Any], vote: bool) -> list[dict[str, Any]]:
    """`run`: the run's options, as its manifest's `run` section holds them."""
    plan = decode((out / "plan.json").read_bytes())
    options = RunOptions(
        use_fixtures=run["fixtures"],
        limit_seeds=run["limit_seeds"],
        seed=run["seed"],
        root=REPO,
        max_tokens=run["max_tokens"],
        retries=0,
    )
    llama = LlamaCppEngine(threads=1)
    engine: Engine = llama if vote else ReplayOnly(llama.model)
    ledger = LedgeredEngine(engine, Ledger(out / "ledger.sqlite"))
    rows = []
    for unit_id in run["units"]:
        rows.extend(await similar_items(plan, unit_id, ledger, options))
    rows.extend(enriched_items(out, run["seed"]))
    print(f"{out}: {len(rows)} items ({ledger.stats.sent} requests sent to the model)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--vote", action="store_true", help="ask the model for missing votes")
    parser.add_argument(
        "--run",
        help="the runs' options as JSON, for a run stopped before it wrote its manifest",
    )
    args = parser.parse_args()
    seen: dict[str, dict[str, Any]] = {}
    for out in args.runs:
        manifest = out / "manifest.json"
        if manifest.is_file():
            run = json.loads(manifest.read_text(encoding="utf-8"))["run"]
        elif args.run:
            run = json.loads(args.run)
        else:
            raise SystemExit(f"{out} has no manifest.json: pass the run's options with --run")
        for row in asyncio.run(collect(out, run, args.vote)):
            seen.setdefault(row["key"], row)
    lines = [json.dumps(row, ensure_ascii=False) for row in sorted(seen.values(), key=order)]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(lines)} items -> {args.output}")


def order(row: dict[str, Any]) -> tuple[str, str, str]:
    return (row["unit"], row["kind"], row["key"])


if __name__ == "__main__":
    main()
