"""Local recovery on real Apache Kafka (``state_backend="rocksdb"``): a worker runs the first
half of a market on its RocksDB state and is stopped (SIGTERM: final checkpoint, committed
locally in one batch with its manifest); the second half is fed; a new worker on the same
state_dir restores from the local copy (not the Kafka checkpoint, not a full replay) and scores
the rest: every buy exactly once, every served feature vector equal to the offline replay."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames
from streams.app.admin import create_prefixed_topics
from streams.devtools.harness import (
    Collector,
    feature_agreement,
    new_producer,
    produce_events,
    replay_features,
    sim_events,
)
from streams.devtools.local.process import free_port
from tests.conftest import SettingsFor, unique_id
from tests.integration.worker_procs import (
    metric,
    start_worker,
    stop_worker,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RESTORED = re.compile(
    r"engine restored from local checkpoint (\S+) \(watermark (\d+), .*?\): replaying (\d+) "
    r"committed offsets instead of (\d+) \(full replay\), (\d+) newer offsets to process; read "
    r"and loaded in ([\d.]+) s"
)
COMMITTED = re.compile(
    r"local checkpoint \S+ committed: .*?(\d+) values written, (\d+) deleted, ([\d.]+) MB; "
    r"drained in the event loop (\d+) ms \(([\d.]+) ms/MB\), written (\d+) ms"
)


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
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    codes: list[int] = []
    try:
        procs.append(start_worker(settings, prefix, logs[0], 0))
        produce_events(producer, topics, market[:half], in_order=True)
        assert collector.wait_for(
            lambda: collector.has_scored(topics.scores, first_buys),
            timeout_s=120,
        ), f"first worker left buys unscored; log {logs[0]}"
        codes.append(stop_worker(procs[0]))
        produce_events(
            producer, topics, market[half:], in_order=True
        )  # a backlog for the restarted worker
        procs.append(start_worker(settings, prefix, logs[1], port))
        # start_worker waited for its planned metric: the restore is done and logged
        restored = RESTORED.search(logs[1].read_text(errors="replace"))
        assert restored, f"second worker did not restore from its local state; log {logs[1]}"
        done = collector.wait_for(
            lambda: collector.has_scored(topics.scores, buys),
            timeout_s=120,
            settle_s=3.0,
        )
        from_local = metric(port, 'alphastream_state_restores_total{source="local"}')
        from_kafka = metric(port, 'alphastream_state_restores_total{source="checkpoint"}')
        codes.append(stop_worker(procs[1]))
    finally:
        for proc in procs:
            stop_worker(proc)
        collector.close()
    replayed, full = int(restored.group(3)), int(restored.group(4))
    scores = collector.records[topics.scores]
    scored = [s["source_event_id"] for s in scores if s["kind"] == "buy"]
    signals = collector.records[topics.signals]
    expected = replay_features(market, tmp_path / "replay")
    equal, compared, differ = feature_agreement(signals, expected)
    commits = COMMITTED.findall(logs[0].read_text(errors="replace"))
    print(
        f"\n[stream-local-state] events={len(market)} buys={len(buys)} restored from local "
        f"{restored.group(1)} in {restored.group(6)} s: re-processed {replayed} committed "
        f"offsets instead of {full}; scored={len(set(scored))} duplicates="
        f"{len(scored) - len(set(scored))}; features equal to replay {equal}/{compared}; "
        f"local commits by worker 1: {len(commits)}, last {commits[-1][2]} MB "
        f"({commits[-1][0]} values), drained {commits[-1][3]} ms, written {commits[-1][5]} ms"
    )
    assert codes == [0, 0]
    assert from_local == 1 and from_kafka == 0
    assert done and set(scored) == buys, f"missing {len(buys - set(scored))}"
    assert len(scored) == len(buys), f"{len(scored) - len(buys)} buys scored twice"
    assert full >= half // 2 and replayed * 10 <= full, "the restore re-processed nearly everything"
    assert compared == len(signals) and not differ and equal == compared
