"""Checkpointed recovery on real Apache Kafka: a worker runs the first half of a market and is
stopped (SIGTERM: final checkpoint); the second half is fed; a new worker restores from the
checkpoint (a state plus one market-log offset), replays only the log after it, and catches up
(second half fed before it starts: a backlog; or after: a live burst). Every buy of the market is
scored once, every genesis window once, and every served feature vector equals the offline
replay of the market log."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames
from streams.checkpoints.codec import choose
from streams.checkpoints.kafka_log import CheckpointLog
from streams.contracts.features import FEATURE_SET_VERSION
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
    wait_metric_at_least,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("live", [False, True], ids=["backlog", "live-burst"])
def test_restart_restores_from_checkpoint_and_scores_everything(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path, live: bool
) -> None:
    market: list[dict[str, Any]] = sim_events(seed=23, hours=1.0, launch_rate_per_day=1500)
    settings = settings_for(
        kafka_bootstrap, models_dir=tmp_path / "models", checkpoint_interval_s=2.0
    )
    prefix = unique_id("ckpt") + "."
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
        # a base is written: the checkpoint at the stop continues its chain (a delta)
        assert wait_metric_at_least(
            ports[0], 'alphastream_checkpoints_written_total{kind="base"}', 1, timeout_s=30
        )
        # the base's values were serialized in a forked child (the worker's default)
        forked = metric(ports[0], 'alphastream_checkpoint_stall_seconds_count{where="child"}')
        first_position = metric(ports[0], "alphastream_log_position_offsets")
        codes.append(stop_worker(procs[1]))
        restorable = choose(CheckpointLog(settings, topics.checkpoints).read(), FEATURE_SET_VERSION)
        if not live:  # fed while no worker runs: the new worker restores, then catches up
            produce_events(producer, topics, market[half:], in_order=True)
        procs.append(start_worker(settings, prefix, logs[1], ports[1]))
        # start_worker waited for its planned metric: the restore is done
        from_checkpoint = metric(ports[1], 'alphastream_state_restores_total{source="checkpoint"}')
        restored_at = metric(ports[1], "alphastream_restored_log_offsets")
        if live:  # a burst into the restored, idle worker
            produce_events(producer, topics, market[half:], in_order=True)
        done = collector.wait_for(
            lambda: collector.has_scored(topics.scores, buys),
            timeout_s=120,
            settle_s=3.0,
        )
        codes.append(stop_worker(procs[2]))
    finally:
        for proc in procs:
            stop_worker(proc)
        collector.close()
    scores = collector.records[topics.scores]
    scored = [s["source_event_id"] for s in scores if s["kind"] == "buy"]
    genesis = Counter(s["source_event_id"] for s in scores if s["kind"] == "genesis")
    last_ts = max(e["ts"] for e in market)
    closed = {
        f"{e['event_id']}:g60"
        for e in market
        if e["type"] == "token_genesis" and e["ts"] + 60_000 < last_ts
    }
    signals = collector.records[topics.signals]
    expected = log_replay_features(settings, topics, tmp_path / "log-replay")
    equal, compared, differ = feature_agreement(signals, expected)
    print(
        f"\n[stream-checkpoint] events={len(market)} buys={len(buys)}: the first worker stopped "
        f"at log offset {first_position:.0f}, the second restored at {restored_at:.0f}; "
        f"(a delta of chain {restorable[0].chain if restorable else None}); "
        f"scored={len(set(scored))} duplicates={len(scored) - len(set(scored))}; genesis "
        f"windows {len(genesis)}/{len(closed)}; features equal to the log replay {equal}/{compared}"
    )
    assert codes == [0, 0]
    assert forked >= 1
    assert from_checkpoint == 1
    assert restorable is not None and restorable[0].log_offset == restored_at
    assert restorable[0].base_epoch is not None, "the final checkpoint was not a delta"
    # the final checkpoint is at the first worker's last position: nothing before it re-applied
    assert restored_at >= first_position > half
    assert done and set(scored) == buys, f"missing {len(buys - set(scored))}"
    assert len(scored) == len(buys), "a buy was scored twice"
    assert closed <= set(genesis) and max(genesis.values()) == 1
    assert compared == len(signals) and not differ and equal == compared


def test_checkpoint_log_round_trip_on_tansu(
    tansu_bootstrap: str, settings_for: SettingsFor
) -> None:
    """The compacted topic is accepted by tansu (which does not compact) and the reader sees the
    compacted view: the latest value per key, tombstones applied, read to the fetch's end."""
    settings = settings_for(tansu_bootstrap, partitions=1, kafka_idempotence=False)
    prefix = unique_id("ckpt-tansu") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    log = CheckpointLog(settings, topics.checkpoints)
    try:
        assert log.read(timeout_s=30) == {}
        big = bytes(range(256)) * 2048  # 512 KiB: one full chunk
        log.write([("c/w/0/0", big), ("c/w/0/1", b"tail"), ("m/w/0", b"first")])
        log.write([("m/w/0", b"second"), ("c/w/0/1", None)])
        assert log.read(timeout_s=30) == {"c/w/0/0": big, "m/w/0": b"second"}
    finally:
        log.close()
