"""Topics are handed out only once their partitions can take writes: on real Apache Kafka every
partition of a just-created topic answers its leader's ListOffsets when creation returns, and on
tansu creation still returns (it waits only for the answers that mean "not served yet")."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.kafka_admin import create_prefixed_topics
from tests.conftest import SettingsFor, unique_id

pytestmark = [pytest.mark.integration]


def _served_at_once(settings_bootstrap: str, settings_for: SettingsFor, **extra: object) -> None:
    settings = settings_for(settings_bootstrap, **extra)
    created = create_prefixed_topics(settings, unique_id("ready") + ".")
    assert created
    reader = Consumer(settings.kafka_reader_config("test-ready"))
    try:
        meta = reader.list_topics(timeout=10)
        for topic in created:
            for partition in meta.topics[topic].partitions:
                # no retry here: a partition still being set up would raise NOT_LEADER
                low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), 5)
                assert (low, high) == (0, 0)
    finally:
        reader.close()


def test_kafka_partitions_answer_as_soon_as_creation_returns(
    kafka_bootstrap: str, settings_for: SettingsFor
) -> None:
    _served_at_once(kafka_bootstrap, settings_for)


def test_tansu_topics_are_created_and_answer(
    tansu_bootstrap: str, settings_for: SettingsFor
) -> None:
    _served_at_once(tansu_bootstrap, settings_for, kafka_idempotence=False)
