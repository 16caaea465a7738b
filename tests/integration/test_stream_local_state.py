"""Local recovery on real Apache Kafka (``state_backend="rocksdb"``): a worker runs the first
half of a market on its RocksDB state and is stopped (SIGTERM: final checkpoint, committed
locally in one batch with its manifest); the second half is fed; a new worker on the same
state_dir restores from the local copy (not the Kafka checkpoint, not a full replay) and scores
the rest: every buy exactly once, every served feature vector equal to the offline replay."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames
from streams.devtools.harness import (
    Collector,
    feature_agreement,
    log_replay_features,
    new_producer,
    produce_events,
    sim_events,
)
from streams.devtools.local.process import free_port
from streams.kafka_admin import create_prefixed_topics
from tests.conftest import SettingsFor, unique_id
from tests.integration.worker_procs import (
    metric,
    start_sequencer,
    start_worker,
    stop_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_restart_restores_from_local_rocksdb(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path
) -> None:
    market: list[dict[str, Any]] = sim_events(seed=29, hours=1.0, launch_rate_per_day=1500)
    settings = settings_for(
        kafka_bootstrap,
        models_dir=tmp_path / "models",
        checkpoint_interval_s=2.0,
        state_backend="rocksdb",
        state_cache_entries=200,  # far fewer than the wallets: values are evicted and re-read
    )
    prefix = unique_id("local") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    half = len(market) // 2
    first_buys = {e["event_id"] for e in market[:half] if e["type"] == "wallet_buy"}
    buys = {e["event_id"] for e in market if e["type"] == "wallet_buy"}
    collector = Collector(settings, [topics.scores, topics.signals])
    producer = new_producer(settings)
    logs = [tmp_path / "worker1.log", tmp_path / "worker2.log"]
    ports = [free_port(), free_port()]
    sequencer, _ = start_sequencer(settings, prefix, tmp_path / "sequencer.log")
    procs: list[subprocess.Popen[bytes]] = [sequencer]
    codes: list[int] = []
    try:
        procs.append(start_worker(settings, prefix, logs[0], ports[0]))
        produce_events(producer, topics, market[:half], in_order=True)
        assert collector.wait_for(
            lambda: collector.has_scored(topics.scores, first_buys),
            timeout_s=120,
        ), f"first worker left buys unscored; log {logs[0]}"
        first_position = metric(ports[0], "alphastream_log_position_offsets")
        codes.append(stop_worker(procs[1]))
        produce_events(
            producer, topics, market[half:], in_order=True
        )  # a backlog for the restarted worker
        procs.append(start_worker(settings, prefix, logs[1], ports[1]))
        # start_worker waited for its planned metric: the restore is done
        restored_at = metric(ports[1], "alphastream_restored_log_offsets")
        done = collector.wait_for(
            lambda: collector.has_scored(topics.scores, buys),
            timeout_s=120,
            settle_s=3.0,
        )
        from_local = metric(ports[1], 'alphastream_state_restores_total{source="local"}')
        from_kafka = metric(ports[1], 'alphastream_state_restores_total{source="checkpoint"}')
        codes.append(stop_worker(procs[2]))
    finally:
        for proc in procs:
            stop_worker(proc)
        collector.close()
    scores = collector.records[topics.scores]
    scored = [s["source_event_id"] for s in scores if s["kind"] == "buy"]
    signals = collector.records[topics.signals]
    expected = log_replay_features(settings, topics, tmp_path / "log-replay")
    equal, compared, differ = feature_agreement(signals, expected)
    print(
        f"\n[stream-local-state] events={len(market)} buys={len(buys)}: stopped at log offset "
        f"{first_position:.0f}, restored from the local state at {restored_at:.0f}; "
        f"scored={len(set(scored))} duplicates={len(scored) - len(set(scored))}; features "
        f"equal to the log replay {equal}/{compared}"
    )
    assert codes == [0, 0]
    assert from_local == 1 and from_kafka == 0
    assert done and set(scored) == buys, f"missing {len(buys - set(scored))}"
    assert len(scored) == len(buys), f"{len(scored) - len(buys)} buys scored twice"
    assert restored_at >= first_position > half  # nothing before the stop re-applied
    assert compared == len(signals) and not differ and equal == compared
