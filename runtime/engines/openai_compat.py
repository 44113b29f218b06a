"""An engine for any server that speaks the OpenAI chat completions API.

trtllm-serve, vLLM, SGLang, NVIDIA NIM and llama.cpp's server all do. The client is
built for throughput: one aiohttp session with keep-alive connections, request bodies
encoded and responses decoded by msgspec (no per-request pydantic models), and an
adaptive concurrency limit so that hundreds of requests stay in flight without
drowning the server. Retries with exponential backoff (honouring Retry-After) on 429,
5xx, timeouts, dropped connections and truncated bodies; other 4xx errors are final.

Guided JSON decoding is sent in the form the server understands (`guided`):
- `openai`: `response_format: {type: json_schema, json_schema: {name, schema}}`
  (OpenAI, vLLM, SGLang, NIM);
- `vllm`: `structured_outputs: {json: schema}` (vLLM 0.10 and newer);
- `vllm-legacy`: `guided_json: schema` (older vLLM);
- `trtllm`: `response_format: {type: json, schema}` (trtllm-serve with a guided
  decoding backend configured);
- `llama-cpp`: `response_format: {type: json_object, schema}` (llama-cpp-python's server);
- `none`: no constraint.
`n` samples are asked for in one request (one prompt prefix); servers that return
fewer choices than asked get follow-up requests for the rest. A server that refuses
`n > 1` outright (trtllm-serve 1.0 on its PyTorch backend answers HTTP 400 "Multiple
response is not supported in PyTorch workflow") gets `n` requests of one sample each, with
seeds `seed + i`; the engine learns this from the first refusal and splits every later
request from the start (`split_n=True` asks for it from the beginning).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from typing import Any, Literal

import aiohttp
import msgspec

from taskseed.runtime.engines.base import (
    ChatRequest,
    Choice,
    Completion,
    Engine,
    EngineError,
    RequestRefused,
)
from taskseed.runtime.engines.limiter import AdaptiveLimiter

Guided = Literal["openai", "vllm", "vllm-legacy", "trtllm", "llama-cpp", "none"]
GUIDED: tuple[str, ...] = ("openai", "vllm", "vllm-legacy", "trtllm", "llama-cpp", "none")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
# How servers word a refusal of n > 1 (HTTP 400): trtllm-serve 1.0 says "Multiple response
# is not supported in PyTorch workflow"; others say "n > 1 is not supported", "only n=1 is
# supported" or "n must be 1".
N_REFUSED = re.compile(
    r"multiple (responses?|choices|completions) (is|are) not supported"
    r"|\bn\s*(>|>=|!=)\s*1\b[^.]{0,40}not (supported|allowed)"
    r"|only\s+n\s*=\s*1|\bn\s+must\s+be\s+1\b",
    re.IGNORECASE,
)


class _Message(msgspec.Struct):
    content: str | None = None


class _Choice(msgspec.Struct):
    message: _Message = msgspec.field(default_factory=_Message)
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Response(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage = msgspec.field(default_factory=_Usage)
    model: str = ""


_decode = msgspec.json.Decoder(_Response).decode
_encode = msgspec.json.Encoder().encode


class Retryable(Exception):
    def __init__(self, reason: str, *, overload: bool = False, wait: float | None = None) -> None:
        super().__init__(reason)
        self.overload = overload
        self.wait = wait


class SamplesRefused(RequestRefused):
    """The server refuses more than one sample per request: ask for them one at a time."""


def refuses_samples(status: int, text: str) -> bool:
    """Whether an error answer to a request with n > 1 refuses n itself."""
    return status in (400, 422) and N_REFUSED.search(text) is not None


class OpenAICompatEngine(Engine):
    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        guided: str = "openai",
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int = 512,
        initial_concurrency: int = 32,
        timeout_s: float = 600.0,
        retries: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        split_n: bool = False,
    ) -> None:
        base = base_url or os.environ.get("TASKSEED_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not base:
            raise EngineError(
                "the openai engine needs a server: --base-url URL or TASKSEED_BASE_URL"
            )
        if not model:
            raise EngineError("the openai engine needs the served model's name: --model NAME")
        if guided not in GUIDED:
            raise EngineError(f"unknown --guided `{guided}`; one of {', '.join(GUIDED)}")
        self.url = base.rstrip("/") + "/chat/completions"
        self.served_model = model
        self.guided = guided
        self.extra_body = dict(extra_body or {})
        key = api_key or os.environ.get("TASKSEED_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.max_concurrency = max_concurrency
        self.limiter = AdaptiveLimiter(initial_concurrency, max_concurrency)
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._session: aiohttp.ClientSession | None = None
        self.retried: dict[str, int] = {}
        # One sample per request: asked for, or learned from the server's refusal of n > 1.
        self.split_n = split_n
        self.split_reason = "asked for (split_n=True)" if split_n else ""

    @property
    def model(self) -> str:
        # The served model's name, not the URL: a server restarted on another port (or a
        # replica behind another address) answers the same requests from the ledger.
        return self.served_model

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "model": self.served_model,
            "url": self.url,
            "guided": self.guided,
            "max_concurrency": self.max_concurrency,
            "peak_concurrency": self.limiter.peak,
            "concurrency_decreases": self.limiter.decreases,
            "retries": dict(sorted(self.retried.items())),
            "split_n": self.split_n,
            "split_reason": self.split_reason,
        }

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self.max_concurrency,
                limit_per_host=self.max_concurrency,
                keepalive_timeout=60,
                ttl_dns_cache=300,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=self.headers,
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    # ------------------------------------------------------------------- body

    def body(
        self, request: ChatRequest, n: int, seed_offset: int, *, split: bool = False
    ) -> dict[str, Any]:
        """The request body for `n` samples, the first of which is sample `seed_offset`.

        A split request (one sample of several) always carries a seed: without one, a
        server with a fixed default seed (trtllm-serve) would answer every split alike.
        """
        sampling = request.sampling
        body: dict[str, Any] = {
            "model": self.served_model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            "n": n,
        }
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None or split:
            body["seed"] = ((sampling.seed or 0) + seed_offset) % (2**31)
        schema = request.json_schema
        if schema is not None:
            if self.guided == "openai":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "item", "schema": schema},
                }
            elif self.guided == "vllm":
                body["structured_outputs"] = {"json": schema}
            elif self.guided == "vllm-legacy":
                body["guided_json"] = schema
            elif self.guided == "trtllm":
                body["response_format"] = {"type": "json", "schema": schema}
            elif self.guided == "llama-cpp":
                body["response_format"] = {"type": "json_object", "schema": schema}
        body.update(self.extra_body)
        return body

    # ------------------------------------------------------------------- call

    async def generate(self, request: ChatRequest) -> Completion:
        choices: list[Choice] = []
        prompt_tokens = completion_tokens = 0
        model = ""
        rounds = 0
        while len(choices) < request.n:
            wanted = request.n - len(choices)
            if wanted > 1 and self.split_n:
                responses = await self._split(request, len(choices), wanted)
            else:
                try:
                    body = self.body(request, wanted, len(choices))
                    responses = [await self._with_retries(body, wanted)]
                except SamplesRefused as exc:
                    self._learn_split(exc)
                    continue
            got = [
                Choice(text=c.message.content or "", finish_reason=c.finish_reason or "stop")
                for response in responses
                for c in response.choices[: wanted if len(responses) == 1 else 1]
            ]
            if not got:
                raise EngineError("the server answered with no choices")
            choices.extend(got)
            for response in responses:
                prompt_tokens += response.usage.prompt_tokens
                completion_tokens += response.usage.completion_tokens
                model = response.model or model
            rounds += 1
            if rounds > request.n:
                raise EngineError("the server keeps returning fewer choices than asked")
        share = completion_tokens // max(len(choices), 1)
        return Completion(
            choices=tuple(msgspec.structs.replace(c, completion_tokens=share) for c in choices),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model=model or self.served_model,
        )

    async def _split(self, request: ChatRequest, start: int, count: int) -> list[_Response]:
        """`count` requests of one sample each, samples `start ...`, in flight together."""
        tasks = [
            asyncio.ensure_future(self._with_retries(self.body(request, 1, start + i, split=True)))
            for i in range(count)
        ]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # one failed, or the request was cancelled: stop the others
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _learn_split(self, exc: SamplesRefused) -> None:
        if not self.split_n:
            self.split_n = True
            self.split_reason = f"learned: {exc}"

    async def _with_retries(self, body: dict[str, Any], n: int = 1) -> _Response:
        payload = _encode(body)
        last = ""
        for attempt in range(self.retries + 1):
            admission = await self.limiter.acquire()
            try:
                response = await self._post(payload, n)
            except Retryable as exc:
                if exc.overload:
                    self.limiter.overloaded(admission)
                last = str(exc)
                kind = last.split(":", 1)[0]
                self.retried[kind] = self.retried.get(kind, 0) + 1
                wait = exc.wait
            else:
                self.limiter.succeeded()
                return response
            finally:
                self.limiter.release()
            if attempt < self.retries:
                delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
                await asyncio.sleep(max(wait or 0.0, delay * (0.5 + random.random() / 2)))
        raise RequestRefused(f"gave up after {self.retries + 1} attempts: {last}")

    async def _post(self, payload: bytes, n: int = 1) -> _Response:
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.session().post(self.url, data=payload) as resp:
                    data = await resp.read()
                    status = resp.status
                    retry_after = resp.headers.get("Retry-After")
        except TimeoutError:
            raise Retryable(
                f"timeout: no answer within {self.timeout_s:g} s", overload=True
            ) from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise Retryable(f"connection: {type(exc).__name__}: {exc}") from None
        if status == 200:
            try:
                return _decode(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise Retryable(f"bad body: {exc}") from None
        text = data[:300].decode("utf-8", "replace")
        if status in RETRY_STATUS:
            wait = _seconds(retry_after)
            raise Retryable(f"http {status}: {text}", overload=status == 429, wait=wait)
        if n > 1 and refuses_samples(status, text):
            raise SamplesRefused(f"the server refuses n > 1 (HTTP {status}): {text}")
        raise RequestRefused(f"the server refused the request (HTTP {status}): {text}")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(float(value), 60.0)
    except ValueError:
        return None
