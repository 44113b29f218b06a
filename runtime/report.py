"""`out/report.html`: the run to look at, in one self-contained file.

Inline CSS and SVG only: no script, no font, no image, no link to fetch, and a
Content-Security-Policy that forbids fetching anything, so the file opens offline and
can be mailed or attached to a CI run as it is.

Sections: the funnel per task (a bar chart per task, and all tasks together), reject
reasons per stage, tokens and requests (per stage when the manifest has them, per task
otherwise), throughput over time, and the slowest units.

Inputs, all plain data:
- the plan (task titles) and the manifest (`finalize.py`): `units` with `counts`,
  `requests_sent`, `requests_replayed`, `prompt_tokens`, `completion_tokens`, `seconds`;
  `rejects.by_stage`, `rejects.files`; `tokens`, `timings`, `engine`, `run`.
- reject reasons per stage, `{stage: {reason: count}}`: by default counted from the
  rejects shards the manifest lists (`reject_reasons`); numbers, IDs and quoted text
  in a reason are masked so that reasons of one kind count together.
- optional `stages`, `{stage: {"requests": n, "prompt_tokens": n, "completion_tokens":
  n}}` (also read from `manifest["stages"]`): engine use per stage.
- optional `timeline`, a list of cumulative points `{"t": seconds since the run
  started, "requests": n, "prompt_tokens": n, "completion_tokens": n, "records": n}`
  (`records` optional; also read from `manifest["timeline"]`). A runtime that samples
  its counters every few seconds feeds it. Without it, the requests this run sent are
  read back from the ledgers (`ledger_timeline`): each has the time it was answered
  and its tokens, so throughput over time is known for engine requests, not records.
"""

from __future__ import annotations

import html
import re
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from taskseed.contract.plan import Plan
from taskseed.runtime.atomic import write_atomic
from taskseed.runtime.progress import FUNNEL

REPORT = "report.html"
TOP_REASONS = 8  # reason kinds shown per stage; the rest are summed
SLOWEST = 10
TIMELINE_BUCKETS = 40
STAGE_ORDER = ("normalize", "generate", "parse", "filter", "decontaminate", "verify", "enrich",
               "dedup")  # fmt: skip


class TimelinePoint(msgspec.Struct, kw_only=True):
    t: float  # seconds since the run started
    requests: int = 0  # cumulative engine requests answered
    prompt_tokens: int = 0
    completion_tokens: int = 0
    records: int | None = None  # cumulative records kept, when the runtime counts them


class _RejectHead(msgspec.Struct):
    stage: str
    reason: str


# ------------------------------------------------------------------ inputs

_MASKS = (
    (re.compile(r"\b[0-9a-f]{12,}\b"), "…"),  # record and content IDs
    (re.compile(r"'(?:[^'\\]|\\.)*'"), "'…'"),  # quoted text (Python reprs)
    (re.compile(r'"(?:[^"\\]|\\.)*"'), '"…"'),
    (re.compile(r"\d+(?:\.\d+)?"), "N"),  # counts, scores, positions
)


def reason_kind(reason: str) -> str:
    """A reason with its particulars masked: `answer '12' is not a number` and `answer
    'x' is not a number` are one kind."""
    for pattern, mask in _MASKS:
        reason = pattern.sub(mask, reason)
    return reason


def reject_reasons(out: Path, manifest: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Reject counts per stage and reason kind, read from the rejects shards (JSONL)."""
    decoder = msgspec.json.Decoder(_RejectHead)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in manifest.get("rejects", {}).get("files", []):
        path = out / entry["path"]
        if path.suffix != ".jsonl" or not path.is_file():
            continue
        with path.open("rb") as handle:
            for line in handle:
                if line.strip():
                    head = decoder.decode(line)
                    counts[head.stage][reason_kind(head.reason)] += 1
    return {stage: dict(c) for stage, c in counts.items()}


TIMELINE_POINTS = 240  # at most this many points, however many requests a run sent


def _ledgers(out: Path) -> list[Path]:
    paths = [out / "ledger.sqlite", *sorted(out.glob("shards/*/ledger.sqlite"))]
    return [path for path in paths if path.is_file()]


def _query(path: Path, sql: str, params: Sequence[float]) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.Error:
        return []
    finally:
        conn.close()


def ledger_timeline(out: Path, manifest: Mapping[str, Any]) -> list[TimelinePoint]:
    """The requests this run sent, from the ledgers of `out`: those answered within the
    run's wall time before the latest answer, added up in SQL into at most
    TIMELINE_POINTS cumulative points (one scan; memory does not grow with the run)."""
    sent = int(manifest.get("tokens", {}).get("sent_this_run", 0) or 0)
    wall = float(manifest.get("timings", {}).get("seconds", 0) or 0)
    ledgers = _ledgers(out)
    if sent <= 0 or not ledgers:
        return []
    lasts = [
        row[0] for path in ledgers for row in _query(path, "SELECT max(created) FROM answers", ())
    ]
    lasts = [last for last in lasts if last is not None]
    if not lasts:
        return []
    first = max(lasts) - wall - 1.0
    width = (wall + 1.0) / TIMELINE_POINTS
    buckets: dict[int, list[float]] = {}
    for path in ledgers:
        rows = _query(
            path,
            "SELECT CAST((created - ?) / ? AS INTEGER) AS b, count(*), sum(prompt_tokens), "
            "sum(completion_tokens), min(created - seconds), max(created) "
            "FROM answers WHERE created >= ? GROUP BY b",
            (first, width, first),
        )
        for b, count, prompt, completion, begun, ended in rows:
            into = buckets.setdefault(b, [0, 0, 0, begun, ended])
            into[0] += count
            into[1] += prompt
            into[2] += completion
            into[3] = min(into[3], begun)
            into[4] = max(into[4], ended)
    if not buckets:
        return []
    start = min(values[3] for values in buckets.values())
    points = [TimelinePoint(t=0.0)]
    requests = prompt = completion = 0
    for b in sorted(buckets):
        count, p_tokens, c_tokens, _, ended = buckets[b]
        requests += int(count)
        prompt += int(p_tokens)
        completion += int(c_tokens)
        points.append(
            TimelinePoint(
                t=ended - start,
                requests=requests,
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
        )
    return points


# ------------------------------------------------------------------ drawing


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _task_counts(manifest: Mapping[str, Any]) -> dict[str, Counter[str]]:
    per_task: dict[str, Counter[str]] = defaultdict(Counter)
    for unit_id, info in manifest.get("units", {}).items():
        per_task[unit_id.split("/", 1)[0]].update(info.get("counts", {}))
    return dict(sorted(per_task.items()))


def funnel_svg(name: str, counts: Mapping[str, int], *, wide: bool = False) -> str:
    """One task's funnel: a horizontal bar per stage, scaled to its largest count."""
    label_w, bar_w, row_h = 92, (420 if wide else 200), 20
    width, height = label_w + bar_w + 60, row_h * len(FUNNEL) + 6
    top = max([counts.get(key, 0) for key, _ in FUNNEL] + [1])
    rows = []
    for i, (key, label) in enumerate(FUNNEL):
        value = counts.get(key, 0)
        y = 3 + i * row_h
        w = bar_w * value / top
        cls = "bar drop" if key == "deduplicated" else "bar"
        rows.append(
            f'<g class="stage" data-stage="{_e(key)}" data-value="{value}">'
            f"<title>{_e(name)}: {_e(label)} {value}</title>"
            f'<text class="label" x="{label_w - 6}" y="{y + 14}">{_e(label)}</text>'
            f'<rect class="{cls}" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}"'
            ' rx="2"/>'
            f'<text class="value" x="{label_w + w + 4:.1f}" y="{y + 14}">{value:,}</text></g>'
        )
    return (
        f'<svg class="funnel" viewBox="0 0 {width} {height}" width="{width}" height="{height}"'
        f' role="img" aria-label="funnel of {_e(name)}">{"".join(rows)}</svg>'
    )


BAR_PX = 150  # the longest bar in a table


def _bar_cell(value: float, top: float, cls: str = "") -> str:
    width = BAR_PX * value / top if top else 0.0
    return (
        f'<td class="barcell"><span class="hbar {cls}" style="width:{width:.1f}px"></span>'
        f'<span class="num">{_num(value)}</span></td>'
    )


def line_chart(title: str, xs: Sequence[float], ys: Sequence[float], unit: str) -> str:
    """A rate over time, as a line over filled area, with axes and a few ticks."""
    width, height, left, bottom, pad, top = 560, 210, 56, 28, 12, 22
    plot_w, plot_h = width - left - pad, height - bottom - top
    x_top = max(xs[-1] if xs else 0.0, 1e-9)
    y_top = max(max(ys, default=0.0), 1e-9)

    def x(v: float) -> float:
        return left + plot_w * v / x_top

    def y(v: float) -> float:
        return top + plot_h * (1 - v / y_top)

    def tick(v: float, span: float) -> str:
        digits = 0 if span >= 20 else 1 if span >= 2 else 2
        return f"{v:,.{digits}f}"

    points = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in zip(xs, ys, strict=True))
    area = f"{x(xs[0]):.1f},{y(0):.1f} {points} {x(xs[-1]):.1f},{y(0):.1f}" if xs else ""
    ticks = []
    for i in range(5):
        v = y_top * i / 4
        ticks.append(
            f'<line class="grid" x1="{left}" x2="{width - pad}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text class="tick" x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">'
            f"{tick(v, y_top)}</text>"
        )
        t = x_top * i / 4
        ticks.append(
            f'<text class="tick" x="{x(t):.1f}" y="{height - 8}" text-anchor="middle">'
            f"{tick(t, x_top)} s</text>"
        )
    return (
        f'<figure class="chart"><figcaption>{_e(title)}</figcaption>'
        f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}">{"".join(ticks)}'
        f'<polygon class="area" points="{area}"/><polyline class="line" points="{points}"/>'
        f'<text class="tick" x="4" y="12">{_e(unit)}</text>'
        "</svg></figure>"
    )


def rates(points: Sequence[TimelinePoint], field: str) -> tuple[list[float], list[float]]:
    """Per-second rates of a cumulative field, over equal time buckets."""
    values = [(p.t, getattr(p, field)) for p in points if getattr(p, field) is not None]
    if len(values) < 2 or values[-1][0] <= 0:
        return [], []
    end = values[-1][0]
    buckets = min(TIMELINE_BUCKETS, max(len(values) - 1, 1))
    step = end / buckets
    xs, ys = [], []
    index = 0
    previous = values[0][1]
    for b in range(1, buckets + 1):
        edge = step * b
        while index + 1 < len(values) and values[index + 1][0] <= edge + 1e-9:
            index += 1
        current = values[index][1]
        xs.append(edge)
        ys.append((current - previous) / step)
        previous = current
    return [0.0, *xs], [ys[0], *ys]


# ------------------------------------------------------------------ sections


def _header(plan: Plan, manifest: Mapping[str, Any]) -> str:
    engine = manifest.get("engine", {})
    units = manifest.get("units", {})
    counts = manifest.get("counts", {})
    tokens = manifest.get("tokens", {})
    timings = manifest.get("timings", {})
    rejects = sum(manifest.get("rejects", {}).get("by_stage", {}).values())
    facts = [
        ("records written", _num(counts.get("written", 0))),
        ("rejects", _num(rejects)),
        ("units", _num(len(units))),
        ("tasks", _num(len({u.split("/", 1)[0] for u in units}))),
        ("model", engine.get("model", "unknown")),
        ("engine", engine.get("engine", "unknown")),
        ("prompt tokens", _num(tokens.get("prompt", 0))),
        ("completion tokens", _num(tokens.get("completion", 0))),
        ("wall time", f"{timings.get('seconds', 0):.1f} s"),
        ("plan", plan.fingerprint),
    ]
    cells = "".join(
        f'<div class="fact"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>'
        for k, v in facts
    )
    return f'<header><h1>taskseed run report</h1><div class="facts">{cells}</div></header>'


def _funnel_section(plan: Plan, manifest: Mapping[str, Any]) -> str:
    per_task = _task_counts(manifest)
    titles = {u.task: u.title for u in plan.units}
    total = sum(per_task.values(), Counter[str]())
    figures = [
        f'<figure class="task all" data-task="*"><figcaption>all tasks</figcaption>'
        f"{funnel_svg('all tasks', total, wide=True)}</figure>"
    ]
    for task, counts in per_task.items():
        title = titles.get(task, "")
        figures.append(
            f'<figure class="task" data-task="{_e(task)}"><figcaption><b>{_e(task)}</b> '
            f'<span class="muted">{_e(title)}</span></figcaption>{funnel_svg(task, counts)}'
            "</figure>"
        )
    return (
        '<section id="funnel"><h2>Funnel per task</h2><p class="muted">Items entering each '
        "stage, summed over the task's subtasks; <i>dup. dropped</i> counts the near "
        "duplicates removed before writing.</p>"
        f'<div class="grid">{"".join(figures)}</div></section>'
    )


def _rejects_section(manifest: Mapping[str, Any], reasons: Mapping[str, Mapping[str, int]]) -> str:
    by_stage = dict(manifest.get("rejects", {}).get("by_stage", {}))
    for stage, counted in reasons.items():
        by_stage.setdefault(stage, sum(counted.values()))
    if not by_stage:
        return '<section id="rejects"><h2>Rejects</h2><p>No item was rejected.</p></section>'
    order = {s: i for i, s in enumerate(STAGE_ORDER)}
    top = max(by_stage.values())
    rows = []
    for stage in sorted(by_stage, key=lambda s: (order.get(s, len(order)), s)):
        rows.append(
            f'<tr class="stage" data-stage="{_e(stage)}"><th>{_e(stage)}</th>'
            f"{_bar_cell(by_stage[stage], top, 'reject')}</tr>"
        )
        kinds = sorted(reasons.get(stage, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        shown, rest = kinds[:TOP_REASONS], kinds[TOP_REASONS:]
        if rest:
            shown.append((f"{len(rest)} other kinds of reason", sum(n for _, n in rest)))
        for reason, count in shown:
            rows.append(
                f'<tr class="reason"><td class="why">{_e(reason)}</td>'
                f"{_bar_cell(count, by_stage[stage], 'reason')}</tr>"
            )
    return (
        '<section id="rejects"><h2>Reject reasons per stage</h2><p class="muted">Every '
        "dropped item is in <code>rejects/</code> with its stage and reason; numbers, "
        "IDs and quoted text are masked so that reasons of one kind count together.</p>"
        f'<table class="bars">{"".join(rows)}</table></section>'
    )


def _usage_section(
    manifest: Mapping[str, Any], stages: Mapping[str, Mapping[str, int]] | None
) -> str:
    columns: tuple[str, ...] = ("requests", "prompt_tokens", "completion_tokens")
    rows: Mapping[str, Mapping[str, int]]
    if stages:
        title, note, rows = "Tokens and requests per stage", "", stages
    else:
        title = "Tokens and requests per task"
        note = (
            '<p class="muted">This manifest counts engine use per unit, not per stage '
            "(a runtime that does writes <code>stages</code> into the manifest); sent "
            "requests were paid for, replayed ones came from the ledger.</p>"
        )
        per_task: dict[str, Counter[str]] = defaultdict(Counter)
        for unit_id, info in manifest.get("units", {}).items():
            c = per_task[unit_id.split("/", 1)[0]]
            c["sent"] += info.get("requests_sent", 0)
            c["replayed"] += info.get("requests_replayed", 0)
            c["prompt_tokens"] += info.get("prompt_tokens", 0)
            c["completion_tokens"] += info.get("completion_tokens", 0)
        rows = {k: dict(v) for k, v in sorted(per_task.items())}
        columns = ("sent", "replayed", "prompt_tokens", "completion_tokens")
    tops = {c: max([r.get(c, 0) for r in rows.values()] + [0]) for c in columns}
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        f'<tr data-row="{_e(name)}"><th>{_e(name)}</th>'
        + "".join(_bar_cell(r.get(c, 0), tops[c]) for c in columns)
        + "</tr>"
        for name, r in rows.items()
    )
    return (
        f'<section id="usage"><h2>{_e(title)}</h2>{note}<table class="bars wide">'
        f"<tr><th></th>{head}</tr>{body}</table></section>"
    )


def _timeline_section(points: Sequence[TimelinePoint], source: str) -> str:
    charts = []
    for field, title, unit in (
        ("records", "records kept per second", "records/s"),
        ("completion_tokens", "completion tokens per second", "tokens/s"),
        ("requests", "engine requests answered per second", "requests/s"),
    ):
        xs, ys = rates(points, field)
        if xs:
            charts.append(line_chart(title, xs, ys, unit))
    if not charts:
        text = "No engine request was sent in this run (every answer came from the ledger)."
        return f'<section id="throughput"><h2>Throughput over time</h2><p>{text}</p></section>'
    return (
        '<section id="throughput"><h2>Throughput over time</h2>'
        f'<p class="muted">{_e(source)}</p><div class="grid">{"".join(charts)}</div></section>'
    )


def _slowest_section(manifest: Mapping[str, Any]) -> str:
    units = sorted(
        manifest.get("units", {}).items(), key=lambda kv: (-kv[1].get("seconds", 0), kv[0])
    )[:SLOWEST]
    top = max([info.get("seconds", 0) for _, info in units] + [0])
    rows = "".join(
        f'<tr data-unit="{_e(uid)}"><th>{_e(uid)}</th>{_bar_cell(info.get("seconds", 0), top)}'
        f"<td>{_num(info.get('requests_sent', 0))}</td>"
        f"<td>{_num(info.get('requests_replayed', 0))}</td>"
        f"<td>{_num(info.get('completion_tokens', 0))}</td>"
        f"<td>{_num(info.get('counts', {}).get('written', 0))}</td></tr>"
        for uid, info in units
    )
    return (
        '<section id="slowest"><h2>Slowest units</h2><table class="bars wide"><tr><th>unit'
        "</th><th>seconds</th><th>sent</th><th>replayed</th><th>completion tokens</th>"
        f"<th>written</th></tr>{rows}</table></section>"
    )


STYLE = """
:root{--ink:#1d2330;--muted:#667085;--bar:#3a6fd8;--drop:#d8553a;--line:#e4e7ec}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
margin:0;padding:24px 32px;background:#fafbfc}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 6px}
.muted{color:var(--muted)}code{background:#eef1f5;padding:0 3px;border-radius:3px}
.facts{display:flex;flex-wrap:wrap;gap:10px}
.fact{background:#fff;border:1px solid var(--line);border-radius:6px;padding:6px 12px}
.fact .k{color:var(--muted);font-size:12px}.fact .v{font-weight:600}
.grid{display:flex;flex-wrap:wrap;gap:14px}
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px}
figcaption{font-size:13px;margin-bottom:4px}
svg text{font-size:11px;fill:var(--ink)}svg .label{text-anchor:end}
svg .bar{fill:var(--bar)}svg .bar.drop{fill:var(--drop)}svg .value{fill:var(--muted)}
svg .grid{stroke:var(--line)}svg .tick{fill:var(--muted);font-size:10px}
svg .line{fill:none;stroke:var(--bar);stroke-width:1.6}svg .area{fill:#3a6fd822}
table.bars{border-collapse:collapse;background:#fff;border:1px solid var(--line)}
table.bars th,table.bars td{padding:3px 10px;text-align:left;border-top:1px solid var(--line)}
table.bars tr.reason td{border-top:none}td.why{padding-left:26px;color:var(--muted)}
td.barcell{min-width:220px}
.hbar{display:inline-block;height:10px;background:var(--bar);border-radius:2px;
margin-right:6px;vertical-align:middle}
.hbar.reject{background:var(--drop)}.hbar.reason{background:#e79a88}
td.barcell .num{font-variant-numeric:tabular-nums}
"""


def render_report(
    plan: Plan,
    manifest: Mapping[str, Any],
    *,
    reasons: Mapping[str, Mapping[str, int]],
    timeline: Sequence[TimelinePoint],
    timeline_source: str,
    stages: Mapping[str, Mapping[str, int]] | None = None,
) -> str:
    sections = [
        _header(plan, manifest),
        _funnel_section(plan, manifest),
        _rejects_section(manifest, reasons),
        _usage_section(manifest, stages),
        _timeline_section(timeline, timeline_source),
        _slowest_section(manifest),
    ]
    policy = "default-src 'none'; style-src 'unsafe-inline'"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>taskseed run report {_e(plan.fingerprint)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def _timeline(
    out: Path, manifest: Mapping[str, Any], given: Sequence[Any] | None
) -> tuple[list[TimelinePoint], str]:
    raw = given if given is not None else manifest.get("timeline")
    if raw is not None:
        points = msgspec.convert(list(raw), list[TimelinePoint])
        return points, "Sampled by the runtime during the run."
    points = ledger_timeline(out, manifest)
    return points, (
        "From the ledger: when each engine request this run sent was answered, and its "
        "tokens (seconds since the first of them started)."
    )


def write_report(
    plan: Plan,
    manifest: Mapping[str, Any],
    out: Path,
    *,
    timeline: Sequence[Any] | None = None,
    stages: Mapping[str, Mapping[str, int]] | None = None,
    reasons: Mapping[str, Mapping[str, int]] | None = None,
) -> Path:
    """Write `out/report.html`; return its path. Inputs left out are read from the
    manifest and the output folder (see the module's docstring)."""
    points, source = _timeline(out, manifest, timeline)
    text = render_report(
        plan,
        manifest,
        reasons=reasons if reasons is not None else reject_reasons(out, manifest),
        timeline=points,
        timeline_source=source,
        stages=stages if stages is not None else manifest.get("stages"),
    )
    path = out / REPORT
    write_atomic(path, text.encode())
    return path
