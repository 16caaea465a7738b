"""The sequencer's Kafka clients: the lease member, the input reader, the log writer, and the
reading of a range of the market log (recovery). confluent-kafka, all driven from one thread."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any, cast

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from streams.contracts.log import HEADER_KIND, HEADER_SOURCE, SourceRef, header
from streams.sequencer.recovery import LogEntry
from streams.settings import Settings

TP = tuple[str, int]

_TRANSIENT = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
}

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1000


def lease_consumer(settings: Settings) -> Consumer:
    """A member of ``<app_id>.sequencer`` (the caller subscribes it to the lease topic).
    Cooperative-sticky: a standby joining does not move the lease off the leader."""
    return Consumer(
        {
            **settings.kafka_client_config(),
            "group.id": f"{settings.app_id}.sequencer",
            "enable.auto.commit": False,
            "session.timeout.ms": SESSION_TIMEOUT_MS,
            "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
            "partition.assignment.strategy": "cooperative-sticky",
        }
    )


def input_consumer(settings: Settings) -> Consumer:
    """Group-less reader: partitions are assigned at explicit offsets; it never commits."""
    return Consumer(input_config(settings))


def input_config(settings: Settings) -> dict[str, Any]:
    return {
        **settings.kafka_client_config(),
        "group.id": f"{settings.app_id}.sequencer.input",  # required; never joined
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": settings.sequencer_fetch_wait_ms,
        "fetch.min.bytes": settings.sequencer_fetch_min_bytes,
        # small per-partition fetches interleave the partitions of a backlog finely, so a
        # partition whose records sit behind another's in the local queue is not waited
        # for long (the merge holds everything behind it meanwhile)
        "max.partition.fetch.bytes": 256 * 1024,
    }


def log_reader(settings: Settings) -> Consumer:
    """Group-less reader of the market log's tail (recovery) and of partitions' watermarks."""
    return Consumer(settings.kafka_reader_config("sequencer.recovery"))


def log_producer(settings: Settings) -> Producer:
    """acks=all; idempotent where the broker supports it, else one request in flight so a
    retry cannot reorder the log."""
    conf: dict[str, Any] = {
        **settings.kafka_producer_config(),
        "acks": "all",
        "linger.ms": settings.log_linger_ms,
        "queue.buffering.max.messages": 1_000_000,
    }
    if not settings.kafka_idempotence:
        conf["max.in.flight.requests.per.connection"] = 1
    return Producer(conf)


def produce(
    producer: Producer,
    topic: str,
    value: bytes,
    key: bytes | None,
    timestamp_ms: int,
    headers: list[tuple[str, bytes]] | None,
    on_delivery: Callable[[KafkaError | None, Message], None],
) -> None:
    """``producer.produce`` that serves deliveries and retries while the local queue is full."""
    while True:
        try:
            producer.produce(
                topic,
                value,
                key=key,
                timestamp=timestamp_ms,
                headers=cast(Any, headers),
                on_delivery=on_delivery,
            )
            return
        except BufferError:
            producer.poll(0.05)


def partitions(consumer: Consumer, topics: Iterable[str], timeout_s: float = 10.0) -> list[TP]:
    meta = consumer.list_topics(timeout=timeout_s)
    out: list[TP] = []
    for topic in topics:
        tmeta = meta.topics.get(topic)
        if tmeta is None or tmeta.error is not None:
            raise RuntimeError(f"topic {topic!r} does not exist (create the topic plan first)")
        out.extend((topic, p) for p in sorted(tmeta.partitions))
    return out


def watermarks(consumer: Consumer, tp: TP, timeout_s: float = 30.0) -> tuple[int, int]:
    """(low, high) offsets of a partition, asked of the broker; retried while the broker says
    the error is retriable (e.g. a topic created a moment ago has no leader yet)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10)
            return int(low), int(high)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            retriable = isinstance(err, KafkaError) and (
                err.retriable() or err.code() in _TRANSIENT
            )
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def cached_highwater(consumer: Consumer, tp: TopicPartition) -> int | None:
    """End offset from the last fetch response of an assigned partition (no request)."""
    marks = consumer.get_watermark_offsets(tp, cached=True)
    if marks is None or marks[1] < 0:
        return None
    return int(marks[1])


def log_entry(m: Message) -> LogEntry:
    headers = cast(list[tuple[str, bytes | None]], m.headers() or [])
    src = header(headers, HEADER_SOURCE)
    return LogEntry(
        offset=int(m.offset() or 0),
        kind=header(headers, HEADER_KIND),
        src=SourceRef.decode(src) if src else None,
        key=m.key(),
        value=m.value(),
    )


def read_range(
    consumer: Consumer, topic: str, start: int, end: int, timeout_s: float = 30.0
) -> list[LogEntry]:
    """The records of ``topic`` partition 0 at offsets ``[start, end)``, in order."""
    out: list[LogEntry] = []
    consumer.assign([TopicPartition(topic, 0, start)])
    deadline = time.monotonic() + timeout_s
    try:
        while not out or out[-1].offset < end - 1:
            if time.monotonic() > deadline:
                got = out[-1].offset if out else None
                raise RuntimeError(f"{topic}: read [{start}, {end}) stalled at {got}")
            for m in take(consumer, 1000, 0.2):
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if int(m.offset() or 0) >= end:
                            return out
                        continue
                    raise RuntimeError(f"{topic}: {err}")
                entry = log_entry(m)
                if entry.offset >= end:
                    return out
                out.append(entry)
        return out
    finally:
        consumer.unassign()


def take(consumer: Consumer, most: int, wait_s: float) -> list[Message]:
    """What is queued now, up to ``most``; waits up to ``wait_s`` (rounded up to whole ms)
    only when nothing is (``consume(n, t)`` itself waits for n records or t, even when fewer
    are all there is)."""
    msgs = consumer.consume(most, 0)
    if msgs or wait_s <= 0:
        return list(msgs)
    first = consumer.poll(poll_timeout_s(wait_s))
    return [] if first is None else [first, *consumer.consume(most - 1, 0)]


def poll_timeout_s(wait_s: float) -> float:
    """``wait_s`` rounded up to whole milliseconds. librdkafka counts a poll's timeout in whole
    ms and confluent-kafka truncates, so a wait under 1 ms returns at once: a loop waiting for
    a hold to end would spin through its last millisecond (measured at 525 input records/s:
    93% of the sequencer's steps were such spins, and it took 0.40 of a core, 0.19 without)."""
    return math.ceil(wait_s * 1000.0 - 1e-9) / 1000.0
