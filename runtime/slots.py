"""A FIFO counting semaphore whose acquire and release cost the same with ten waiters or
ten thousand.

Every seed of the slices in flight waits for a request slot, so thousands of waiters
are normal. `asyncio.Semaphore` (Python 3.11) removes each waiter from the middle of
its queue and scans past woken ones on every release, which costs time in proportion
to the queue: here a released slot goes straight to the first live waiter, and a
cancelled waiter is skipped when its turn comes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType


class Slots:
    def __init__(self, count: int) -> None:
        self.free = max(count, 1)
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> None:
        if self.free > 0 and not self._waiters:
            self.free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the slot was handed over as this waiter was cancelled
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to this waiter directly
                return
        self.free += 1

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
