"""Create the topic plan under a name prefix (isolated runs on a shared broker: tests, bench)."""

from __future__ import annotations

from streams.kafka_admin import create_topics
from streams.settings import Settings


def create_prefixed_topics(settings: Settings, prefix: str, timeout_s: float = 30.0) -> list[str]:
    """Create ``prefix + name`` for every topic of the plan that is missing; returns those created."""
    return create_topics(settings, timeout_s, prefix=prefix)
