"""One worker on real Apache Kafka: a simulated hour in, exactly one score per buy out, one
dead-letter per bad message, and served features identical to the offline replay."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames, WorkerOptions, run_worker
from streams.app.admin import create_prefixed_topics
from streams.app.faust_app import StreamWorker
from streams.app.harness import (
    Collector,
    bad_messages,
    feature_agreement,
    new_producer,
    produce_events,
    produce_raw,
    replay_features,
    sim_events,
)
from streams.events.decode import validate_output
from tests.conftest import SettingsFor, unique_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Run:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.bad: list[tuple[str, bytes, bytes | None, str]] = []
        self.out: dict[str, list[dict[str, Any]]] = {}
        self.topics = TopicNames()
        self.expected_features: dict[str, list[float | None]] = {}
        self.worker: StreamWorker | None = None
        self.completed = False


@pytest.fixture(scope="module")
def single_run(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    tmp = tmp_path_factory.mktemp("stream-single")
    settings = settings_for(kafka_bootstrap, models_dir=tmp / "models", batch_size=128)
    prefix = unique_id("single") + "."
    run = Run()
    run.topics = topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    run.events = sim_events(seed=11, hours=1.25, launch_rate_per_day=1200)
    run.bad = bad_messages(topics, run.events)
    producer = new_producer(settings)
    half = len(run.events) // 2
    produce_events(producer, topics, run.events[:half])
    for topic, payload, key, _ in run.bad:  # poison in the middle of the stream
        produce_raw(producer, topic, payload, key)
    produce_events(producer, topics, run.events[half:])
    run.expected_features = replay_features(run.events, Path(tmp) / "replay")

    n_buys = sum(e["type"] == "wallet_buy" for e in run.events)
    collector = Collector(
        settings, [topics.scores, topics.signals, topics.dead_letter, topics.outcomes]
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, StreamWorker] = {}

    def serve() -> None:
        async def main() -> None:
            holder["worker"] = await run_worker(settings, stop, WorkerOptions(topics=topics))

        loop.run_until_complete(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        run.completed = collector.wait_for(
            lambda: (
                sum(1 for s in collector.records[topics.scores] if s["kind"] == "buy") >= n_buys
                and len(collector.records[topics.dead_letter]) >= len(run.bad)
            ),
            timeout_s=120,
            settle_s=3.0,
        )
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
        collector.close()
    run.out = collector.records
    run.worker = holder.get("worker")
    return run


def test_every_buy_scored_exactly_once(single_run: Run) -> None:
    assert single_run.completed, "worker did not score every buy in time"
    topics = single_run.topics
    buy_ids = [e["event_id"] for e in single_run.events if e["type"] == "wallet_buy"]
    genesis_ids = {e["event_id"] for e in single_run.events if e["type"] == "token_genesis"}
    scores = single_run.out[topics.scores]
    by_kind = Counter(s["kind"] for s in scores)
    buy_scores = [s for s in scores if s["kind"] == "buy"]
    assert len(buy_scores) == len(buy_ids)
    assert sorted(s["source_event_id"] for s in buy_scores) == sorted(buy_ids)
    assert all(s["event_id"] == s["source_event_id"] + ":s" for s in scores)
    # the rest are closed genesis windows, each once and only for real genesis events
    genesis_scores = [
        s["source_event_id"].removesuffix(":g60") for s in scores if s["kind"] == "genesis"
    ]
    assert len(genesis_scores) == len(set(genesis_scores)) == by_kind["genesis"]
    assert set(genesis_scores) <= genesis_ids and genesis_scores, "no genesis window was scored"
    assert set(by_kind) <= {"buy", "genesis"}


def test_each_bad_message_dead_lettered_once(single_run: Run) -> None:
    letters = single_run.out[single_run.topics.dead_letter]
    assert len(letters) == len(single_run.bad)
    assert sorted(d["reason"] for d in letters) == sorted(reason for *_, reason in single_run.bad)
    for letter in letters:
        validate_output({k: v for k, v in letter.items() if k != "_kafka_ts_ms"}, "dead-letter")


def test_outputs_match_their_schemas(single_run: Run) -> None:
    topics = single_run.topics
    for topic, schema in (
        (topics.scores, "score"),
        (topics.signals, "signal"),
        (topics.outcomes, "outcome"),
    ):
        records = single_run.out[topic]
        assert records, f"nothing on {topic}"
        for record in records[:: max(1, len(records) // 50)]:
            validate_output({k: v for k, v in record.items() if k != "_kafka_ts_ms"}, schema)


def test_served_features_equal_offline_replay(single_run: Run) -> None:
    signals = single_run.out[single_run.topics.signals]
    equal, compared, differ = feature_agreement(signals, single_run.expected_features)
    buys = sum(1 for s in signals if s["kind"] == "buy")
    assert buys == sum(e["type"] == "wallet_buy" for e in single_run.events)
    assert compared == len(signals), "a served signal has no replay row"
    assert differ == [] and equal == compared
    worker = single_run.worker
    assert worker is not None and worker.core.reseq.stats.late == 0


def test_outcomes_published_once_each(single_run: Run) -> None:
    outcomes = single_run.out[single_run.topics.outcomes]
    ids = [o["event_id"] for o in outcomes]
    assert ids and len(ids) == len(set(ids))
    last_ts = max(e["ts"] for e in single_run.events)
    assert all(o["ts"] <= last_ts for o in outcomes)  # resolved on event time only
