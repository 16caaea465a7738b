"""One worker on real Apache Kafka: a buy produced twice (two offsets, same event_id) is scored
once and counted once in wallet and token state; the copy is acked and counted as a duplicate.
The market also carries the simulator's v2 ``token_migrated`` events on their own topic."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from typing import Any

import pytest

from streams.app import TopicNames, WorkerOptions, run_worker
from streams.app.faust_app import StreamWorker
from streams.app.metrics import WorkerMetrics
from streams.devtools.harness import (
    Collector,
    new_producer,
    produce_events,
    sequencer_running,
    sim_events,
)
from streams.features.engine import FeatureEngine
from streams.kafka_admin import create_prefixed_topics
from tests.conftest import SettingsFor, unique_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _copy_position(events: list[dict[str, Any]], original: int, later_ms: int) -> int:
    """Where a re-delivered copy of ``events[original]`` lands: ``later_ms`` of event time on."""
    limit = events[original]["ts"] + later_ms
    j = original + 1
    while j < len(events) and events[j]["ts"] <= limit:
        j += 1
    return j


def test_a_buy_produced_twice_is_scored_once_and_counted_once(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tmp = tmp_path_factory.mktemp("stream-dedup")
    settings = settings_for(kafka_bootstrap, models_dir=tmp / "models", batch_size=64)
    prefix = unique_id("dedup") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    events = sim_events(seed=2, hours=1.0, launch_rate_per_day=1500)  # a seed that graduates
    # a buy in the last 15 minutes: its token cannot be swept as idle (30 min) before the end
    recent = events[-1]["ts"] - 15 * 60_000
    buys = [k for k, e in enumerate(events) if e["type"] == "wallet_buy" and e["ts"] >= recent]
    original = buys[len(buys) // 3]
    twice = events[original]
    produced = list(events)
    produced.insert(_copy_position(events, original, 20_000), twice)  # 20 s later, new offset
    n_migrated = sum(e["type"] == "token_migrated" for e in events)
    assert n_migrated > 0, "the market should graduate at least one token"
    producer = new_producer(settings)
    produce_events(producer, topics, produced, in_order=True)
    del producer  # delivered (in_order flushes each): no client left retrying a stopped broker

    buy_ids = {e["event_id"] for e in events if e["type"] == "wallet_buy"}
    metrics = WorkerMetrics()
    collector = Collector(settings, [topics.scores, topics.dead_letter])
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, StreamWorker] = {}

    def serve() -> None:
        async def main() -> None:
            holder["worker"] = await run_worker(
                settings, stop, WorkerOptions(topics=topics), metrics=metrics
            )

        loop.run_until_complete(main())

    def duplicates() -> float:
        return metrics.registry.get_sample_value("alphastream_duplicate_events_total") or 0.0

    thread = threading.Thread(target=serve, daemon=True)
    with sequencer_running(settings, topics):
        thread.start()
        try:
            completed = collector.wait_for(
                lambda: collector.has_scored(topics.scores, buy_ids) and duplicates() >= 1,
                timeout_s=120,
                settle_s=3.0,
            )
        finally:
            loop.call_soon_threadsafe(stop.set)
            thread.join(60)
            collector.close()
    assert completed, "the worker did not score every buy and see the copy in time"
    assert duplicates() == 1
    scores = Counter(
        s["source_event_id"] for s in collector.records[topics.scores] if s["kind"] == "buy"
    )
    assert scores[twice["event_id"]] == 1
    assert set(scores) == buy_ids and set(scores.values()) == {1}
    assert collector.records[topics.dead_letter] == []

    worker = holder["worker"]
    assert worker.replica is not None
    engine = worker.replica.engine
    assert isinstance(engine, FeatureEngine)
    assert engine.stats.duplicate_events == 1
    assert engine.stats.migrations == n_migrated
    wallet = engine.state.wallets.get(twice["wallet"])
    assert wallet is not None
    by_wallet = [e for e in events if e["type"] == "wallet_buy" and e["wallet"] == twice["wallet"]]
    assert wallet.n_buys == len(by_wallet)
    token = engine.state.tokens.get(twice["mint"])
    assert token is not None
    mint_buys = [e for e in events if e["type"] == "wallet_buy" and e["mint"] == twice["mint"]]
    assert token.n_buys == len(mint_buys)
