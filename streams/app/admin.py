"""Create the topic plan under a name prefix (isolated runs on a shared broker: tests, bench)."""

from __future__ import annotations

from confluent_kafka.admin import AdminClient, NewTopic

from streams.settings import Settings
from streams.topics import TOPIC_PLAN


def create_prefixed_topics(settings: Settings, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Create ``prefix + name`` for every topic of the plan that is missing; returns those created."""
    admin = AdminClient(settings.kafka_client_config())
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
