"""The sink's Kafka-free core: decode a batch, write it with retries, split out the bad rows.

``BatchWriter.process`` returns only after every valid row is stored (or ``should_stop`` ends
the wait): a store outage is retried with exponential backoff on the same batch, in the same
order, never dropped. Rows the schema or the store rejects become dead letters with a reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from streams.contracts.events import DeadLetter
from streams.events import DecodeError, Outcome, Signal
from streams.events.decode import dead_letter_for
from streams.store.base import Store, StoreRejectedError, StoreUnavailableError
from streams.store.metrics import SinkMetrics
from streams.store.rows import decode_outcome, decode_signal, outcome_row, signal_row

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Backoff:
    initial_s: float = 0.2
    max_s: float = 10.0
    factor: float = 2.0

    def delay(self, attempt: int) -> float:
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt - 1))


class SinkStoppedError(Exception):
    """Raised out of a retry wait when the sink is asked to stop; nothing is committed."""


Wait = Callable[[float], None]  # sleep that may raise SinkStoppedError
_Parsed = tuple[RawMessage, Any]


class BatchWriter:
    def __init__(
        self,
        store_factory: Callable[[], Store],
        signals_topic: str,
        outcomes_topic: str,
        metrics: SinkMetrics,
        backoff: Backoff = Backoff(),
    ) -> None:
        self._factory = store_factory
        self._store: Store | None = None
        self._topics: dict[
            str, tuple[Callable[[bytes], Signal | Outcome], Callable[[Any], list[Any]]]
        ] = {
            signals_topic: (decode_signal, signal_row),
            outcomes_topic: (decode_outcome, outcome_row),
        }
        self.metrics = metrics
        self.backoff = backoff

    def process(
        self, messages: Sequence[RawMessage], wait: Wait = time.sleep
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Store every valid message; return the dead letters for the rest (in input order)."""
        signals: list[_Parsed] = []
        outcomes: list[_Parsed] = []
        dead: list[tuple[RawMessage, DeadLetter]] = []
        for msg in messages:
            self.metrics.rows_in.labels(topic=msg.topic).inc()
            try:
                event = self._convert(msg)
            except (DecodeError, ValueError, TypeError, KeyError, OverflowError) as exc:
                dead.append((msg, self._dead_letter(msg, exc)))
                continue
            (signals if isinstance(event, Signal) else outcomes).append((msg, event))
        for table, parsed in (("signals", signals), ("outcomes", outcomes)):
            dead.extend(self._write_splitting(table, parsed, wait))
        self.metrics.batch_rows.observe(len(messages))
        dead.sort(key=lambda pair: (pair[0].topic, pair[0].partition, pair[0].offset))
        return dead

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _convert(self, msg: RawMessage) -> Signal | Outcome:
        decode, to_row = self._topics[msg.topic]
        event = decode(msg.value)
        to_row(event)  # raises now if the row cannot be represented, so it dead-letters alone
        return event

    def _write_splitting(
        self, table: str, parsed: list[_Parsed], wait: Wait
    ) -> list[tuple[RawMessage, DeadLetter]]:
        """Write; if the store rejects the rows as data, bisect to find and dead-letter the culprits."""
        if not parsed:
            return []
        try:
            self._write_retrying(table, [event for _, event in parsed], wait)
            return []
        except StoreRejectedError as exc:
            if len(parsed) == 1:
                msg = parsed[0][0]
                return [(msg, self._dead_letter(msg, exc))]
        half = len(parsed) // 2
        return self._write_splitting(table, parsed[:half], wait) + self._write_splitting(
            table, parsed[half:], wait
        )

    def _write_retrying(self, table: str, events: list[Any], wait: Wait) -> None:
        attempt = 0
        while True:
            try:
                store = self._store or self._factory()
                self._store = store
                started = time.perf_counter()
                if table == "signals":
                    store.write(events, [])
                else:
                    store.write([], events)
                self.metrics.insert_seconds.observe(time.perf_counter() - started)
                self.metrics.rows_inserted.labels(table=table).inc(len(events))
                return
            except StoreRejectedError:
                raise
            except Exception as exc:  # unavailable, or the factory could not connect: retry
                attempt += 1
                self.metrics.retries.inc()
                self.close()
                delay = self.backoff.delay(attempt)
                log.warning("store write of %d %s failed (%s); retry %d in %.1fs", len(events), table,
                            _short(exc), attempt, delay)  # fmt: skip
                wait(delay)

    def _dead_letter(self, msg: RawMessage, exc: Exception) -> DeadLetter:
        letter = dead_letter_for(
            msg.value, exc, topic=msg.topic, partition=msg.partition, offset=msg.offset,
            ts=int(time.time() * 1000), key=msg.key,
        )  # fmt: skip
        self.metrics.dead_lettered.labels(reason=letter.reason).inc()
        return letter


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) < 300 else text[:300] + "..."


__all__ = ["Backoff", "BatchWriter", "RawMessage", "SinkStoppedError", "StoreUnavailableError"]
