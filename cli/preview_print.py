"""`taskseed preview`'s text output: a panel per seed, its items' verdicts or its
rendered prompts, and the full-run estimate (rich)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

STAGE_ORDER = ("generate", "verify", "enrich")


def print_report(report: dict[str, Any]) -> None:
    console = Console() if sys.stdout.isatty() else Console(width=160)
    for unit in report["units"]:
        console.rule(f"[bold]{escape(unit['unit'])}")
        for view in unit["seeds"]:
            parts: list[Any] = [seed_text(view["seed"])]
            if "prompts" in view:
                parts.extend(prompt_panel(p) for p in view["prompts"])
            else:
                parts.append(items_table(view["items"]))
            console.print(Panel(Group(*parts), title=f"seed {escape(view['seed']['id'])}"))
        if unit["not_seeds"]:
            table = Table(title="rows that did not become seeds", title_justify="left")
            for column in ("stage", "row", "reason"):
                table.add_column(column)
            for reject in unit["not_seeds"]:
                table.add_row(reject["stage"], reject.get("source") or "", reject["reason"])
            console.print(table)
        if unit.get("counts"):
            counts = ", ".join(f"{k} {v}" for k, v in unit["counts"].items())
            console.print(f"funnel: {counts}", soft_wrap=True)
    if "estimate" in report:
        print_estimate(console, report["estimate"])


def seed_text(seed: dict[str, Any]) -> Text:
    text = Text()
    if seed.get("context"):
        text.append("context: ", style="bold").append(clip(seed["context"], 400) + "\n")
    text.append("question: ", style="bold").append(clip(seed.get("question") or "", 600))
    for index, choice in enumerate(seed.get("choices") or []):
        text.append(f"\n  {chr(65 + index)}. {clip(str(choice), 200)}")
    text.append("\nanswer: ", style="bold").append(clip(str(seed.get("answer")), 200))
    return text


def items_table(items: list[dict[str, Any]]) -> Table | Text:
    if not items:
        return Text("nothing generated for this seed", style="italic")
    table = Table(expand=True, show_lines=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("item", ratio=3)
    table.add_column("verdict", no_wrap=True)
    table.add_column("why", ratio=2)
    for view in items:
        kept = view["verdict"] == "kept"
        verdict = Text("kept", style="green") if kept else Text("rejected", style="red")
        if not kept:
            verdict.append(f"\n{view['stage']}", style="red")
        table.add_row(
            (view.get("kind") or "").replace("_", " "),
            item_text(view.get("item")),
            verdict,
            view.get("reason") or "",
        )
    return table


def item_text(item: dict[str, Any] | None) -> Text:
    if not item:
        return Text("(no item)", style="italic")
    if "text" in item and "question" not in item:  # an answer that did not parse
        return Text(clip(str(item["text"]), 400), style="dim")
    text = Text(clip(str(item.get("question") or ""), 400))
    for index, choice in enumerate(item.get("choices") or []):
        text.append(f"\n{chr(65 + index)}. {clip(str(choice), 120)}")
    for name in ("context", "rationale"):
        if item.get(name):
            text.append(f"\n{name}: ", style="bold").append(clip(str(item[name]), 300))
    if item.get("answer") is not None:
        text.append("\nanswer: ", style="bold").append(clip(str(item["answer"]), 200))
    return text


def prompt_panel(prompt: dict[str, Any]) -> Panel:
    title = f"{prompt['stage']}: {prompt['step']}" + (
        f" ({prompt['note']})" if prompt["note"] else ""
    )
    if prompt["error"]:
        body = Text(f"the prompt does not render: {prompt['error']}", style="red")
    elif not prompt["messages"]:
        body = Text("no prompt", style="italic")
    else:
        body = Text()
        for index, message in enumerate(prompt["messages"]):
            body.append(("\n" if index else "") + f"[{message['role']}]\n", style="bold")
            body.append(message["content"])
    return Panel(body, title=escape(title), title_align="left")


def print_estimate(console: Console, estimate: dict[str, Any]) -> None:
    table = Table(title="estimate for the full run", title_justify="left")
    for column in ("unit", "seeds", "stage", "requests", "prompt tokens", "completion tokens"):
        table.add_column(column, justify="left" if column in ("unit", "stage") else "right")
    sources = []
    for unit_id, info in estimate["units"].items():
        full = info["full_seeds"]
        seeds = f"{info['preview_seeds']} -> {'?' if full is None else f'{full:,}'}"
        sources.append(f"{unit_id}: {info['full_seeds_source']}")
        stages = sorted(info["stages"].items(), key=lambda kv: _stage_key(kv[0]))
        if not stages:
            table.add_row(unit_id, seeds, "-", "0", "0", "0")
        for row, (stage, use) in enumerate(stages):
            scaled = use["full"] or {}
            table.add_row(
                unit_id if row == 0 else "",
                seeds if row == 0 else "",
                stage,
                *(
                    "?" if not scaled else f"{scaled.get(k, 0):,}"
                    for k in ("requests", "prompt_tokens", "completion_tokens")
                ),
            )
    console.print(table)
    console.print("full seed counts: " + "; ".join(sources), soft_wrap=True)
    for unit_id, info in estimate["units"].items():
        if info["unreached"]:
            console.print(
                f"{unit_id}: no item of the preview reached {', '.join(info['unreached'])}, "
                "so the estimate leaves it out (preview more seeds)",
                soft_wrap=True,
            )
    rate = estimate["requests_per_second"]
    seconds = estimate["full_seconds"]
    if rate and seconds is not None:
        console.print(
            f"{estimate['full_requests']:,} requests at this preview's rate of {rate:.2f} "
            f"requests/s (this engine, as the preview ran it): about {duration(seconds)}",
            soft_wrap=True,
        )
    else:
        console.print("no request was timed, so no wall-time estimate", soft_wrap=True)


def _stage_key(stage: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
