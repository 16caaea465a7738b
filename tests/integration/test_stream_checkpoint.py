"""Checkpointed recovery on real Apache Kafka: a worker runs the first half of a market and is
stopped (SIGTERM: final checkpoint); the second half is fed; a new worker restores from the
checkpoint, re-processing almost none of the already committed input instead of all of it, and
catches up (second half fed before it starts: a backlog; or after: a live burst). Every buy of the market is scored, every genesis window once, and every served
feature vector equals the offline replay."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames
from streams.app.admin import create_prefixed_topics
from streams.app.checkpoint_io import CheckpointLog
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
    r"engine restored from checkpoint (\S+) \(watermark (\d+), .*?\): replaying (\d+) "
    r"committed offsets instead of (\d+) \(full replay\), (\d+) newer"
)
WRITTEN = re.compile(
    r"checkpoint \S+ written: .*?([\d.]+) MB state -> (\d+) KiB .*?\(([\d.]+) ms/MB\)"
)


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
        if not live:  # fed while no worker runs: the new worker restores, then catches up
            produce_events(producer, topics, market[half:], in_order=True)
        procs.append(start_worker(settings, prefix, logs[1], port))
        # start_worker waited for its planned metric: the restore is done and logged
        restored = RESTORED.search(logs[1].read_text(errors="replace"))
        if live:  # a burst into the restored, idle worker (fresh high-water marks order it)
            produce_events(producer, topics, market[half:], in_order=True)
        assert restored, f"second worker did not restore from a checkpoint; log {logs[1]}"
        done = collector.wait_for(
            lambda: collector.has_scored(topics.scores, buys),
            timeout_s=120,
            settle_s=3.0,
        )
        from_checkpoint = metric(port, 'alphastream_state_restores_total{source="checkpoint"}')
        replay_gauge = metric(port, "alphastream_rebuild_replay_offsets")
        codes.append(stop_worker(procs[1]))
    finally:
        for proc in procs:
            stop_worker(proc)
        collector.close()
    replayed, full = int(restored.group(3)), int(restored.group(4))
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
    expected = replay_features(market, tmp_path / "replay")
    equal, compared, differ = feature_agreement(signals, expected)
    written = WRITTEN.findall(logs[0].read_text(errors="replace"))
    print(
        f"\n[stream-checkpoint] events={len(market)} buys={len(buys)} restored "
        f"{restored.group(1)}: re-processed {replayed} committed offsets instead of {full} "
        f"({restored.group(5)} newer); scored={len(set(scored))} "
        f"duplicates={len(scored) - len(set(scored))}; genesis windows {len(genesis)}/"
        f"{len(closed)}; features equal to replay {equal}/{compared}; checkpoints by worker 1: "
        f"{len(written)}, last {written[-1][0]} MB -> {written[-1][1]} KiB, snapshot "
        f"{written[-1][2]} ms/MB"
    )
    assert codes == [0, 0]
    assert from_checkpoint == 1 and replay_gauge == replayed
    assert done and set(scored) == buys, f"missing {len(buys - set(scored))}"
    assert closed <= set(genesis) and max(genesis.values()) == 1
    assert full >= half // 2 and replayed * 10 <= full, "the restore re-processed nearly everything"
    assert compared == len(signals) and not differ and equal == compared


def test_checkpoint_log_round_trip_on_tansu(
    tansu_bootstrap: str, settings_for: SettingsFor
) -> None:
    """The compacted topic is accepted by tansu (which does not compact) and the reader sees the
    compacted view: the latest value per key, tombstones applied, read to the fetch's end."""
    settings = settings_for(tansu_bootstrap, partitions=1)
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
