"""The engine contract: one async call from a rendered chat request to completions.

Every engine (the embedded llama.cpp model, OpenAI-compatible servers, TensorRT-LLM's
in-process API, the scripted test engine) implements `Engine`. Requests and results are
msgspec structs, so the ledger stores them as JSON and a resumed run reads them back
as the same values.
"""

from __future__ import annotations

import abc
import hashlib
from typing import Any, Literal

import msgspec

Role = Literal["system", "user", "assistant"]


class Message(msgspec.Struct, frozen=True, array_like=True):
    role: Role
    content: str


class Sampling(msgspec.Struct, frozen=True, kw_only=True):
    """A request's sampling, as the engine gets it. No defaults here: the plan carries
    every request kind's final sampling (`contract/defaults.py` is its one home)."""

    temperature: float
    top_p: float
    max_tokens: int
    stop: tuple[str, ...] = ()
    seed: int | None = None


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """A chat request with n samples and, optionally, a JSON schema for the output."""

    messages: tuple[Message, ...]
    sampling: Sampling
    n: int = 1
    json_schema: dict[str, Any] | None = None

    def key(self, model: str) -> str:
        """The ledger key: a hash of the request and the model that answers it."""
        body = msgspec.json.encode({"model": model, "request": self}, order="deterministic")
        return hashlib.sha256(body).hexdigest()


class Choice(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    finish_reason: str = "stop"  # stop, length, error
    completion_tokens: int = 0


class Completion(msgspec.Struct, frozen=True, kw_only=True):
    choices: tuple[Choice, ...]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model: str = ""


class EngineError(Exception):
    """A request the engine could not answer. `retryable`: whether trying again may help."""

    retryable = True


class RequestRefused(EngineError):
    """The engine refuses this request as it is (too long, invalid): never retried."""

    retryable = False


class Engine(abc.ABC):
    """An LLM engine. `generate` may be called concurrently up to `max_concurrency`."""

    name: str = "engine"
    max_concurrency: int = 1

    @property
    @abc.abstractmethod
    def model(self) -> str:
        """A stable identity of the model (part of every ledger key)."""

    @abc.abstractmethod
    async def generate(self, request: ChatRequest) -> Completion:
        """Answer one request with `request.n` choices."""

    async def close(self) -> None:  # noqa: B027 - engines without resources keep the default
        """Release threads, connections or GPU memory."""

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "model": self.model}
