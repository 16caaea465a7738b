"""``ingest`` end to end, offline, for each real feed: its real capture (Helius ``logsSubscribe``;
PumpPortal creations, migrations and the refusal of trade subscriptions without a key) through a
local websocket server that drops the connection midway and resends frames, the real decoder,
real Apache Kafka, then a worker that scores every buy (for PumpPortal, the dev buys inside
creations)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from streams.events import INPUT_TYPES
from streams.events.decode import validate_output
from streams.ingest.frames import FrameDecoder
from streams.ingest.pumpportal import PumpPortalDecoder
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


@dataclass(frozen=True)
class Feed:
    make_decoder: Callable[[], FrameDecoder]
    capture: Path
    resend: int  # frames sent again after the reconnect
    types: tuple[str, ...]  # event types the capture must yield


FEEDS = {
    "solana-logs": Feed(
        SolanaLogsDecoder,
        FIXTURES / "helius" / "logs_subscribe_pumpfun.jsonl",
        12,
        ("wallet_buy", "wallet_sell"),
    ),
    "pumpportal": Feed(
        PumpPortalDecoder,
        FIXTURES / "pumpportal" / "session1.jsonl",
        15,
        ("token_genesis", "wallet_buy", "token_migrated"),
    ),
}


@pytest.fixture(scope="module", params=list(FEEDS))
def case(
    request: pytest.FixtureRequest, kafka_bootstrap: str, settings_for: SettingsFor
) -> tuple[Feed, FeedRun]:
    feed = FEEDS[request.param]
    settings = settings_for(kafka_bootstrap, ingest_idempotence=True)
    return feed, replay_through_kafka(settings, feed.make_decoder, feed.capture, resend=feed.resend)


def test_the_drop_was_a_reconnect_and_resent_frames_were_dropped(
    case: tuple[Feed, FeedRun],
) -> None:
    feed, run = case
    m, src = run.metrics, run.source
    assert m.value("alphastream_ingest_reconnects_total", source=src, cause="closed") == 1
    assert m.value("alphastream_ingest_connects_total", source=src) == 2
    resent = expected_events(feed.make_decoder(), run.resent_frames)
    assert resent, "the resent frames carry no event: the dedup is not exercised"
    assert m.value("alphastream_ingest_skipped_total", source=src, reason="duplicate") == len(
        resent
    )


def test_topics_hold_every_decoded_event_exactly_once(case: tuple[Feed, FeedRun]) -> None:
    feed, run = case
    expected = expected_events(feed.make_decoder(), run.unique_frames)
    assert expected, "the capture decoded to nothing"
    # what was read back is what the sink saw acknowledged (else the loss is the reader's)
    assert len(run.records) == run.delivered, run.marks
    records = [r for r in run.records if r.topic != DEAD_LETTER]
    counts = Counter(r.value["event_id"] for r in records)
    assert set(counts) == {e["event_id"] for e in expected}
    assert set(counts.values()) == {1}
    for record in records:
        assert record.topic == INPUT_TYPES[record.value["type"]][1]
        assert record.key == record.value["mint"].encode()
    by_type = Counter(r.value["type"] for r in records)
    assert all(by_type[name] > 0 for name in feed.types), by_type


def test_dead_letters_carry_their_reason(case: tuple[Feed, FeedRun]) -> None:
    feed, run = case
    letters = [r.value for r in run.on(DEAD_LETTER)]
    assert (
        len(letters)
        == expected_dead(feed.make_decoder(), run.frames_sent)
        >= len(broken_frames([""]))
    )
    for letter in letters:
        validate_output(letter, "dead-letter")
        assert letter["reason"] == "feed_unmapped" and letter["error"]
        assert letter["source_topic"] == f"ingest:{run.source}"


def test_a_worker_scores_every_buy(case: tuple[Feed, FeedRun]) -> None:
    _, run = case
    buys = {r.value["event_id"] for r in run.records if r.value.get("type") == "wallet_buy"}
    assert buys
    assert buys <= score_with_worker(run, buys)
