"""The same broker checks against the embedded tansu broker (in-memory storage).

tansu limits (docs/infra.md): no CreatePartitions, no aiokafka idempotence/transactions,
ListOffsets(latest) off by one batch, topics created explicitly, 6 s consumer session timeout.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from confluent_kafka.admin import AdminClient

from streams.devtools.local.tansu import TANSU_SESSION_TIMEOUT_MS
from streams.kafka_admin import create_topics, list_topics
from streams.settings import Settings
from streams.topics import TOPIC_PLAN
from tests.integration.test_foundation import (
    aiokafka_group_roundtrip,
    check_events_roundtrip,
    create_test_topic,
)

pytestmark = [pytest.mark.integration, pytest.mark.tansu]

SettingsFor = Callable[..., Settings]


@pytest.fixture(scope="module")
def tansu_settings(tansu_bootstrap: str, settings_for: SettingsFor) -> Settings:
    return settings_for(tansu_bootstrap, partitions=3, kafka_list_offsets_exact=False)


def test_topic_plan_is_created_on_tansu(tansu_settings: Settings) -> None:
    created = create_topics(tansu_settings)
    assert {spec.name for spec in TOPIC_PLAN} <= list_topics(tansu_settings)
    assert create_topics(tansu_settings) == []  # idempotent
    meta = AdminClient(tansu_settings.kafka_client_config()).list_topics(timeout=10)
    for spec in TOPIC_PLAN:
        if spec.name in created:
            expected = spec.partitions or tansu_settings.partitions
            assert len(meta.topics[spec.name].partitions) == expected


def test_one_event_of_each_input_type_roundtrips_on_tansu(tansu_settings: Settings) -> None:
    create_topics(tansu_settings)
    check_events_roundtrip(tansu_settings.kafka_bootstrap)


def test_aiokafka_consumer_group_on_tansu(tansu_bootstrap: str) -> None:
    topic = f"group-check-{uuid.uuid4().hex[:8]}"
    create_test_topic(tansu_bootstrap, topic)
    read, committed = asyncio.run(
        aiokafka_group_roundtrip(tansu_bootstrap, topic, 5, TANSU_SESSION_TIMEOUT_MS)
    )
    assert len(read) == 5
    assert committed == 5
