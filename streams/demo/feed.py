"""Publish the simulated market to the input topics, paced on the wall clock, in stages.

Each message's Kafka timestamp is the wall-clock produce time (not the simulated event time),
so ``score.scored_at - produce time`` is the pipeline's end-to-end latency. The produce time of
every buy is kept for that measurement.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from confluent_kafka import KafkaError, Producer

from streams.kafka_produce import produce_blocking, warm_metadata
from streams.sim import SimConfig, simulate
from streams.topics import TopicNames

_TOPIC_ATTR = {
    "token_genesis": "genesis",
    "wallet_buy": "buys",
    "wallet_sell": "sells",
    "token_migrated": "migrations",
}
Progress = Callable[[int, int], None]  # (events sent in this stage, simulated ts of the last)


class MarketFeed:
    def __init__(
        self,
        client_config: dict[str, Any],
        topics: TopicNames,
        config: SimConfig,
        rate_per_s: float,
        *,
        linger_ms: float = 5.0,
        tick_ms: float = 0.0,
    ) -> None:
        self.topics = topics
        self.config = config
        self.rate_per_s = rate_per_s
        # paced: send what is due every tick_ms at once, each stamped with its due time (0: each
        # event at its own time). A tick's events leave in one request, so the input topics'
        # batches reach the sequencer together instead of up to a linger apart
        self.tick_s = tick_ms / 1000.0
        self.producer = Producer(
            {
                **client_config,
                "linger.ms": linger_ms,
                "queue.buffering.max.messages": 500_000,
                "log.connection.close": False,  # idle while models train; not an error
            }
        )
        warm_metadata(self.producer, topics.inputs)
        self.sent: Counter[str] = Counter()
        self.buy_sent_ms: dict[str, int] = {}
        self.errors: list[str] = []
        self.last_ts = config.start_ms
        self._events: Iterator[dict[str, Any]] = iter(simulate(config))
        self._next: dict[str, Any] | None = next(self._events, None)

    @property
    def exhausted(self) -> bool:
        return self._next is None

    @property
    def total_sent(self) -> int:
        return sum(self.sent.values())

    def run_until(
        self,
        until_ms: int,
        stop: threading.Event,
        progress: Progress,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 2_000,
    ) -> int:
        """Send every event with ``ts < until_ms``; returns how many.

        ``rate_per_s`` > 0 paces on the wall clock; 0 sends as fast as the pipeline keeps up:
        whenever ``backlog()`` (buys sent but not yet scored) exceeds ``max_backlog`` it waits.
        """
        n = 0
        t0, wall0 = time.perf_counter(), time.time()
        while self._next is not None and self._next["ts"] < until_ms and not stop.is_set():
            due_ms: int | None = None
            if self.rate_per_s > 0:
                due = n / self.rate_per_s
                ahead = t0 + due - time.perf_counter()
                if ahead > 0:
                    self.producer.poll(0)
                    time.sleep(ahead + self.tick_s)  # wake a tick later: all then due go out
                due_ms = int((wall0 + due) * 1000) if self.tick_s > 0 else None
            elif backlog is not None and n % 100 == 0:
                while backlog() > max_backlog and not stop.is_set():
                    self.producer.poll(0.02)
            self._send(self._next, due_ms)
            self.last_ts = int(self._next["ts"])
            self._next = next(self._events, None)
            n += 1
            if n % 200 == 0:
                self.producer.poll(0)
                progress(n, self.last_ts)
        progress(n, self.last_ts)
        return n

    def _send(self, event: dict[str, Any], due_ms: int | None = None) -> None:
        """``due_ms``: when the pacing made the event due (it may have waited for its tick);
        latency counts from then."""
        kind = str(event["type"])
        sent_ms = int(time.time() * 1000) if due_ms is None else due_ms
        topic = getattr(self.topics, _TOPIC_ATTR[kind])
        value = orjson.dumps(event)
        produce_blocking(
            self.producer,
            topic,
            value,
            key=str(event["mint"]).encode(),
            timestamp=sent_ms,
            on_delivery=self._delivered,
        )
        self.sent[kind] += 1
        if kind == "wallet_buy":
            self.buy_sent_ms[str(event["event_id"])] = sent_ms

    def _delivered(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            self.errors.append(str(err))

    def flush(self, timeout_s: float = 60.0) -> int:
        """Wait for deliveries; returns how many are still undelivered."""
        left: int = self.producer.flush(timeout_s)
        return left

    def close(self, timeout_s: float = 5.0) -> None:
        """Flush and release the producer before the broker goes away (no reconnect noise)."""
        self.flush(timeout_s)
        self.producer.close()
