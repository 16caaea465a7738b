"""The tests' wait helper: what it returns, when it gives up and what it says then (on a fake
clock, so nothing here depends on how fast the machine is)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from tests.waiting import WaitTimeout, poll_until, wait_until, wait_until_async

T = TypeVar("T")


def _answers(*values: T) -> Callable[[], T]:
    """A predicate that returns ``values`` one call after the other (then the last forever)."""
    queue = list(values)

    def predicate() -> T:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return predicate


class FakeClock:
    """``time.monotonic`` / ``time.sleep`` that only move when slept on; records the pauses."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(time, "monotonic", fake.monotonic)
    monkeypatch.setattr(time, "sleep", fake.sleep)
    return fake


def test_returns_the_first_truthy_value(clock: FakeClock) -> None:
    got = wait_until(_answers(None, 0, [], {"n": 3}), timeout_s=10, what="n", interval_s=0.5)
    assert got == {"n": 3}
    assert clock.pauses == [0.5, 0.5, 0.5]  # one pause between two polls, none after


def test_a_condition_that_already_holds_is_not_waited_for(clock: FakeClock) -> None:
    assert wait_until(lambda: "ready", timeout_s=10, what="ready") == "ready"
    assert clock.pauses == []


def test_times_out_naming_what_and_the_last_value(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: {}, timeout_s=2.5, what="the worker's ready flag", interval_s=1)
    assert str(err.value) == (
        "timed out after 2.5s waiting for the worker's ready flag (last value: {})"
    )
    assert (err.value.what, err.value.timeout_s, err.value.last) == (
        "the worker's ready flag",
        2.5,
        {},
    )
    assert isinstance(err.value, AssertionError)  # reads as a failed test, not an error


def test_the_last_poll_is_at_the_deadline(clock: FakeClock) -> None:
    calls: list[float] = []

    def predicate() -> bool:
        calls.append(clock.now - 1000.0)
        return False

    assert poll_until(predicate, timeout_s=1.0, interval_s=0.4) is False
    assert calls == pytest.approx([0.0, 0.4, 0.8, 1.0])  # the last pause is cut to the deadline


def test_poll_until_returns_the_last_falsy_value(clock: FakeClock) -> None:
    assert poll_until(_answers(None, 0, ""), timeout_s=5, interval_s=1) == ""
    assert poll_until(_answers(0, 0, 2), timeout_s=5, interval_s=1) == 2


def test_poll_until_reads_until_the_reading_satisfies_until(clock: FakeClock) -> None:
    readings = _answers((0, 3), (2, 3), (3, 3), (4, 3))
    assert poll_until(readings, until=lambda r: r[0] == r[1], timeout_s=60) == (3, 3)
    stuck = _answers({"p0": 5}, {"p0": 2})
    assert poll_until(stuck, until=lambda lag: not any(lag.values()), timeout_s=1) == {"p0": 2}


class _NotYet:
    """A falsy value with a long repr (e.g. a status object listing every pending item)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "pending: " + ", ".join(f"item-{i}" for i in range(1000))


def test_a_long_last_value_is_cut_in_the_message(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout) as err:
        wait_until(lambda: _NotYet(), timeout_s=0, what="every item")
    message = str(err.value)
    assert message.startswith("timed out after 0s waiting for every item (last value: pending: ")
    assert message.endswith("...)") and len(message) < 600


def test_what_the_predicate_raises_propagates(clock: FakeClock) -> None:
    def died() -> bool:
        raise RuntimeError("the process exited with 3")

    with pytest.raises(RuntimeError, match="exited with 3"):
        wait_until(died, timeout_s=60, what="never")
    assert clock.pauses == []


def test_the_async_variant_yields_to_the_loop_until_the_condition_holds() -> None:
    async def main() -> int:
        seen: list[int] = []

        async def producer() -> None:
            for i in range(1, 4):
                seen.append(i)
                await asyncio.sleep(0)

        task = asyncio.ensure_future(producer())
        got = await wait_until_async(
            lambda: len(seen) >= 3 and len(seen), timeout_s=30, what="3", interval_s=0
        )
        await task
        return got

    assert asyncio.run(main()) == 3


def test_the_async_variant_times_out_with_the_same_message() -> None:
    async def main() -> None:
        await wait_until_async(lambda: 0, timeout_s=0, what="frames")

    with pytest.raises(WaitTimeout, match=r"waiting for frames \(last value: 0\)"):
        asyncio.run(main())
