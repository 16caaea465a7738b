"""Explicit topic creation through confluent-kafka's AdminClient."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import Settings
from streams.topics import TOPIC_PLAN


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
    return sorted(created)


def create_prefixed_topics(settings: Settings, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Create ``prefix + name`` for every topic of the plan that is missing (isolated runs on a
    shared broker: tests, benches); returns those created."""
    return create_topics(settings, timeout_s, prefix=prefix)
