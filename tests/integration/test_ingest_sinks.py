"""The connectors' Kafka sink on both real brokers: events on their type's topic keyed by mint,
dead letters on ``dead-letter``; idempotence on for Apache Kafka, off for tansu; missing topics
refused up front."""

from __future__ import annotations

import time
from typing import Any

import pytest

from streams.events import decode_input, encode
from streams.events.decode import DecodeError, dead_letter_for
from streams.ingest.sinks import KafkaSink, SinkError
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from streams.topics import DEAD_LETTER
from tests.conftest import SettingsFor, unique_id
from tests.integration.ingest_feeds import read_to_end
from tests.waiting import wait_until

EVENTS = [
    {"schema_version": 1, "type": "token_genesis", "event_id": "s:1", "ts": 1_000, "mint": "M1",
     "creator": "C1", "name": "One", "symbol": "ONE", "virtual_sol_reserves": 30.0,
     "virtual_token_reserves": 1.073e9, "real_token_reserves": 7.93e8},
    {"schema_version": 1, "type": "wallet_buy", "event_id": "s:2", "ts": 1_001, "mint": "M1",
     "wallet": "W1", "sol_amount": 1.0, "token_amount": 3.4e7, "virtual_sol_reserves": 31.0,
     "virtual_token_reserves": 1.039e9, "real_token_reserves": 7.59e8, "venue": "curve"},
    {"schema_version": 1, "type": "wallet_sell", "event_id": "s:3", "ts": 1_002, "mint": "M2",
     "wallet": "W2", "sol_amount": 0.5, "token_amount": 1.7e7, "virtual_sol_reserves": 30.5,
     "virtual_token_reserves": 1.056e9, "real_token_reserves": 7.76e8, "venue": "curve"},
]  # fmt: skip


def roundtrip(settings: Settings) -> None:
    prefix = unique_id("sink") + "."
    create_prefixed_topics(settings, prefix)
    sink = KafkaSink(settings, topic_prefix=prefix)
    for event in EVENTS:
        payload = encode(event)
        sink.event(decode_input(payload), payload)
    letter = dead_letter_for(b"\x00garbage", DecodeError("feed_unmapped", "x: y"),
                             topic="ingest:test", partition=None, offset=None,
                             ts=int(time.time() * 1000), key=b"M3")  # fmt: skip
    sink.dead(letter)
    sink.close()
    assert sink.delivered == len(EVENTS) + 1
    records = {r.value["event_id"]: r for r in read_to_end(settings, prefix)}
    assert set(records) == {"s:1", "s:2", "s:3", letter.event_id}
    assert [records[f"s:{i}"].topic for i in (1, 2, 3)] == ["token-genesis", "wallet-buy",
                                                               "wallet-sell"]  # fmt: skip
    assert [records[f"s:{i}"].key for i in (1, 2, 3)] == [b"M1", b"M1", b"M2"]
    dead = records[letter.event_id]
    assert dead.topic == DEAD_LETTER and dead.value["reason"] == "feed_unmapped"


def test_apache_kafka_with_idempotence(kafka_bootstrap: str, settings_for: SettingsFor) -> None:
    roundtrip(settings_for(kafka_bootstrap, ingest_idempotence=True))


def test_tansu_without_idempotence(tansu_bootstrap: str, settings_for: SettingsFor) -> None:
    roundtrip(settings_for(tansu_bootstrap, ingest_idempotence=False, partitions=3,
                           kafka_list_offsets_exact=False))  # fmt: skip


def test_missing_topics_are_refused_before_the_feed_starts(
    kafka_bootstrap: str, settings_for: SettingsFor
) -> None:
    with pytest.raises(SinkError, match="topics missing"):
        KafkaSink(settings_for(kafka_bootstrap), topic_prefix=unique_id("absent") + ".")


def _max_message_bytes(admin: Any, topic: str) -> str:
    from confluent_kafka.admin import ConfigResource

    (future,) = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return str(future.result(30)["max.message.bytes"].value)


def test_a_refused_delivery_surfaces_as_a_sink_error(
    kafka_bootstrap: str, settings_for: SettingsFor
) -> None:
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
    )

    settings = settings_for(kafka_bootstrap, ingest_idempotence=True)
    prefix = unique_id("refuse") + "."
    create_prefixed_topics(settings, prefix)
    admin = AdminClient(settings.kafka_client_config())
    entry = ConfigEntry("max.message.bytes", "64",
                        incremental_operation=AlterConfigOpType.SET)  # fmt: skip
    tight = ConfigResource("topic", prefix + "wallet-buy", incremental_configs=[entry])
    for future in admin.incremental_alter_configs([tight]).values():
        future.result(30)
    wait_until(  # the broker applies it later
        lambda: _max_message_bytes(admin, prefix + "wallet-buy") == "64",
        timeout_s=60,
        what="the topic config to take effect",
        interval_s=0.2,
    )
    sink = KafkaSink(settings, topic_prefix=prefix)
    payload = encode(EVENTS[1])
    sink.event(decode_input(payload), payload)
    with pytest.raises(SinkError, match="deliveries failed"):
        sink.close()
