"""`make bench-run`: the runtime's speed on the embedded model, beside llama.cpp alone.

1. Runs the main job's selection through the whole runtime (fresh ledger) and measures
   seeds per minute and generated tokens per second over the wall time.
2. In the same process, sends exactly the same requests (read back from that run's
   ledger, which keeps request bodies for this run: same prompts, sampling, seeds and
   JSON-schema grammars) straight through
   llama-cpp-python, one after another, and measures its tokens per second.
The ratio is the share of raw engine speed the runtime keeps (target: at least 90%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from taskseed.compiler.driver import compile_paths
from taskseed.runtime.engines.llama_cpp import LlamaCppEngine, default_model_path
from taskseed.runtime.ledger import Ledger
from taskseed.runtime.options import RunOptions
from taskseed.runtime.progress import StageProgress
from taskseed.runtime.run import RunConfig, run_plan, select_units


def runtime_pass(out: Path, tasks: list[str], limit: int) -> tuple[dict[str, object], float]:
    result = compile_paths(["taskspecs"])
    assert result.plan is not None, "the catalog must compile"
    plan = result.plan
    units = select_units(plan, tasks)
    engine = LlamaCppEngine()
    # The ledger keeps the request bodies for this run (the audit flag): the raw pass
    # sends exactly those requests again.
    options = RunOptions(use_fixtures=True, limit_seeds=limit, ledger_requests=True)
    config = RunConfig(out=out, options=options)
    progress = StageProgress(Console(quiet=True), enabled=False, units=len(units))

    async def main() -> dict[str, object]:
        try:
            return await run_plan(plan, units, engine, config, progress)
        finally:
            await engine.close()

    start = time.perf_counter()
    manifest = asyncio.run(main())
    return manifest, time.perf_counter() - start


def raw_pass(ledger: Path) -> tuple[int, int, float]:
    """Replay the ledger's requests through llama-cpp-python alone."""
    from llama_cpp import Llama
    from llama_cpp.llama_grammar import LlamaGrammar

    recorded = Ledger(ledger)
    requests = list(recorded.requests())
    recorded.close()
    # The same settings as the embedded engine (LlamaCppEngine): context, batch, threads.
    engine = LlamaCppEngine()
    llm = Llama(
        model_path=str(default_model_path()),
        n_ctx=engine.n_ctx,
        n_threads=engine.threads,
        n_batch=512,
        verbose=False,
    )
    grammars: dict[str, LlamaGrammar] = {}
    tokens = 0
    start = time.perf_counter()
    for request in requests:
        schema = json.dumps(request.json_schema) if request.json_schema else None
        grammar = None
        if schema is not None:
            grammar = grammars.get(schema) or LlamaGrammar.from_json_schema(schema, verbose=False)
            grammars[schema] = grammar
        for index in range(request.n):
            seed = request.sampling.seed
            seed = None if seed is None else (seed + index) % (2**31)
            out = llm.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                temperature=request.sampling.temperature,
                top_p=request.sampling.top_p,
                max_tokens=request.sampling.max_tokens,
                stop=list(request.sampling.stop) or None,
                seed=seed,
                grammar=grammar,
            )
            tokens += int(out["usage"]["completion_tokens"])
    seconds = time.perf_counter() - start
    llm.close()
    return len(requests), tokens, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", required=True)
    parser.add_argument("--limit-seeds", type=int, default=3)
    args = parser.parse_args()
    tasks = [t for t in args.tasks.split(",") if t]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        manifest, wall = runtime_pass(out, tasks, args.limit_seeds)
        counts = manifest["counts"]
        tokens = manifest["tokens"]
        assert isinstance(counts, dict) and isinstance(tokens, dict)
        seeds = counts.get("seeds", 0)
        run_tokens = tokens["completion"]
        requests, raw_tokens, raw_seconds = raw_pass(out / "ledger.sqlite")
    run_rate = run_tokens / wall
    raw_rate = raw_tokens / raw_seconds
    print(f"selection: {', '.join(tasks)} (fixtures, {args.limit_seeds} seeds per subtask)")
    print(
        f"runtime : {seeds} seeds, {requests} requests, {run_tokens} generated tokens "
        f"in {wall:.1f} s wall"
    )
    print(f"          {seeds / wall * 60:.1f} seeds/min, {run_rate:.1f} generated tokens/s")
    print(
        f"raw     : the same {requests} requests through llama-cpp-python alone: "
        f"{raw_tokens} tokens in {raw_seconds:.1f} s = {raw_rate:.1f} tokens/s"
    )
    ratio = run_rate / raw_rate
    print(f"ratio   : runtime keeps {ratio:.1%} of raw engine speed (target >= 90%)")
    print("result:", "PASS" if ratio >= 0.9 else "FAIL")
    sys.exit(0 if ratio >= 0.9 else 1)


if __name__ == "__main__":
    main()
