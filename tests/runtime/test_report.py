"""out/report.html: one self-contained page, checked in headless Chromium."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from taskseed.runtime.progress import FUNNEL
from taskseed.runtime.report import (
    TIMELINE_POINTS,
    TimelinePoint,
    ledger_timeline,
    rates,
    reason_kind,
    reject_reasons,
    write_report,
)
from tests.runtime.browser import open_page
from tests.runtime.sample_run import catalog_plan, sample_run

# What the page shows, read back from its DOM.
PROBE = """JSON.stringify({
  tasks: [...document.querySelectorAll('#funnel figure.task')].map(f => ({
    task: f.dataset.task,
    stages: Object.fromEntries([...f.querySelectorAll('g.stage')].map(
      g => [g.dataset.stage, Number(g.dataset.value)])),
    bars: [...f.querySelectorAll('rect.bar')].map(r => r.getBBox().width),
  })),
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  rejectStages: [...document.querySelectorAll('#rejects tr.stage')].map(r => r.dataset.stage),
  timelines: document.querySelectorAll('#throughput svg.timeline').length,
  slowest: [...document.querySelectorAll('#slowest tr[data-unit]')].map(r => r.dataset.unit),
  width: document.documentElement.scrollWidth,
})"""


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    out = tmp_path_factory.mktemp("report") / "out"
    sample_run(out)
    yield out


def manifest_of(out: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((out / "manifest.json").read_text())
    return loaded


def test_the_report_opens_in_chromium_and_shows_the_funnel(out: Path) -> None:
    manifest = manifest_of(out)
    page = open_page(out / "report.html", PROBE)
    assert page.errors == []
    assert page.requests == [(out / "report.html").resolve().as_uri()]  # nothing fetched
    shown = json.loads(page.value)
    assert shown["sections"] == ["funnel", "rejects", "usage", "throughput", "slowest"]
    per_task: dict[str, Counter[str]] = {}
    for unit_id, info in manifest["units"].items():
        per_task.setdefault(unit_id.split("/")[0], Counter()).update(info["counts"])
    expected = {"*": sum(per_task.values(), Counter()), **per_task}
    assert [t["task"] for t in shown["tasks"]] == ["*", "arc", "gsm8k"]
    for figure in shown["tasks"]:
        counts = expected[figure["task"]]
        assert figure["stages"] == {key: counts.get(key, 0) for key, _ in FUNNEL}
        # the bars are drawn: the longest is the largest count, an empty stage is empty
        widths = dict(zip([key for key, _ in FUNNEL], figure["bars"], strict=True))
        top = max(figure["stages"], key=lambda k: figure["stages"][k])
        assert widths[top] == max(widths.values()) > 0
        assert all(w == 0 for k, w in widths.items() if figure["stages"][k] == 0)
    assert set(shown["rejectStages"]) == set(manifest["rejects"]["by_stage"])
    assert shown["timelines"] == 2  # tokens and requests per second, from the ledger
    assert shown["slowest"] == sorted(
        manifest["units"], key=lambda u: (-manifest["units"][u]["seconds"], u)
    )


def test_the_report_is_self_contained(out: Path) -> None:
    text = (out / "report.html").read_text()
    assert not re.search(r"\b(?:src|href)\s*=|@import|url\(|<script|<link|<img", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_timeline_and_stages_given_by_the_runtime(tmp_path: Path) -> None:
    """The optional inputs a runtime feeds: a sampled timeline (records per second
    appears) and engine use per stage (replacing the per-task table)."""
    out = tmp_path / "out"
    manifest = sample_run(out)
    timeline = [
        {"t": 0, "requests": 0, "completion_tokens": 0, "records": 0},
        {"t": 10, "requests": 40, "completion_tokens": 4000, "records": 10},
        {"t": 20, "requests": 60, "completion_tokens": 6000, "records": 30},
    ]
    stages = {
        "generate": {"requests": 8, "prompt_tokens": 900, "completion_tokens": 700},
        "verify": {"requests": 16, "prompt_tokens": 1500, "completion_tokens": 90},
    }
    write_report(catalog_plan(), {**manifest, "timeline": timeline}, out, stages=stages)
    probe = PROBE.replace(
        "width:",
        "usage: [...document.querySelectorAll('#usage tr[data-row]')].map("
        "r => r.dataset.row), heading: document.querySelector('#usage h2').textContent, width:",
    )
    page = open_page(out / "report.html", probe)
    assert page.errors == []
    shown = json.loads(page.value)
    assert shown["timelines"] == 3
    assert shown["usage"] == ["generate", "verify"]
    assert shown["heading"] == "Tokens and requests per stage"
    assert "Sampled by the runtime" in (out / "report.html").read_text()


def test_reject_reasons_are_counted_by_kind(out: Path) -> None:
    manifest = manifest_of(out)
    reasons = reject_reasons(out, manifest)
    assert {s: sum(k.values()) for s, k in reasons.items()} == manifest["rejects"]["by_stage"]
    assert (
        reason_kind("answer '12' is not a number")
        == reason_kind("answer 'x y' is not a number")
        == "answer '…' is not a number"
    )
    assert reason_kind("near-duplicate of 0123456789abcdef0123 (estimated Jaccard 0.83)") == (
        "near-duplicate of … (estimated Jaccard N)"
    )
    assert reason_kind("missing field `question`") == "missing field `question`"


def test_the_ledger_gives_this_runs_requests(out: Path) -> None:
    manifest = manifest_of(out)
    points = ledger_timeline(out, manifest)
    assert 2 <= len(points) <= TIMELINE_POINTS + 1
    assert points[-1].requests == manifest["tokens"]["sent_this_run"]
    assert [p.requests for p in points] == sorted(p.requests for p in points)
    assert [p.t for p in points] == sorted(p.t for p in points)
    assert points[-1].t <= manifest["timings"]["seconds"] + 1


def test_rates_over_buckets() -> None:
    points = [TimelinePoint(t=t, requests=r) for t, r in [(0, 0), (5, 10), (10, 30)]]
    xs, ys = rates(points, "requests")
    assert xs == [0.0, 5.0, 10.0] and ys == [2.0, 2.0, 4.0]
    assert rates(points, "records") == ([], [])
