"""A deterministic engine for unit tests: it replays scripted completions.

A script is a function from a request to the texts of its choices (or an exception).
Nothing is called done on this engine alone; end-to-end tests use the real model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from taskseed.runtime.engines.base import ChatRequest, Choice, Completion, Engine

Script = Callable[[ChatRequest], list[str]]


class ScriptedEngine(Engine):
    name = "scripted"

    def __init__(self, script: Script, *, delay_s: float = 0.0, concurrency: int = 8) -> None:
        self.script = script
        self.delay_s = delay_s
        self.max_concurrency = concurrency
        self.calls: list[ChatRequest] = []

    @property
    def model(self) -> str:
        return "scripted"

    async def generate(self, request: ChatRequest) -> Completion:
        self.calls.append(request)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        texts = self.script(request)
        choices = tuple(
            Choice(text=text, completion_tokens=max(len(text) // 4, 1)) for text in texts
        )
        return Completion(
            choices=choices,
            prompt_tokens=sum(len(m.content) // 4 for m in request.messages),
            completion_tokens=sum(c.completion_tokens for c in choices),
            model=self.model,
        )

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "model": self.model}
