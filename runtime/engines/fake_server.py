"""A fake OpenAI-compatible server for tests and benchmarks (as datatrove ships one).

`python -m taskseed.runtime.engines.fake_server --port 0` prints the port it listens on
(loopback only), then serves `/v1/chat/completions`:

- answers are JSON objects shaped by the request's schema (whichever guided-decoding
  form carries it), with `n` choices and usage counts; they are deterministic for a
  request and its seed;
- `--capacity B --token-ms D --tokens T`: a simulated engine that decodes at most B
  sequences at a time, one token each per D milliseconds, T tokens per answer
  (continuous batching), so its best throughput is B / D * 1000 tokens per second;
- `--fault-rate P`: a share P of requests fail, each in one of these ways: HTTP 500,
  HTTP 503, HTTP 429 (with Retry-After), a slow answer (past the client's timeout, if
  --slow-s is above it), a dropped connection, a truncated body;
- `--refuse-n`: every request with n > 1 is refused as trtllm-serve 1.0 refuses it on
  its PyTorch backend (HTTP 400, `N_REFUSAL`);
- `--max-n K`: at most K choices per answer, however many were asked for.
This is a tool for tests; nothing is called done on it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import sys
import time
from collections import Counter
from typing import Any

from aiohttp import web

FAULTS = ("500", "503", "429", "slow", "drop", "truncate")
# trtllm-serve 1.0's answer to n > 1 on the PyTorch backend: its chat and completion
# handlers raise ValueError in check_multiple_response and answer it as an ErrorResponse.
N_REFUSAL: dict[str, Any] = {
    "object": "error",
    "message": "Multiple response is not supported in PyTorch workflow",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
WORDS = (
    "amber",
    "basalt",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "iris",
    "jasper",
    "kelp",
    "lumen",
    "mesa",
    "nectar",
    "onyx",
    "pollen",
    "quill",
    "ridge",
)


def _words(seed: bytes, count: int) -> str:
    digest = hashlib.sha256(seed).digest()
    return " ".join(WORDS[b % len(WORDS)] for b in digest[:count])


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a request, whichever guided-decoding form carries it."""
    fmt = body.get("response_format") or {}
    candidates = []
    if isinstance(fmt, dict):
        wrapped = fmt.get("json_schema")
        candidates.append(wrapped.get("schema") if isinstance(wrapped, dict) else None)
        candidates.append(fmt.get("schema"))
    outputs = body.get("structured_outputs")
    candidates.append(outputs.get("json") if isinstance(outputs, dict) else None)
    candidates.append(body.get("guided_json"))
    for candidate in candidates:
        if isinstance(candidate, dict):
            return candidate
    return None


def value_for(schema: dict[str, Any], seed: bytes) -> Any:
    """A value that satisfies the (simple) schemas taskseed sends."""
    if "enum" in schema:
        options = schema["enum"]
        return options[seed[0] % len(options)]
    kind = schema.get("type")
    if kind == "object":
        value = {
            name: value_for(sub, seed + name.encode())
            for name, sub in schema.get("properties", {}).items()
        }
        if isinstance(value.get("choices"), list) and "answer" in value and value["choices"]:
            value["answer"] = value["choices"][seed[0] % len(value["choices"])]  # a real option
        return value
    if kind == "array":
        count = max(schema.get("minItems", 2), 1)
        return [value_for(schema.get("items", {}), seed + bytes([i])) for i in range(count)]
    if kind in ("integer", "number"):
        return seed[0] % 100
    name_hint = seed[-12:]
    return _words(seed + name_hint, 6)


def answer(body: dict[str, Any], index: int) -> str:
    raw = json.dumps(body.get("messages"), sort_keys=True).encode()
    seed = hashlib.sha256(raw + str(body.get("seed")).encode() + bytes([index % 256])).digest()
    schema = schema_of(body)
    if schema is None:
        return _words(seed, 12)
    return json.dumps(value_for(schema, seed))


class FakeServer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats: Counter[str] = Counter()
        self.first_arrival: float | None = None
        self.last_done = 0.0
        self.free = args.capacity  # batch slots not decoding
        self.slots = asyncio.Condition()

    async def completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if self.first_arrival is None:
            self.first_arrival = time.monotonic()
        self.stats["requests"] += 1
        fault = self._fault()
        if fault is not None:
            self.stats[fault] += 1
            return await self._fail(fault, request)
        n = int(body.get("n") or 1)
        if n > 1 and self.args.refuse_n:
            self.stats["refused_n"] += 1
            return web.json_response(N_REFUSAL, status=400)
        if self.args.max_n:
            n = min(n, self.args.max_n)
        tokens = self.args.tokens or min(int(body.get("max_tokens") or 16), 64)
        if self.args.capacity:
            await self._decode(min(n, self.args.capacity), tokens)
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": answer(body, i)},
                "finish_reason": "stop",
            }
            for i in range(n)
        ]
        payload = {
            "id": "fake",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": choices,
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": tokens * n,
                "total_tokens": 10 + tokens * n,
            },
        }
        self.stats["answered"] += 1
        self.stats["tokens"] += tokens * n
        self.last_done = time.monotonic()
        return web.Response(body=json.dumps(payload).encode(), content_type="application/json")

    async def _decode(self, sequences: int, tokens: int) -> None:
        """Occupy `sequences` batch slots, all at once, for `tokens` decoding steps."""
        async with self.slots:
            await self.slots.wait_for(lambda: self.free >= sequences)
            self.free -= sequences
        try:
            await asyncio.sleep(tokens * self.args.token_ms / 1000)
        finally:
            async with self.slots:
                self.free += sequences
                self.slots.notify_all()

    def _fault(self) -> str | None:
        if self.args.fault_rate and self.rng.random() < self.args.fault_rate:
            return self.rng.choice(FAULTS)
        return None

    async def _fail(self, fault: str, request: web.Request) -> web.StreamResponse:
        if fault in ("500", "503"):
            return web.json_response({"error": {"message": "injected"}}, status=int(fault))
        if fault == "429":
            return web.json_response(
                {"error": {"message": "slow down"}}, status=429, headers={"Retry-After": "0.05"}
            )
        if fault == "slow":
            await asyncio.sleep(self.args.slow_s)
            return web.json_response({"error": {"message": "too late"}}, status=503)
        transport = request.transport
        if fault == "drop":
            if transport is not None:
                transport.abort()
            raise web.HTTPServiceUnavailable()
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.content_length = 400
        await response.prepare(request)
        await response.write(b'{"id": "fake", "choices": [{"message": {"cont')
        if transport is not None:
            transport.abort()
        return response

    async def stats_view(self, request: web.Request) -> web.Response:
        del request
        times = {"first_arrival": self.first_arrival or 0.0, "last_done": self.last_done}
        return web.json_response({**self.stats, **times})


def app(args: argparse.Namespace) -> web.Application:
    server = FakeServer(args)
    application = web.Application()
    application.router.add_post("/v1/chat/completions", server.completions)
    application.router.add_get("/stats", server.stats_view)
    return application


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--capacity", type=int, default=0, help="max sequences decoding")
    parser.add_argument("--token-ms", type=float, default=1.0)
    parser.add_argument("--tokens", type=int, default=0, help="tokens per answer")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--slow-s", type=float, default=5.0)
    parser.add_argument("--max-n", type=int, default=0, help="return at most this many choices")
    parser.add_argument(
        "--refuse-n", action="store_true", help="refuse n > 1 as trtllm-serve 1.0 does (HTTP 400)"
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    runner = web.AppRunner(app(args), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, backlog=4096)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else args.port
    print(f"listening on http://127.0.0.1:{port}/v1", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    try:
        asyncio.run(serve(parse_args(argv)))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
