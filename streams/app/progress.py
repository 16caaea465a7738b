"""How far each shard's owners have published: the newest output of each output partition.

A shard's outputs land in the same-numbered partition of ``scores``, ``signals`` and
``outcomes``, in mark order, each with a ``mark`` header. So the last record of those partitions
says what the shard's previous owner delivered; a worker taking the shard over publishes what
it holds after that (``docs/stream.md``, "Ownership").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaTP

from streams.app.handover import NOTHING, Mark, ShardProgress, decode_mark
from streams.app.replica import MARK_HEADER
from streams.contracts.log import header
from streams.settings import Settings
from streams.topics import TopicNames


class ProgressReader(Protocol):
    def read(self, shards: Iterable[int]) -> dict[int, ShardProgress]: ...


def combine(last: Mapping[tuple[str, int], Mark], topics: TopicNames, shards: Iterable[int]
            ) -> dict[int, ShardProgress]:  # fmt: skip
    """Per shard: rows are published through the older of its scores and signals tails (both
    are written for every row), outcomes through the outcomes tail."""
    out: dict[int, ShardProgress] = {}
    for shard in shards:
        scores = last.get((topics.scores, shard), NOTHING)
        signals = last.get((topics.signals, shard), NOTHING)
        outcomes = last.get((topics.outcomes, shard), NOTHING)
        out[shard] = ShardProgress(rows=min(scores, signals), outcomes=outcomes)
    return out


class KafkaProgressReader:
    def __init__(self, settings: Settings, topics: TopicNames, timeout_s: float = 30.0) -> None:
        self.settings = settings
        self.topics = topics
        self.timeout_s = timeout_s

    def read(self, shards: Iterable[int]) -> dict[int, ShardProgress]:
        shards = sorted(set(shards))
        names = (self.topics.scores, self.topics.signals, self.topics.outcomes)
        last = self._tails([(t, s) for t in names for s in shards])
        return combine(last, self.topics, shards)

    def _tails(self, parts: list[tuple[str, int]]) -> dict[tuple[str, int], Mark]:
        consumer = Consumer(self.settings.kafka_reader_config("progress"))
        try:
            assign, pending = [], set()
            for topic, partition in parts:
                low, high = consumer.get_watermark_offsets(KafkaTP(topic, partition), timeout=10)
                if high > low:  # tansu's mark may trail by a batch: read from it to the end
                    assign.append(KafkaTP(topic, partition, max(low, high - 1)))
                    pending.add((topic, partition))
            last: dict[tuple[str, int], Mark] = {}
            if assign:
                consumer.assign(assign)
            deadline = time.monotonic() + self.timeout_s
            while pending:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading the tails of {sorted(pending)} timed out")
                for m in consumer.consume(500, 0.2):
                    key = (str(m.topic()), int(m.partition() or 0))
                    err = m.error()
                    if err is None:
                        last[key] = max(
                            last.get(key, NOTHING),
                            decode_mark(header(m.headers(), MARK_HEADER)),  # type: ignore[arg-type]
                        )
                    elif err.code() == KafkaError._PARTITION_EOF:
                        pending.discard(key)
                    else:
                        raise KafkaException(err)
            return last
        finally:
            consumer.close()
