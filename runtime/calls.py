"""Engine calls as the stages make them: bounded, timed out, retried, ledgered.

Requests in flight are bounded by one set of slots shared by every unit of the run; each
call times out after the run's `timeout_s` and is retried with exponential backoff. A
request that still fails is returned as the reason, which the stage turns into a
reject: a failing engine never aborts a run. Every answer goes through the ledger
first (`ledger.LedgeredEngine`), so nothing already paid for is sent again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from taskseed.runtime.engines.base import ChatRequest, Completion, EngineError
from taskseed.runtime.ledger import LedgeredEngine
from taskseed.runtime.slots import Slots


@dataclass
class EngineCalls:
    engine: LedgeredEngine
    slots: Slots  # requests in flight, shared by every unit of the run
    timeout_s: float
    retries: int
    backoff_s: float
    progress: Callable[[str, int], None] = lambda stage, n: None

    async def call(
        self, request: ChatRequest, tokens: Counter[str], stage: str
    ) -> Completion | str:
        """A completion, or the reason the engine could not give one; `tokens` counts
        the request (sent or replayed) and its tokens, in all and for `stage`."""
        last = ""
        for attempt in range(self.retries + 1):
            try:
                async with self.slots:
                    completion, replayed = await asyncio.wait_for(
                        self.engine.generate(request), self.timeout_s
                    )
            except (EngineError, TimeoutError, OSError) as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if isinstance(exc, EngineError) and not exc.retryable:
                    return f"engine refused: {exc}"
                if attempt < self.retries:
                    await asyncio.sleep(self.backoff_s * 2**attempt)
                continue
            tokens["replayed" if replayed else "sent"] += 1
            tokens["prompt"] += completion.prompt_tokens
            tokens["completion"] += completion.completion_tokens
            tokens[f"{stage}:requests"] += 1
            tokens[f"{stage}:prompt_tokens"] += completion.prompt_tokens
            tokens[f"{stage}:completion_tokens"] += completion.completion_tokens
            self.progress("requests", 1)
            return completion
        return f"engine failed after {self.retries + 1} attempts: {last}"
