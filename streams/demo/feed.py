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
    ) -> None:
        self.topics = topics
        self.config = config
        self.rate_per_s = rate_per_s
        self.producer = Producer(
            {
                **client_config,
                "linger.ms": 5,
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
        t0 = time.perf_counter()
        while self._next is not None and self._next["ts"] < until_ms and not stop.is_set():
            if self.rate_per_s > 0:
                ahead = t0 + n / self.rate_per_s - time.perf_counter()
                if ahead > 0:
                    self.producer.poll(0)
                    time.sleep(ahead)
            elif backlog is not None and n % 100 == 0:
                while backlog() > max_backlog and not stop.is_set():
                    self.producer.poll(0.02)
            self._send(self._next)
            self.last_ts = int(self._next["ts"])
            self._next = next(self._events, None)
            n += 1
            if n % 200 == 0:
                self.producer.poll(0)
                progress(n, self.last_ts)
        progress(n, self.last_ts)
        return n

    def _send(self, event: dict[str, Any]) -> None:
        kind = str(event["type"])
        sent_ms = int(time.time() * 1000)
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
