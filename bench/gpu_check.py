"""`make gpu-check`: TensorRT-LLM on a real GPU, in process and through trtllm-serve.

CI has no GPU and cannot install TensorRT-LLM, so the `trtllm` engine and the trtllm-serve
recipe are contract-tested only (docs/engines.md). This is the check to run the day a
machine with an NVIDIA GPU and TensorRT-LLM 1.0 is at hand:

    make gpu-check                                   # TinyLlama-1.1B-Chat, both routes
    make gpu-check GPU_CHECK_MODEL=Qwen/Qwen2.5-0.5B-Instruct
    python bench/gpu_check.py --routes serve --base-url http://host:8000/v1 --model NAME

For each route (`inprocess`: the `trtllm` engine; `serve`: trtllm-serve, which the check
starts with the recipe's options and stops again, driven by the `openai` engine) it sends
a few seed items of two tasks (multiple choice and arithmetic, each with a JSON schema),
k samples each, and checks:

- the k samples of a request differ (sampling is real, so the majority vote measures
  something);
- the same seeds give the same answers again, and other seeds other answers;
- every answer is JSON that satisfies the request's schema (guided decoding works);
then prints tokens per second under load, and finally runs `taskseed run` on a few
fixture seeds of two tasks through the route. Exit status: 0 when every check passes,
1 when one fails, 2 when TensorRT-LLM or a GPU is missing (with a message saying which).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskseed.runtime.engines.base import ChatRequest, Completion, Engine, Message, Sampling

ROUTES = ("inprocess", "serve")
EXIT_OK, EXIT_FAILED, EXIT_MISSING = 0, 1, 2
REPO = Path(__file__).resolve().parent.parent
PIPELINE_TASKS = "arc/easy,gsm8k"

SYSTEM = "You answer exam questions. Reply with a JSON object only."

# Two tasks, a few seed items each: a multiple-choice question whose answer must be one
# of its options, and a word problem whose answer is an integer.
CHOICE_ITEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Which part of a plant takes in most of the water it uses?",
        ("the roots", "the petals", "the pollen", "the bark"),
    ),
    (
        "What happens to a puddle on a hot, sunny afternoon?",
        ("it evaporates", "it freezes", "it turns to salt", "it grows deeper"),
    ),
    (
        "Which of these is a source of light?",
        ("a candle flame", "a mirror", "the moon's surface", "a window pane"),
    ),
)
ARITHMETIC_ITEMS: tuple[str, ...] = (
    "A baker fills 7 trays with 12 rolls each and sells 30 rolls. How many rolls are left?",
    "A bus carries 48 people. At the first stop 9 get off and 15 get on. How many are aboard?",
    "Lena reads 18 pages a day for 5 days, then 7 pages on the sixth day. How many pages?",
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


# --------------------------------------------------------------------------- requests


def choice_schema(options: Sequence[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string", "maxLength": 300},
            "answer": {"type": "string", "enum": list(options)},
        },
        "required": ["reasoning", "answer"],
    }


ARITHMETIC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "maxLength": 300},
        "answer": {"type": "integer"},
    },
    "required": ["reasoning", "answer"],
}


def build_requests(
    *, seeds: int, k: int, temperature: float, max_tokens: int, seed: int
) -> list[ChatRequest]:
    """`seeds` items of each task, k samples each; item i of a task has seed `seed + i`."""
    requests = []
    for i, (question, options) in enumerate(CHOICE_ITEMS[:seeds]):
        listed = "\n".join(f"- {o}" for o in options)
        prompt = f"{question}\nOptions:\n{listed}\nGive your reasoning, then the option's text."
        requests.append(
            _request(prompt, choice_schema(options), k, temperature, max_tokens, seed + i)
        )
    for i, question in enumerate(ARITHMETIC_ITEMS[:seeds]):
        prompt = f"{question}\nGive your reasoning, then the answer as a number."
        requests.append(_request(prompt, ARITHMETIC_SCHEMA, k, temperature, max_tokens, seed + i))
    return requests


def _request(
    prompt: str, schema: dict[str, Any], k: int, temperature: float, max_tokens: int, seed: int
) -> ChatRequest:
    return ChatRequest(
        messages=(Message("system", SYSTEM), Message("user", prompt)),
        sampling=Sampling(temperature=temperature, top_p=0.95, max_tokens=max_tokens, seed=seed),
        n=k,
        json_schema=schema,
    )


def reseeded(requests: Sequence[ChatRequest], offset: int) -> list[ChatRequest]:
    out = []
    for r in requests:
        seed = (r.sampling.seed or 0) + offset
        sampling = Sampling(
            temperature=r.sampling.temperature,
            top_p=r.sampling.top_p,
            max_tokens=r.sampling.max_tokens,
            stop=r.sampling.stop,
            seed=seed,
        )
        out.append(
            ChatRequest(messages=r.messages, sampling=sampling, n=r.n, json_schema=r.json_schema)
        )
    return out


# ----------------------------------------------------------------------------- checks


def texts(completion: Completion) -> list[str]:
    return [c.text for c in completion.choices]


def check_samples_differ(completions: Sequence[Completion], k: int) -> Check:
    """Every request got k samples, and in most of them they are not one answer k times."""
    short = [i for i, c in enumerate(completions) if len(c.choices) != k]
    if short:
        return Check("k samples differ", False, f"requests {short} did not get {k} samples")
    varied = sum(len(set(texts(c))) > 1 for c in completions)
    ok = varied * 2 >= len(completions) and varied > 0
    detail = f"{varied}/{len(completions)} requests have more than one distinct sample"
    return Check("k samples differ", ok, detail)


def check_reproducible(first: Sequence[Completion], second: Sequence[Completion]) -> Check:
    differ = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if texts(a) != texts(b)]
    detail = "identical" if not differ else f"requests {differ} answered differently"
    return Check("same seed, same answers", not differ, detail)


def check_reseeded(first: Sequence[Completion], other: Sequence[Completion]) -> Check:
    changed = sum(texts(a) != texts(b) for a, b in zip(first, other, strict=True))
    ok = changed * 2 >= len(first) and changed > 0
    return Check("other seeds, other answers", ok, f"{changed}/{len(first)} requests changed")


def schema_problem(text: str, schema: dict[str, Any]) -> str | None:
    """Why `text` does not satisfy one of the check's schemas (None when it does)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not JSON ({exc.msg})"
    if not isinstance(value, dict):
        return "not a JSON object"
    for key in schema.get("required", ()):
        if key not in value:
            return f"no `{key}`"
    for key, rule in schema.get("properties", {}).items():
        if key not in value:
            continue
        item = value[key]
        if "enum" in rule and item not in rule["enum"]:
            return f"`{key}` is not one of the options"
        if rule.get("type") == "integer" and (isinstance(item, bool) or not isinstance(item, int)):
            return f"`{key}` is not an integer"
        if rule.get("type") == "string" and not isinstance(item, str):
            return f"`{key}` is not a string"
    return None


def check_json(requests: Sequence[ChatRequest], completions: Sequence[Completion]) -> Check:
    problems = []
    total = 0
    for i, (req, completion) in enumerate(zip(requests, completions, strict=True)):
        for j, choice in enumerate(completion.choices):
            total += 1
            problem = schema_problem(choice.text, req.json_schema or {})
            if problem is not None:
                problems.append(f"request {i} sample {j}: {problem}")
    detail = f"{total - len(problems)}/{total} answers valid" + (
        f"; first: {problems[0]}" if problems else ""
    )
    return Check("guided JSON parses", not problems and total > 0, detail)


def tokens_per_second(completions: Sequence[Completion], seconds: float) -> float:
    return sum(c.completion_tokens for c in completions) / max(seconds, 1e-9)


# ------------------------------------------------------------------------ environment


def gpus() -> list[str]:
    """The NVIDIA GPUs `nvidia-smi -L` lists (none when it is missing or fails)."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    try:
        out = subprocess.run([tool, "-L"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line for line in out.stdout.splitlines() if line.startswith("GPU ")]


def tensorrt_llm_problem() -> str | None:
    """Why TensorRT-LLM cannot be used by this Python (None when it imports)."""
    from taskseed.runtime.engines.base import EngineError
    from taskseed.runtime.engines.trtllm import load_tensorrt_llm

    try:
        load_tensorrt_llm()
    except EngineError as exc:
        return f"{exc} [{sys.executable}]"
    return None


def environment_problems(args: argparse.Namespace) -> list[str]:
    """What is missing for the routes asked for; a server given by --base-url needs nothing."""
    needs_local = "inprocess" in args.routes or ("serve" in args.routes and not args.base_url)
    if not needs_local:
        return []
    problems = []
    if not gpus():
        problems.append("no NVIDIA GPU found (`nvidia-smi -L` lists none, or is not installed)")
    problem = tensorrt_llm_problem()
    if problem is not None:
        problems.append(problem)
    if "serve" in args.routes and not args.base_url and serve_binary() is None:
        problems.append("trtllm-serve is not on PATH (it comes with TensorRT-LLM)")
    return problems


# ----------------------------------------------------------------------- trtllm-serve


def serve_config(guided_decoding_backend: str) -> dict[str, Any]:
    """The recipe's --extra_llm_api_options (docs/engines.md): real sampling, JSON schemas."""
    return {
        "guided_decoding_backend": guided_decoding_backend,
        "enable_trtllm_sampler": True,
    }


def serve_config_text(config: dict[str, Any]) -> str:
    return "".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items())


def serve_binary() -> str | None:
    beside = Path(sys.executable).with_name("trtllm-serve")
    if beside.is_file():
        return str(beside)
    return shutil.which("trtllm-serve")


def serve_command(
    args: argparse.Namespace, port: int, config_path: Path, binary: str = "trtllm-serve"
) -> list[str]:
    return [
        binary,
        args.model,
        "--backend",
        "pytorch",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--max_batch_size",
        str(args.max_batch_size),
        "--kv_cache_free_gpu_memory_fraction",
        str(args.kv_cache_free_gpu_memory_fraction),
        "--extra_llm_api_options",
        str(config_path),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"trtllm-serve exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"trtllm-serve did not answer {url} within {timeout_s:g} s")
        time.sleep(2)


@contextlib.contextmanager
def trtllm_serve(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    """trtllm-serve with the recipe's options on a free loopback port; yields its /v1 URL."""
    config = workdir / "trtllm-serve.yaml"
    config.write_text(serve_config_text(serve_config(args.guided_decoding_backend)))
    port = args.port or free_port()
    command = serve_command(args, port, config, serve_binary() or "trtllm-serve")
    log = (workdir / "trtllm-serve.log").open("wb")
    print("starting:", " ".join(command), f"(log: {log.name})", flush=True)
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, args.serve_timeout)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop(proc)
        log.close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server's process group (its MPI workers too), then SIGKILL."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGINT, 60), (signal.SIGKILL, 30)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


# ------------------------------------------------------------------------------ route


async def _send(
    engine: Engine, requests: Sequence[ChatRequest], sequential: bool
) -> list[Completion]:
    if sequential:  # one request at a time: the same batches each time, so seeds reproduce
        return [await engine.generate(r) for r in requests]
    return list(await asyncio.gather(*(engine.generate(r) for r in requests)))


async def check_engine(engine: Engine, args: argparse.Namespace) -> tuple[list[Check], float]:
    requests = build_requests(
        seeds=args.seeds,
        k=args.k,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        seed=args.seed,
    )
    first = await _send(engine, requests, sequential=True)
    second = await _send(engine, requests, sequential=True)
    other = await _send(engine, reseeded(requests, 1000), sequential=True)
    checks = [
        check_samples_differ(first, args.k),
        check_reproducible(first, second),
        check_reseeded(first, other),
        check_json([*requests, *requests, *reseeded(requests, 1000)], first + second + other),
    ]
    load = [r for i in range(args.load_rounds) for r in reseeded(requests, 2000 + i)]
    started = time.perf_counter()
    loaded = await _send(engine, load, sequential=False)
    rate = tokens_per_second(loaded, time.perf_counter() - started)
    under_load = check_json(load, loaded)
    checks.append(Check("guided JSON under load", under_load.ok, under_load.detail))
    return checks, rate


def make_engine(route: str, args: argparse.Namespace, base_url: str | None) -> Engine:
    if route == "inprocess":
        from taskseed.runtime.engines.trtllm import TensorRTLLMEngine

        return TensorRTLLMEngine(
            args.model,
            guided_decoding_backend=args.guided_decoding_backend,
            kv_cache_free_gpu_memory_fraction=args.kv_cache_free_gpu_memory_fraction,
            max_batch_size=args.max_batch_size,
        )
    from taskseed.runtime.engines.openai_compat import OpenAICompatEngine

    return OpenAICompatEngine(
        base_url=base_url, model=args.served_model or args.model, guided="trtllm"
    )


def run_route(
    route: str, args: argparse.Namespace, base_url: str | None
) -> tuple[list[Check], float]:
    engine = make_engine(route, args, base_url)

    async def main() -> tuple[list[Check], float]:
        try:
            return await check_engine(engine, args)
        finally:
            await engine.close()

    checks, rate = asyncio.run(main())
    info = engine.describe()
    shown = {
        k: info[k] for k in ("backend", "llm_options", "samples_per_call", "split_n") if k in info
    }
    print(f"[{route}] engine: {shown}")
    return checks, rate


def pipeline_command(
    route: str, args: argparse.Namespace, base_url: str | None, out: Path
) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "taskseed.cli",
        "run",
        str(REPO / "taskspecs"),
        "--root",
        str(REPO),
        "--fixtures",
        "--tasks",
        PIPELINE_TASKS,
        "--limit-seeds",
        str(args.seeds),
        "--seed",
        str(args.seed),
        "--no-progress",
        "-o",
        str(out),
        "--model",
        args.served_model or args.model if route == "serve" else args.model,
    ]
    if route == "serve":
        command += ["--engine", "openai", "--base-url", str(base_url), "--guided", "trtllm"]
    else:
        command += ["--engine", "trtllm"]
    return command


def run_pipeline(
    route: str, args: argparse.Namespace, base_url: str | None, workdir: Path
) -> Check:
    out = workdir / f"pipeline-{route}"
    proc = subprocess.run(
        pipeline_command(route, args, base_url, out),
        capture_output=True,
        text=True,
        timeout=args.pipeline_timeout,
        check=False,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        return Check("taskseed run (two tasks)", False, f"exit {proc.returncode}: {last}")
    manifest = json.loads((out / "manifest.json").read_text())
    counts = manifest.get("counts", {})
    detail = ", ".join(f"{k} {v}" for k, v in counts.items() if isinstance(v, int))
    return Check("taskseed run (two tasks)", True, detail or "finished")


def check_route(route: str, args: argparse.Namespace, workdir: Path) -> list[Check]:
    with contextlib.ExitStack() as stack:
        base_url = args.base_url
        if route == "serve" and base_url is None:
            base_url = stack.enter_context(trtllm_serve(args, workdir))
        started = time.perf_counter()
        checks, rate = run_route(route, args, base_url)
        print(
            f"[{route}] {rate:,.0f} generated tokens per second under load "
            f"({time.perf_counter() - started:.0f} s for the engine checks)"
        )
        if args.pipeline:
            checks.append(run_pipeline(route, args, base_url, workdir))
    return checks


# ------------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", default="TinyLlama/TinyLlama-1.1B-Chat-v1.0")
    parser.add_argument(
        "--routes",
        type=lambda text: tuple(r.strip() for r in text.split(",") if r.strip()),
        default=ROUTES,
        help="comma-separated: inprocess, serve (default both)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seed items per task (at most 3)")
    parser.add_argument("--k", type=int, default=5, help="samples per request")
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--load-rounds", type=int, default=8, help="copies of the items under load")
    parser.add_argument("--guided-decoding-backend", default="xgrammar")
    parser.add_argument("--max-batch-size", type=int, default=256)
    parser.add_argument("--kv-cache-free-gpu-memory-fraction", type=float, default=0.8)
    parser.add_argument("--base-url", help="serve: use this running server instead of starting one")
    parser.add_argument("--served-model", help="serve: the served model's name (default --model)")
    parser.add_argument(
        "--port", type=int, default=0, help="serve: port for trtllm-serve (0: free)"
    )
    parser.add_argument(
        "--serve-timeout", type=float, default=1800.0, help="seconds to wait for it"
    )
    parser.add_argument("--pipeline-timeout", type=float, default=1800.0)
    parser.add_argument(
        "--no-pipeline", dest="pipeline", action="store_false", help="skip the `taskseed run` step"
    )
    args = parser.parse_args(argv)
    unknown = [r for r in args.routes if r not in ROUTES]
    if unknown or not args.routes:
        parser.error(f"--routes takes {', '.join(ROUTES)}; got {', '.join(args.routes) or 'none'}")
    if not 1 <= args.seeds <= min(len(CHOICE_ITEMS), len(ARITHMETIC_ITEMS)):
        parser.error("--seeds must be between 1 and 3")
    if args.k < 2:
        parser.error("--k must be at least 2: the check is that k samples differ")
    if args.temperature <= 0:
        parser.error("--temperature must be above 0: greedy decoding has one answer")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    problems = environment_problems(args)
    if problems:
        print("gpu-check cannot run here:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print(
            "It needs a machine with an NVIDIA GPU and TensorRT-LLM 1.0 (docs/engines.md).",
            file=sys.stderr,
        )
        return EXIT_MISSING
    results: list[tuple[str, Check]] = []
    with tempfile.TemporaryDirectory(prefix="taskseed-gpu-check-") as tmp:
        for route in args.routes:
            try:
                checks = check_route(route, args, Path(tmp))
            except Exception as exc:  # a route that cannot start is a failed check, not a crash
                checks = [Check("route runs", False, f"{type(exc).__name__}: {exc}")]
            results += [(route, check) for check in checks]
    width = max(len(c.name) for _, c in results)
    for route, check in results:
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} [{route}] {check.name.ljust(width)}  {check.detail}")
    failed = sum(not c.ok for _, c in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
