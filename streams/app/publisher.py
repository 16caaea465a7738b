"""Publish output records with one confluent-kafka producer (librdkafka, C) in batches.

faust's aiokafka producer costs a Python coroutine, a partitioner call and a future per record;
here a batch is handed to librdkafka in one loop and awaited as one future that resolves when
every record of it is delivered (acks=all), so the caller can run input acks only then
(at-least-once). Delivery callbacks run on a dedicated poll thread and wake the event loop once
per batch. Keys are partitioned with murmur2 like the Java client and aiokafka, so outputs land
on the same partitions as before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from streams.settings import Settings

Record = tuple[str, bytes, bytes]  # topic, key, value


class DeliveryFailed(KafkaException):
    """At least one record of a batch was not delivered; its input must not be acked."""


class _Batch:
    """Counts the outstanding deliveries of one batch; resolves its future at zero."""

    __slots__ = ("error", "future", "loop", "remaining")

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.remaining = size
        self.error: KafkaError | None = None

    def delivered(self, err: KafkaError | None, _msg: Message) -> None:  # poll thread
        if err is not None and self.error is None:
            self.error = err
        self.remaining -= 1
        if self.remaining == 0:
            self.loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:  # event loop
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(DeliveryFailed(self.error))
        else:
            self.future.set_result(None)


class Publisher:
    def __init__(self, settings: Settings, *, linger_ms: float = 1.0) -> None:
        conf: dict[str, Any] = dict(settings.kafka_producer_config())
        conf.update(
            {
                "acks": "all",
                "linger.ms": linger_ms,
                "partitioner": "murmur2_random",  # Java / aiokafka compatible key hashing
                "queue.buffering.max.messages": 500_000,
            }
        )
        self._producer = Producer(conf)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="publisher", daemon=True)
        self._thread.start()
        self.published = 0
        self._outstanding: set[asyncio.Future[None]] = set()  # batches not delivered yet

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def send(self, records: Sequence[Record]) -> asyncio.Future[None]:
        """Hand every record to librdkafka now; the future resolves once all are delivered
        (or fails if any was not). Must be called from the event loop's thread."""
        loop = asyncio.get_running_loop()
        if not records:
            done: asyncio.Future[None] = loop.create_future()
            done.set_result(None)
            return done
        if self._stop.is_set():  # shutting down: the inputs stay unacked and are redelivered
            raise RuntimeError("publisher is closed")
        batch = _Batch(loop, len(records))
        produce = self._producer.produce
        on_delivery = batch.delivered
        for topic, key, value in records:
            while True:
                try:
                    produce(topic, value, key, on_delivery=on_delivery)
                    break
                except BufferError:  # local queue full: back-pressure until the poll thread
                    time.sleep(0.001)  # has served some deliveries (only it runs callbacks)
        self.published += len(records)
        self._outstanding.add(batch.future)
        batch.future.add_done_callback(self._outstanding.discard)
        return batch.future

    async def sent_delivered(self) -> None:
        """Wait until every batch handed in so far is delivered (raise if one was not): what a
        checkpoint taken now claims is published."""
        pending = list(self._outstanding)
        if pending:
            for result in await asyncio.gather(*pending, return_exceptions=True):
                if isinstance(result, BaseException):
                    raise result

    async def publish(self, records: Sequence[Record]) -> None:
        """Produce every record; return once all are delivered (raise if any was not)."""
        await self.send(records)

    def close(self, timeout_s: float = 10.0) -> None:
        """Stop the poll thread, then deliver what is queued (callbacks run in this thread)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout_s)
        if self._producer.flush(timeout_s):
            self._producer.purge()  # undeliverable now: their inputs stay unacked
            self._producer.poll(0)
        self._producer.close()  # no reconnect attempts after shutdown
