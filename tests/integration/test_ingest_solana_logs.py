"""``ingest solana-logs`` end to end, offline: the real Helius ``logsSubscribe`` capture through a
local websocket server that drops the connection midway and resends frames, the real decoder,
real Apache Kafka, then a worker that scores every buy."""

from __future__ import annotations

from collections import Counter

import pytest

from streams.events import INPUT_TYPES
from streams.events.decode import validate_output
from streams.ingest.solana_logs import SolanaLogsDecoder
from streams.topics import DEAD_LETTER
from tests.conftest import SettingsFor
from tests.integration.ingest_feeds import (
    FIXTURES,
    FeedRun,
    broken_frames,
    expected_dead,
    expected_events,
    replay_through_kafka,
    score_with_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAPTURE = FIXTURES / "helius" / "logs_subscribe_pumpfun.jsonl"
RESEND = 12


@pytest.fixture(scope="module")
def feed(kafka_bootstrap: str, settings_for: SettingsFor) -> FeedRun:
    settings = settings_for(kafka_bootstrap, ingest_idempotence=True)
    return replay_through_kafka(settings, SolanaLogsDecoder, CAPTURE, resend=RESEND)


def test_the_drop_was_a_reconnect_and_resent_frames_were_dropped(feed: FeedRun) -> None:
    m, src = feed.metrics, feed.source
    assert m.value("alphastream_ingest_reconnects_total", source=src, cause="closed") == 1
    assert m.value("alphastream_ingest_connects_total", source=src) == 2
    resent = expected_events(SolanaLogsDecoder(), feed.resent_frames)
    assert resent, "the resent frames carry no event: the dedup is not exercised"
    assert m.value("alphastream_ingest_skipped_total", source=src, reason="duplicate") == len(
        resent
    )


def test_topics_hold_every_decoded_event_exactly_once(feed: FeedRun) -> None:
    expected = expected_events(SolanaLogsDecoder(), feed.unique_frames)
    assert expected, "the capture decoded to nothing"
    records = [r for r in feed.records if r.topic != DEAD_LETTER]
    counts = Counter(r.value["event_id"] for r in records)
    assert set(counts) == {e["event_id"] for e in expected}
    assert set(counts.values()) == {1}
    for record in records:
        assert record.topic == INPUT_TYPES[record.value["type"]][1]
        assert record.key == record.value["mint"].encode()
    by_type = Counter(r.value["type"] for r in records)
    assert by_type["wallet_buy"] > 0 and by_type["wallet_sell"] > 0


def test_dead_letters_carry_their_reason(feed: FeedRun) -> None:
    letters = [r.value for r in feed.on(DEAD_LETTER)]
    assert (
        len(letters)
        == expected_dead(SolanaLogsDecoder(), feed.frames_sent)
        >= len(broken_frames([""]))
    )
    for letter in letters:
        validate_output(letter, "dead-letter")
        assert letter["reason"] == "feed_unmapped" and letter["error"]
        assert letter["source_topic"] == "ingest:solana-logs"


def test_a_worker_scores_every_buy(feed: FeedRun) -> None:
    buys = {r.value["event_id"] for r in feed.records if r.value.get("type") == "wallet_buy"}
    assert buys
    scored = score_with_worker(feed, buys)
    assert buys <= scored
