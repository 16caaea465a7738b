"""A cheaper per-message hand-off from faust's fetcher to its streams.

faust-streaming's ``Consumer._drain_messages`` hands every fetched message to the conductor
with ``await self.wait_first(callback(message), self.suspend_flow.wait())``: four tasks, an
``asyncio.wait`` and three cancellations per message, so that a hand-off blocked on a full
stream buffer can be abandoned when a rebalance suspends the flow. Measured with a bare
``noack_take`` agent on a pre-filled topic (2 shared cores), that path costs ~240 us of CPU per
message and caps one worker near 4k messages/s.

Almost every hand-off completes without ever suspending (the buffer has room). This driver
runs the hand-off coroutine one step inline; only when it does suspend does the remainder go
through ``wait_first`` exactly as before, so the rebalance and stop behaviour is unchanged.
Selected with the ``fast_drain`` setting (``ALPHASTREAM_FAST_DRAIN``, on by default); numbers
with and without are in docs/stream.md.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Awaitable, Coroutine, Generator
from typing import Any, cast

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as aiokafka_driver
from mode import Service, ServiceT

__all__ = ["FastDrainApp", "FastDrainConsumer", "FastDrainTransport", "run_inline"]

_YIELD_EVERY = 100  # as faust: give other tasks the loop at least every 100 messages


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], pending: Any) -> Generator[Any, Any, Any]:
    """Finish ``coro``, which has already run up to the point where it yielded ``pending``
    (what ``yield from coro`` would do from there on, exceptions and cancellation included)."""
    while True:
        try:
            value = yield pending
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # cancellation or an error thrown in: pass it down
            try:
                pending = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            pending = coro.send(value)
        except StopIteration as stop:
            return stop.value


async def _finish(coro: Coroutine[Any, Any, Any], pending: Any) -> Any:
    return await _resume(coro, pending)


def run_inline(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run ``coro`` up to its first suspension: ``(True, result)`` when it finished without
    suspending, else ``(False, coroutine)`` that finishes it (await it or make it a task)."""
    try:
        pending = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, _finish(coro, pending)


class FastDrainConsumer(aiokafka_driver.Consumer):
    async def _drain_messages(self, fetcher: ServiceT) -> None:  # pragma: no cover - via faust
        # faust's loop (faust/transport/consumer.py), with the hand-off run inline when it can
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        suspended = self.suspend_flow.is_set
        num_since_yield = 0
        sleep = asyncio.sleep
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                ait = cast(AsyncIterator[Any], getmany(timeout=1.0))
                await self.sleep(0)  # getmany may not release the loop between calls
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > _YIELD_EVERY:
                            await sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await self._hand_off(callback(message), suspended)
                            set_read_offset(tp, offset)
                    unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)

    async def _hand_off(self, handoff: Awaitable[Any], suspended: Any) -> None:
        coro = cast(Coroutine[Any, Any, Any], handoff)
        if suspended():  # flow already stopped (rebalance): faust's path, unchanged
            await self.wait_first(coro, self.suspend_flow.wait())
            return
        finished, rest = run_inline(coro)
        if not finished:  # blocked (stream buffer full): abandon it if the flow stops meanwhile
            await self.wait_first(rest, self.suspend_flow.wait())


class FastDrainTransport(aiokafka_driver.Transport):
    Consumer = FastDrainConsumer


class FastDrainApp(faust.App):
    """A faust app whose consumer transport is :class:`FastDrainTransport`."""

    def _new_transport(self) -> Any:
        return FastDrainTransport(self.conf.broker_consumer, self)
