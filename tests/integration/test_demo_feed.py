"""The demo feed's ticks on tansu: what is due goes out together, stamped with its due time."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import numpy as np
import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from streams.demo.feed import MarketFeed
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from streams.sim import SimConfig
from streams.topics import TopicNames

pytestmark = [pytest.mark.integration, pytest.mark.tansu]

RATE = 2_000.0  # events/s
TICK_MS = 50.0


def _read_all(settings: Settings, topics: list[str], expected: int) -> list[tuple[str, int]]:
    """(event id, Kafka timestamp ms) of every record on ``topics`` (one partition each)."""
    consumer = Consumer(settings.kafka_reader_config("feed-test"))
    consumer.assign([TopicPartition(t, 0, 0) for t in topics])
    out: list[tuple[str, int]] = []
    eof = 0
    try:
        while eof < len(topics) or len(out) < expected:
            msg = consumer.poll(10)
            assert msg is not None, f"read {len(out)} of {expected}"
            if msg.error():
                eof += 1
                continue
            out.append((orjson.loads(msg.value() or b"{}")["event_id"], msg.timestamp()[1]))
    finally:
        consumer.close()
    return out


def test_ticked_feed_stamps_due_times(
    tansu_bootstrap: str, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(tansu_bootstrap, partitions=1, kafka_idempotence=False)
    prefix = f"feed-{uuid.uuid4().hex[:6]}."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    config = SimConfig(seed=3, hours=0.25, launch_rate_per_day=4_000)
    feed = MarketFeed(settings.kafka_client_config(), topics, config, RATE, tick_ms=TICK_MS)
    sent = feed.run_until(config.start_ms + 3_600_000, threading.Event(), lambda n, ts: None)
    assert feed.flush(30) == 0 and not feed.errors
    records = _read_all(settings, list(topics.inputs), sent)
    assert len(records) == sent == feed.total_sent  # each event once
    stamps = np.array(sorted(ts for _, ts in records), dtype=np.int64)
    # paced at RATE: the stamps are the due times, spaced 1/RATE apart (ms rounding aside)
    assert stamps[-1] - stamps[0] == pytest.approx(1000.0 * (sent - 1) / RATE, abs=5)
    assert np.abs(np.diff(stamps)).max() <= 2
    buy_stamps = {eid: ts for eid, ts in records if eid in feed.buy_sent_ms}
    assert buy_stamps == feed.buy_sent_ms  # latency counts from the stamp on the record
    feed.close()
