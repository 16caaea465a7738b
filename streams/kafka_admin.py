"""Explicit topic creation through confluent-kafka's AdminClient."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import Settings
from streams.topics import TOPIC_PLAN

# what a partition's leader answers until it has applied the topic's creation
_NOT_SERVED_YET = {
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError._TIMED_OUT,
}


def admin_client(settings: Settings) -> AdminClient:
    return AdminClient(settings.kafka_client_config())


def list_topics(settings: Settings, timeout_s: float = 10.0) -> set[str]:
    meta = admin_client(settings).list_topics(timeout=timeout_s)
    return set(meta.topics)


def create_topics(settings: Settings, timeout_s: float = 30.0, prefix: str = "") -> list[str]:
    """Create the missing topics of the plan (named ``prefix + name``); returns the names created.

    A prefix isolates runs that share one broker (tests, benchmarks).
    """
    # One client for the whole call: a collected client fails its futures (_DESTROY).
    admin = admin_client(settings)
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    wanted = [
        NewTopic(
            prefix + spec.name,
            num_partitions=spec.partitions or settings.partitions,
            replication_factor=settings.replication_factor,
            config=spec.config(),
        )
        for spec in TOPIC_PLAN
        if prefix + spec.name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, fut in admin.create_topics(wanted, operation_timeout=timeout_s).items():
        try:
            fut.result(timeout=timeout_s)
            created.append(name)
        except Exception as exc:  # a concurrent creator may have won the race
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise
    wait_until_served(settings, created, timeout_s)
    return sorted(created)


def wait_until_served(settings: Settings, topics: list[str], timeout_s: float = 30.0) -> None:
    """Return once every partition of ``topics`` is served by its leader (it answers a
    ListOffsets). A broker applies a topic it just created a moment after CreateTopics returns
    and answers NOT_LEADER_OR_FOLLOWER meanwhile. An idempotent producer whose first batch to a
    partition meets that while its next batch succeeds loses the first: the broker accepts a new
    producer's sequence 1 without 0, and librdkafka then acks 0 implicitly (seen in
    tests/integration/test_ingest_feeds.py with librdkafka debug logs, 2026-12-06). So a topic
    is handed out only when it can take writes."""
    if not topics:
        return
    reader = Consumer(settings.kafka_reader_config("topics-ready"))
    deadline = time.monotonic() + timeout_s
    try:
        meta = reader.list_topics(timeout=timeout_s)
        for topic in topics:
            for partition in sorted(meta.topics[topic].partitions):
                _wait_partition(reader, TopicPartition(topic, partition), deadline)
    finally:
        reader.close()


def _wait_partition(reader: Consumer, tp: TopicPartition, deadline: float) -> None:
    while True:
        try:
            reader.get_watermark_offsets(tp, timeout=5)
            return
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if not isinstance(err, KafkaError) or err.code() not in _NOT_SERVED_YET:
                return  # another answer (a broker without ListOffsets): nothing to wait for
            if time.monotonic() > deadline:
                raise RuntimeError(f"{tp.topic}[{tp.partition}] not served: {err}") from exc
            time.sleep(0.05)


def create_prefixed_topics(settings: Settings, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Create ``prefix + name`` for every topic of the plan that is missing (isolated runs on a
    shared broker: tests, benches); returns those created."""
    return create_topics(settings, timeout_s, prefix=prefix)
