"""Adaptive concurrency: additive increase, multiplicative decrease (AIMD).

Engines saturate only with hundreds of requests in flight, but a server pushed past its
capacity answers 429 or stops answering in time. The limit grows by one for each
successful answer (up to a ceiling), and halves on a 429 or a timeout, at most once per
window of requests already in flight, so one burst of rejections counts once.
"""

from __future__ import annotations

import asyncio
from collections import deque


class AdaptiveLimiter:
    def __init__(self, initial: int, ceiling: int, floor: int = 1) -> None:
        if not 1 <= floor <= ceiling:
            raise ValueError("need 1 <= floor <= ceiling")
        self.ceiling = ceiling
        self.floor = floor
        self.limit = float(min(max(initial, floor), ceiling))
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._started = 0  # requests admitted so far
        self._cooldown_until = 0  # no second decrease before this many admissions
        self.decreases = 0
        self.peak = int(self.limit)

    async def acquire(self) -> int:
        """Wait for a slot; returns the admission number (for `overloaded`)."""
        while self.in_flight >= int(self.limit):
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                raise
        self.in_flight += 1
        self._started += 1
        return self._started

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def succeeded(self) -> None:
        if self.limit < self.ceiling:
            self.limit = min(self.ceiling, self.limit + 1.0)
            self.peak = max(self.peak, int(self.limit))
            self._wake()

    def overloaded(self, admission: int) -> None:
        """A 429 or timeout for the request admitted as number `admission`."""
        if admission <= self._cooldown_until:
            return  # part of a window that already caused a decrease
        self.limit = max(float(self.floor), self.limit / 2)
        self._cooldown_until = self._started
        self.decreases += 1

    def _wake(self) -> None:
        free = int(self.limit) - self.in_flight
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
