"""Micro-batching: many coroutines submit a few items each; one call handles them all.

Seeds flow through the stages independently, so that no stage waits for its slowest
member, yet vectorised steps (the polars filter) still see batches: items submitted
within `max_delay_s` of each other, or `max_items` of them, are processed together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        process: Callable[[list[T]], Sequence[R]],
        *,
        max_items: int = 512,
        max_delay_s: float = 0.005,
    ) -> None:
        self.process = process
        self.max_items = max_items
        self.max_delay_s = max_delay_s
        self._pending: list[tuple[list[T], asyncio.Future[list[R]]]] = []
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None
        self.batches = 0

    async def submit(self, items: list[T]) -> list[R]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[R]] = loop.create_future()
        self._pending.append((items, future))
        self._count += len(items)
        if self._count >= self.max_items:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_delay_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending, self._count = self._pending, [], 0
        if not pending:
            return
        self.batches += 1
        flat = [item for items, _ in pending for item in items]
        try:
            results = list(self.process(flat))
        except Exception as exc:  # every waiter learns about it
            for _, future in pending:
                if not future.done():
                    future.set_exception(exc)
            return
        start = 0
        for items, future in pending:
            if not future.done():
                future.set_result(results[start : start + len(items)])
            start += len(items)
