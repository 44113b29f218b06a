"""An engine factory for kill tests: it logs every request it sends, then sends it.

`--engine tests.runtime.recording:make` wraps the engine named by TASKSEED_INNER_ENGINE
(default llama-cpp) and appends "<run tag> <ledger key>" to TASKSEED_SEND_LOG before
each request, so a test can prove that no completed request is ever sent again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from taskseed.runtime.engines import make_engine
from taskseed.runtime.engines.base import ChatRequest, Completion, Engine


class RecordingEngine(Engine):
    def __init__(self, inner: Engine, log: Path, tag: str) -> None:
        self.inner = inner
        self.log = log
        self.tag = tag
        self.name = inner.name
        self.max_concurrency = inner.max_concurrency

    @property
    def model(self) -> str:
        return self.inner.model

    async def generate(self, request: ChatRequest) -> Completion:
        with self.log.open("a") as handle:
            handle.write(f"{self.tag} {request.key(self.inner.model)}\n")
            handle.flush()
            os.fsync(handle.fileno())
        return await self.inner.generate(request)

    async def close(self) -> None:
        await self.inner.close()


def make(**options: Any) -> RecordingEngine:
    inner = make_engine(os.environ.get("TASKSEED_INNER_ENGINE", "llama-cpp"), **options)
    return RecordingEngine(
        inner, Path(os.environ["TASKSEED_SEND_LOG"]), os.environ.get("TASKSEED_RUN_TAG", "run")
    )
