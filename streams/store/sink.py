"""Kafka ``signals`` + ``outcomes`` -> store, at least once.

Batches close at ``max_rows`` messages or ``max_wait_s`` after their first message. Offsets
are committed only after the batch is stored and its dead letters are acknowledged by Kafka.
While the store is down the consumer is paused (it keeps its group membership by polling)
and the same batch is retried with exponential backoff, so nothing is dropped or reordered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streams.contracts.events import DeadLetter
from streams.events import encode
from streams.store.base import Store
from streams.store.batch import Backoff, BatchWriter, RawMessage, SinkStoppedError
from streams.store.metrics import SinkMetrics
from streams.topics import DEAD_LETTER, OUTCOMES, SIGNALS

log = logging.getLogger(__name__)
GROUP_ID = "alphastream-sink"


@dataclass(frozen=True, slots=True)
class SinkConfig:
    signals_topic: str = SIGNALS
    outcomes_topic: str = OUTCOMES
    dead_letter_topic: str = DEAD_LETTER
    group_id: str = GROUP_ID
    max_rows: int = 5000
    max_wait_s: float = 1.0
    backoff: Backoff = field(default_factory=Backoff)

    @classmethod
    def for_prefix(cls, prefix: str, max_rows: int = 5000, max_wait_s: float = 1.0) -> SinkConfig:
        """The topics and group of a deployment whose topic names start with ``prefix``
        (``Settings.topic_prefix``, as the worker names its outputs)."""
        return cls(
            signals_topic=prefix + SIGNALS, outcomes_topic=prefix + OUTCOMES,
            dead_letter_topic=prefix + DEAD_LETTER, group_id=prefix + GROUP_ID,
            max_rows=max_rows, max_wait_s=max_wait_s,
        )  # fmt: skip


class KafkaSink:
    def __init__(
        self,
        kafka_config: dict[str, Any],
        store_factory: Callable[[], Store],
        config: SinkConfig = SinkConfig(),
        metrics: SinkMetrics | None = None,
    ) -> None:
        self.config = config
        self.metrics = metrics or SinkMetrics()
        self._writer = BatchWriter(
            store_factory, config.signals_topic, config.outcomes_topic, self.metrics, config.backoff
        )
        self._consumer = Consumer(
            {
                **kafka_config,
                "group.id": config.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        self._producer = Producer({**kafka_config, "acks": "all"})
        self._stop = threading.Event()
        self._carry: list[RawMessage] = []

    def run(self, stop: threading.Event | None = None) -> None:
        """Consume until ``stop`` is set; then flush once more (if the store is up) and close."""
        self._stop = stop or threading.Event()
        self._consumer.subscribe([self.config.signals_topic, self.config.outcomes_topic])
        try:
            self._loop()
        finally:
            self._writer.close()
            self._consumer.close()
            self._producer.flush(10)

    def _loop(self) -> None:
        pending: list[RawMessage] = []
        opened = 0.0
        while not self._stop.is_set():
            if self._carry:
                pending.extend(self._carry)
                self._carry = []
            if pending and not opened:
                opened = time.monotonic()
            room = self.config.max_rows - len(pending)
            timeout = (
                max(0.0, opened + self.config.max_wait_s - time.monotonic()) if pending else 0.2
            )
            for msg in self._consumer.consume(num_messages=max(1, room), timeout=timeout):
                raw = _raw(msg)
                if raw is not None:
                    pending.append(raw)
            if pending and not opened:
                opened = time.monotonic()
            full = len(pending) >= self.config.max_rows
            if pending and (full or time.monotonic() - opened >= self.config.max_wait_s):
                if not self._flush(pending):
                    return
                pending, opened = [], 0.0
        if pending:
            self._flush(pending, final=True)

    def _flush(self, batch: list[RawMessage], final: bool = False) -> bool:
        """Store, dead-letter and commit one batch; False when stopped before it was stored."""
        wait = self._no_wait if final else self._wait_paused
        try:
            dead = self._writer.process(batch, wait=wait)
        except SinkStoppedError:
            log.info("stopping with %d uncommitted messages; they will be re-read", len(batch))
            return False
        finally:
            self._resume()
        self._send_dead_letters(dead)
        self._commit(batch)
        return True

    def _send_dead_letters(self, dead: list[tuple[RawMessage, DeadLetter]]) -> None:
        failures: list[str] = []

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                failures.append(str(err))

        for msg, letter in dead:
            self._producer.produce(
                self.config.dead_letter_topic, encode(letter), key=msg.key, on_delivery=on_delivery
            )
        while self._producer.flush(1.0) > 0 or failures:
            if failures:  # cannot acknowledge the bad rows: do not commit past them
                raise KafkaException(f"dead-letter delivery failed: {failures[0]}")

    def _commit(self, batch: list[RawMessage]) -> None:
        next_offsets: dict[tuple[str, int], int] = {}
        for msg in batch:
            key = (msg.topic, msg.partition)
            next_offsets[key] = max(next_offsets.get(key, 0), msg.offset + 1)
        offsets = [TopicPartition(t, p, o) for (t, p), o in next_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except (
            KafkaException
        ) as exc:  # e.g. partitions moved in a rebalance: rows are stored, dups dedup
            log.warning("offset commit failed (%s); the new owner re-reads and dedups", exc)

    def _wait_paused(self, seconds: float) -> None:
        """Back off while keeping group membership: pause fetching and keep polling."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stop.is_set():
                raise SinkStoppedError
            assignment = self._consumer.assignment()
            if assignment:
                self._consumer.pause(assignment)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            msg = self._consumer.poll(min(0.2, left))
            raw = _raw(msg) if msg is not None else None
            if raw is not None:  # fetched before the pause took effect: keep it for the next batch
                self._carry.append(raw)

    def _no_wait(self, _seconds: float) -> None:
        raise SinkStoppedError

    def _resume(self) -> None:
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.resume(assignment)


def _raw(msg: Message) -> RawMessage | None:
    err = msg.error()
    if err is not None:
        if err.code() != KafkaError._PARTITION_EOF:
            log.warning("consumer error: %s", err)
        return None
    value: Any = msg.value()
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    if topic is None or partition is None or offset is None:
        return None
    return RawMessage(topic, partition, offset, msg.key(), bytes(value or b""))
