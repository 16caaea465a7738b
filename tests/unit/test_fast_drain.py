"""The inline hand-off runs a coroutine exactly as awaiting it would, whether or not it suspends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.app.fast_drain import FastDrainApp, FastDrainConsumer, run_inline


async def steps(plan: list[int], log: list[str]) -> int:
    """Awaits per plan entry: 0 = an await that does not suspend, 1 = a yield to the loop,
    2 = a future resolved later by the loop; returns the sum of what the awaits produced."""
    total = 0
    loop = asyncio.get_running_loop()
    for i, kind in enumerate(plan):
        if kind == 0:
            total += await _ready(i)
        elif kind == 1:
            await asyncio.sleep(0)
            total += i
        else:
            fut: asyncio.Future[int] = loop.create_future()
            loop.call_soon(fut.set_result, i)
            total += await fut
        log.append(f"step{i}")
    return total


async def _ready(value: int) -> int:
    return value


async def run_via_inline(coro: Any) -> Any:
    finished, rest = run_inline(coro)
    return rest if finished else await rest


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2), max_size=8))
def test_inline_run_gives_what_awaiting_gives(plan: list[int]) -> None:
    async def both() -> tuple[tuple[int, list[str]], tuple[int, list[str]]]:
        direct_log: list[str] = []
        inline_log: list[str] = []
        direct = await steps(plan, direct_log)
        inline = await run_via_inline(steps(plan, inline_log))
        return (direct, direct_log), (inline, inline_log)

    direct, inline = asyncio.run(both())
    assert inline == direct


def test_a_coroutine_that_never_suspends_finishes_inline() -> None:
    async def main() -> None:
        finished, result = run_inline(steps([0, 0, 0], []))
        assert finished and result == 0 + 1 + 2

    asyncio.run(main())


def test_a_suspended_coroutine_is_finished_by_what_run_inline_returns() -> None:
    async def main() -> None:
        log: list[str] = []
        finished, rest = run_inline(steps([0, 2, 0], log))
        assert not finished and log == ["step0"]  # ran up to the future, not past it
        assert await rest == 3
        assert log == ["step0", "step1", "step2"]

    asyncio.run(main())


def test_errors_after_the_suspension_reach_the_awaiter() -> None:
    async def fails_later() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    async def main() -> None:
        finished, rest = run_inline(fails_later())
        assert not finished
        with pytest.raises(ValueError, match="boom"):
            await rest

    asyncio.run(main())


def test_cancelling_the_rest_cancels_the_coroutine_inside() -> None:
    """What wait_first does to a hand-off blocked when the flow stops."""
    cleaned: list[str] = []

    async def blocked(gate: asyncio.Event) -> None:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            cleaned.append("cancelled")
            raise

    async def main() -> None:
        gate = asyncio.Event()
        finished, rest = run_inline(blocked(gate))
        assert not finished
        task = asyncio.ensure_future(rest)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned == ["cancelled"]

    asyncio.run(main())


def test_the_app_uses_the_fast_consumer() -> None:
    app = FastDrainApp("fast-drain-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    assert app.transport.Consumer is FastDrainConsumer
