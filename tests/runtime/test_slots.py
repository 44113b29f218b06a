"""Request slots: first come, first served; a cancelled waiter neither holds nor loses a
slot; acquiring and releasing cost the same however many wait."""

from __future__ import annotations

import asyncio

from taskseed.runtime.slots import Slots


def test_first_come_first_served_and_bounded() -> None:
    async def main() -> None:
        slots = Slots(2)
        order: list[int] = []
        running = 0
        peak = 0

        async def one(number: int) -> None:
            nonlocal running, peak
            async with slots:
                order.append(number)
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.001)
                running -= 1

        await asyncio.gather(*(one(i) for i in range(50)))
        assert order == list(range(50)) and peak == 2 and slots.free == 2

    asyncio.run(main())


def test_cancelled_waiters_hand_their_slot_on() -> None:
    async def main() -> None:
        slots = Slots(1)
        await slots.acquire()
        waiting = [asyncio.create_task(slots.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        waiting[0].cancel()  # cancelled while waiting: skipped
        await asyncio.sleep(0)
        slots.release()  # goes to the second waiter
        await asyncio.sleep(0)
        assert waiting[1].done() and not waiting[2].done()
        slots.release()
        waiting[2].cancel()  # handed the slot and cancelled in the same step: passes it on
        await asyncio.gather(*waiting, return_exceptions=True)
        assert slots.free == 1
        await asyncio.wait_for(slots.acquire(), 1)

    asyncio.run(main())


def test_ten_thousand_waiters() -> None:
    async def main() -> int:
        slots = Slots(8)
        done = 0

        async def one() -> None:
            nonlocal done
            async with slots:
                await asyncio.sleep(0)
                done += 1

        await asyncio.gather(*(one() for _ in range(10_000)))
        return done

    assert asyncio.run(main()) == 10_000
