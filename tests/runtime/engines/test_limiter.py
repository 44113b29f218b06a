"""The adaptive concurrency limit: grows with successes, halves once per overload window."""

from __future__ import annotations

import asyncio

import pytest

from taskseed.runtime.engines.limiter import AdaptiveLimiter


def test_additive_increase_up_to_the_ceiling() -> None:
    limiter = AdaptiveLimiter(initial=4, ceiling=6)

    async def main() -> None:
        for _ in range(10):
            await limiter.acquire()
            limiter.succeeded()
            limiter.release()

    asyncio.run(main())
    assert limiter.limit == 6 and limiter.peak == 6


def test_multiplicative_decrease_once_per_window() -> None:
    limiter = AdaptiveLimiter(initial=16, ceiling=64)

    async def main() -> None:
        admissions = [await limiter.acquire() for _ in range(8)]
        for admission in admissions:  # a burst of 429s from one window
            limiter.overloaded(admission)
            limiter.release()
        assert limiter.limit == 8 and limiter.decreases == 1
        later = await limiter.acquire()  # a new window may decrease again
        limiter.overloaded(later)
        limiter.release()
        assert limiter.limit == 4 and limiter.decreases == 2

    asyncio.run(main())


def test_in_flight_never_exceeds_the_limit() -> None:
    limiter = AdaptiveLimiter(initial=3, ceiling=3)
    peak = 0

    async def worker() -> None:
        nonlocal peak
        await limiter.acquire()
        peak = max(peak, limiter.in_flight)
        await asyncio.sleep(0.001)
        limiter.release()

    async def main() -> None:
        await asyncio.gather(*(worker() for _ in range(50)))

    asyncio.run(main())
    assert peak == 3 and limiter.in_flight == 0


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimiter(initial=1, ceiling=0)
