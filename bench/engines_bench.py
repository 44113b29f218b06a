"""`make bench-engines`: the OpenAI-compatible client's cost, and engine utilization.

1. Client cost. A local server that answers instantly (taskseed's fake server, in its
   own process) is sent the same requests by taskseed's client and by the official
   `openai` client with its default settings, at 64, 256 and 1024 requests in flight.
   Printed: CPU milliseconds per request in the client process, and requests per second,
   side by side, with the ratio. Targets: under 1 ms, at least 1,000 requests/s.
2. Engine utilization. The fake server simulates an engine of fixed capacity (at most
   B sequences decoding, one token each per D ms, T tokens per answer: best throughput
   B / D tokens per ms). The whole runtime drives it (a plan with one task, seeds from
   a local file, similar questions plus verification) and its tokens per second are
   reported as a fraction of that capacity, over the span in which the engine had work
   and over the whole run. Target: at least 95%.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from taskseed.compiler.driver import compile_paths
from taskseed.runtime.engines.base import ChatRequest, Message, Sampling
from taskseed.runtime.engines.openai_compat import OpenAICompatEngine
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
LEVELS = (64, 256, 1024)


@contextmanager
def fake_server(*args: str) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskseed.runtime.engines.fake_server", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().split()[-1]
    finally:
        proc.kill()
        proc.wait()


def stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.replace("/v1", "/stats"), timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
    return data


async def measure(
    send: Callable[[int], Awaitable[object]], in_flight: int, count: int
) -> tuple[float, float]:
    """(CPU ms per request, requests per second) for `count` requests, after a warm-up."""
    gate = asyncio.Semaphore(in_flight)

    async def one(index: int) -> None:
        async with gate:
            await send(index)

    await asyncio.gather(*(one(i) for i in range(min(in_flight, 256))))  # warm connections
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return cpu / count * 1000, count / wall


def client_cost(url: str) -> list[tuple[int, tuple[float, float], tuple[float, float]]]:
    from openai import AsyncOpenAI

    rows = []
    for in_flight in LEVELS:

        async def ours(in_flight: int = in_flight) -> tuple[float, float]:
            engine = OpenAICompatEngine(
                base_url=url, model="fake", max_concurrency=in_flight, initial_concurrency=in_flight
            )

            async def send(i: int) -> object:
                request = ChatRequest(
                    messages=(Message("user", f"question {i}"),),
                    sampling=Sampling(temperature=0.7, top_p=1.0, max_tokens=16, seed=i),
                    json_schema=SCHEMA,
                )
                return await engine.generate(request)

            try:
                return await measure(send, in_flight, 6000)
            finally:
                await engine.close()

        async def official(in_flight: int = in_flight) -> tuple[float, float]:
            client = AsyncOpenAI(base_url=url, api_key="not-needed")

            async def send(i: int) -> object:
                return await client.chat.completions.create(
                    model="fake",
                    messages=[{"role": "user", "content": f"question {i}"}],
                    max_tokens=16,
                    seed=i,
                    response_format={
                        "type": "json_schema",
                        "json_schema": {"name": "item", "schema": SCHEMA},
                    },
                )

            try:
                return await measure(send, in_flight, 3000)
            finally:
                await client.close()

        rows.append((in_flight, asyncio.run(ours()), asyncio.run(official())))
    return rows


SPEC = """
task: load
title: Utilization load
domain: knowledge
source: {{citation: "taskseed benchmark", license: CC0-1.0}}
seeds:
  files: seeds.jsonl
  split: train
mapping:
  id: id
  question: question
  choices: options
  answer: {{index: gold}}
answer_format: {{type: multiple_choice, min_options: 3, max_options: 3}}
generate:
  similar_question:
    prompt: "Write a question like: {{{{ seed.question }}}}"
    per_seed: 1
    sampling: {{max_tokens: {tokens}}}
verify:
  prompt: "{{{{ item.question }}}} {{{{ item.choices | join(', ') }}}}"
  k: 2
  threshold: 0.5
  sampling: {{max_tokens: {tokens}}}
dedup: {{enabled: false}}
"""


def utilization(seeds: int, capacity: int, token_ms: float, tokens: int) -> dict[str, float]:
    best = capacity / token_ms * 1000  # tokens per second
    with (
        tempfile.TemporaryDirectory() as tmp,
        fake_server(
            "--capacity", str(capacity), "--token-ms", str(token_ms), "--tokens", str(tokens)
        ) as url,
    ):
        root = Path(tmp)
        (root / "spec").mkdir()
        (root / "spec/load.yaml").write_text(SPEC.format(tokens=tokens))
        with (root / "spec/seeds.jsonl").open("w") as handle:
            for i in range(seeds):
                row = {
                    "id": f"s{i}",
                    "question": f"Which instrument number {i} is used?",
                    "options": [f"tool {i}", f"gauge {i}", f"meter {i}"],
                    "gold": i % 3,
                }
                handle.write(json.dumps(row) + "\n")
        result = compile_paths([root / "spec"], root=root)
        assert result.plan is not None, [d.message for d in result.diagnostics]
        plan = result.plan
        engine = OpenAICompatEngine(base_url=url, model="fake", max_concurrency=512)
        config = RunConfig(out=root / "out", options=RunOptions(root=root), concurrency=1024)
        progress = StageProgress(Console(quiet=True), enabled=False, units=1)

        async def main() -> dict[str, Any]:
            try:
                return await run_plan(plan, plan.units, engine, config, progress)
            finally:
                await engine.close()

        start = time.perf_counter()
        manifest = asyncio.run(main())
        wall = time.perf_counter() - start
        served = stats(url)
    busy = served["last_done"] - served["first_arrival"]
    return {
        "best": best,
        "tokens": served["tokens"],
        "busy_s": busy,
        "wall_s": wall,
        "busy_share": served["tokens"] / busy / best,
        "wall_share": served["tokens"] / wall / best,
        "peak_concurrency": float(engine.limiter.peak),
        "requests": float(served["answered"]),
        "written": float(manifest["counts"].get("written", 0)),
    }


def main() -> None:
    with fake_server() as url:
        rows = client_cost(url)
    print(
        "1. client cost against a local instant server (median-free single runs, "
        "same server, same requests)"
    )
    print(
        f"   {'in flight':>9} | {'taskseed ms CPU/req':>19} {'req/s':>8} | "
        f"{'openai ms CPU/req':>17} {'req/s':>8} | {'CPU ratio':>9} {'rps ratio':>9}"
    )
    ok = True
    for in_flight, (ours_cpu, ours_rps), (theirs_cpu, theirs_rps) in rows:
        print(
            f"   {in_flight:>9} | {ours_cpu:>19.3f} {ours_rps:>8.0f} | {theirs_cpu:>17.3f} "
            f"{theirs_rps:>8.0f} | {theirs_cpu / ours_cpu:>8.1f}x {ours_rps / theirs_rps:>8.1f}x"
        )
        ok &= ours_cpu < 1.0 and ours_rps >= 1000
    print(
        "   targets: under 1 ms CPU per request and at least 1,000 requests/s: "
        + ("PASS" if ok else "FAIL")
    )

    runs = [utilization(seeds=4000, capacity=64, token_ms=5.0, tokens=32) for _ in range(1)]
    share = statistics.median(r["busy_share"] for r in runs)
    r = runs[0]
    print(
        "2. engine utilization (simulated engine: 64 sequences, 5 ms per token, "
        "32 tokens per answer)"
    )
    print(
        f"   capacity {r['best']:.0f} tokens/s; the runtime sent {r['requests']:.0f} "
        f"requests ({r['tokens']:.0f} tokens), peak concurrency {r['peak_concurrency']:.0f}"
    )
    print(
        f"   while the engine had work ({r['busy_s']:.1f} s): "
        f"{r['tokens'] / r['busy_s']:.0f} tokens/s = {share:.1%} of capacity"
    )
    print(
        f"   over the whole run with seeding and writing ({r['wall_s']:.1f} s): "
        f"{r['wall_share']:.1%}"
    )
    print("   target: at least 95% of capacity: " + ("PASS" if share >= 0.95 else "FAIL"))
    sys.exit(0 if ok and share >= 0.95 else 1)


if __name__ == "__main__":
    main()
