"""A sequencer and one or two workers in one consumer group (subprocesses) on real Apache Kafka:
every buy scored once and every served feature vector equal to the offline replay of the market
log; a worker joining mid-stream, a SIGKILL of one worker and a SIGKILL of the leading sequencer
(a standby takes over) leave no buy unscored and no feature different."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames, launch_worker
from streams.devtools.harness import (
    Collector,
    feature_agreement,
    log_replay_features,
    new_producer,
    produce_events,
    sim_events,
    wait_group_settled,
)
from streams.devtools.local.process import free_port
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from tests.conftest import SettingsFor, unique_id
from tests.integration.worker_procs import metric, start_sequencer, wait_metric, wait_planned

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class GroupRun:
    workers: int
    buys: list[str]
    scores: list[dict[str, Any]] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    log_features: dict[str, list[float | None]] = field(default_factory=dict)
    seconds: float = 0.0
    completed: bool = False
    exit_codes: list[int | None] = field(default_factory=list)


@pytest.fixture(scope="module")
def market() -> list[dict[str, Any]]:
    return sim_events(seed=21, hours=1.0, launch_rate_per_day=1500)


def _launch(settings: Settings, prefix: str, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A worker subprocess and the port of its metrics."""
    port = free_port()
    proc = launch_worker(settings, topic_prefix=prefix, log_path=log, metrics_port=port)
    return proc, port


def _start(settings: Settings, prefix: str, n: int, logs: Path) -> list[subprocess.Popen[bytes]]:
    """A leading sequencer (first in the list), then ``n`` settled workers."""
    sequencer, _ = start_sequencer(settings, prefix, logs / "sequencer.log")
    launched = [_launch(settings, prefix, logs / f"worker{i}.log") for i in range(n)]
    procs, ports = [p for p, _ in launched], [port for _, port in launched]
    # the group settles, then every worker re-plans for its final assignment, before any data
    settled = wait_group_settled(settings, settings.app_id, n, timeout_s=90)
    if not (settled and wait_planned(ports, timeout_s=60)):
        for p in [sequencer, *procs]:
            p.kill()
        raise AssertionError(f"group did not settle; logs in {logs}")
    return [sequencer, *procs]


def _restores(port: int) -> float:
    try:
        return metric(port, "alphastream_state_restores_total")
    except OSError:  # not serving: it never came up
        return 0.0


def _stop(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for p in procs:
        try:
            codes.append(p.wait(30))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait(10))
    return codes


def _feed_live(
    settings: Settings, topics: TopicNames, events: list[dict[str, Any]], seconds: float
) -> threading.Thread:
    """Produce ``events`` paced over about ``seconds`` of wall time, in a started thread."""
    feeder = threading.Thread(
        target=produce_events,
        args=(new_producer(settings), topics, events),
        kwargs={"rate_per_s": len(events) / seconds},
    )
    feeder.start()
    return feeder


def _wait_all_scored(
    collector: Collector, topics: TopicNames, buys: set[str], settle_s: float
) -> bool:
    return collector.wait_for(
        lambda: collector.has_scored(topics.scores, buys),
        timeout_s=120,
        settle_s=settle_s,
    )


def _prepare(
    settings_for: SettingsFor, bootstrap: str, tmp: Path, name: str, events: list[dict[str, Any]]
) -> tuple[Settings, str, TopicNames, list[str]]:
    """Settings, a fresh topic prefix with its topics created, and the buys among ``events``."""
    settings = settings_for(bootstrap, models_dir=tmp / "models")
    prefix = unique_id(name) + "."
    create_prefixed_topics(settings, prefix)
    buys = [e["event_id"] for e in events if e["type"] == "wallet_buy"]
    return settings, prefix, TopicNames.prefixed(prefix), buys


def _run_group(
    settings_for: SettingsFor, bootstrap: str, tmp: Path, events: list[dict[str, Any]], n: int
) -> GroupRun:
    settings, prefix, topics, buys = _prepare(settings_for, bootstrap, tmp, f"group{n}", events)
    run = GroupRun(n, buys)
    procs = _start(settings, prefix, n, tmp)
    collector = Collector(settings, [topics.scores, topics.signals])
    try:
        started = time.time()
        produce_events(new_producer(settings), topics, events, in_order=True)
        run.completed = _wait_all_scored(collector, topics, set(buys), settle_s=2.0)
        last = max((s["_kafka_ts_ms"] for s in collector.records[topics.scores]), default=0)
        run.seconds = last / 1000.0 - started
    finally:
        run.exit_codes = _stop(procs)
        collector.close()
    run.log_features = log_replay_features(settings, topics, tmp / "log-replay")
    run.scores = collector.records[topics.scores]
    run.signals = collector.records[topics.signals]
    return run


def test_two_workers_score_every_buy_once(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path, market: list[dict[str, Any]]
) -> None:
    one = _run_group(settings_for, kafka_bootstrap, tmp_path / "one", market, 1)
    two = _run_group(settings_for, kafka_bootstrap, tmp_path / "two", market, 2)
    for run in (one, two):
        assert run.completed, f"{run.workers} worker(s) left buys unscored"
        buy_scores = [s["source_event_id"] for s in run.scores if s["kind"] == "buy"]
        assert sorted(buy_scores) == sorted(run.buys), "a buy was scored twice or never"
        assert all(code == 0 for code in run.exit_codes), run.exit_codes
        equal, compared, differ = feature_agreement(run.signals, run.log_features)
        assert compared == len(run.signals) and not differ, f"{run.workers} worker(s): {differ[:3]}"
    equal, compared, _ = feature_agreement(two.signals, two.log_features)
    share = equal / compared
    rate_one, rate_two = len(market) / one.seconds, len(market) / two.seconds
    print(
        f"\n[stream-group] events={len(market)} buys={len(two.buys)} "
        f"in-order feed (producer-bound; throughput: bench e2e): 1 worker {one.seconds:.2f}s "
        f"({rate_one:.0f} ev/s), 2 workers {two.seconds:.2f}s ({rate_two:.0f} ev/s); "
        f"features equal to replay with 2 workers: {equal}/{compared} = {share:.4f}"
    )
    assert share == 1.0


def test_sigkill_one_worker_survivor_scores_the_rest(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path, market: list[dict[str, Any]]
) -> None:
    settings, prefix, topics, buy_ids = _prepare(
        settings_for, kafka_bootstrap, tmp_path, "kill", market
    )
    buys = set(buy_ids)
    procs = _start(settings, prefix, 2, tmp_path)
    collector = Collector(settings, [topics.scores])
    try:
        feeder = _feed_live(settings, topics, market, seconds=8.0)  # the kill lands mid-way
        collector.wait_for(
            lambda: len(collector.records[topics.scores]) > len(buys) // 4, timeout_s=60
        )
        os.kill(procs[2].pid, signal.SIGKILL)  # [sequencer, worker0, worker1]
        killed_at = time.time()
        feeder.join(60)
        done = _wait_all_scored(collector, topics, buys, settle_s=2.0)
    finally:
        codes = _stop(procs)
        collector.close()
    scored = [s["source_event_id"] for s in collector.records[topics.scores] if s["kind"] == "buy"]
    missing = buys - set(scored)
    duplicates = len(scored) - len(set(scored))
    last = max(s["_kafka_ts_ms"] for s in collector.records[topics.scores]) / 1000.0
    print(
        f"\n[stream-kill] buys={len(buys)} scored={len(set(scored))} missing={len(missing)} "
        f"duplicates={duplicates} (same event_id) last score {last - killed_at:.1f}s after the kill"
    )
    assert done and not missing
    assert set(scored) == buys  # nothing but the input buys (duplicates share their event_id)
    assert codes[:2] == [0, 0] and codes[2] == -signal.SIGKILL


def test_a_worker_joining_mid_stream_keeps_features_exact(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path, market: list[dict[str, Any]]
) -> None:
    """A rebalance while events flow: the newcomer restores (or replays the log), the first
    worker hands over half its shards; every buy is scored and every served feature vector
    equals the offline replay of the market log."""
    settings, prefix, topics, buy_ids = _prepare(
        settings_for, kafka_bootstrap, tmp_path, "join", market
    )
    buys = set(buy_ids)
    procs = _start(settings, prefix, 1, tmp_path)
    collector = Collector(settings, [topics.scores, topics.signals])
    try:
        feeder = _feed_live(settings, topics, market, seconds=20.0)  # the newcomer joins early
        # mid-stream: once the first worker has scored some of the live input
        collector.wait_for(lambda: len(collector.records[topics.scores]) > 0, timeout_s=60)
        newcomer, port = _launch(settings, prefix, tmp_path / "worker1.log")
        procs.append(newcomer)
        feeder.join(90)
        done = _wait_all_scored(collector, topics, buys, settle_s=3.0)
        # the newcomer joined the group and built its engine (from the log)
        joined = wait_planned([port], timeout_s=60) and _restores(port) >= 1
    finally:
        codes = _stop(procs)
        collector.close()
    expected = log_replay_features(settings, topics, tmp_path / "log-replay")
    signals = collector.records[topics.signals]
    equal, compared, _ = feature_agreement(signals, expected)
    print(f"\n[stream-join] second worker built mid-stream: {joined}; features {equal}/{compared}")
    assert done and joined and codes == [0, 0, 0]
    assert equal == compared == len(signals)


def test_sigkill_of_the_leading_sequencer_standby_takes_over(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path, market: list[dict[str, Any]]
) -> None:
    """Two sequencers (leader + standby) and one worker: SIGKILL the leader mid-stream; the
    standby leads, no buy goes unscored, and every served feature equals the log's replay."""
    settings, prefix, topics, buy_ids = _prepare(
        settings_for, kafka_bootstrap, tmp_path, "seqkill", market
    )
    buys = set(buy_ids)
    procs = _start(settings, prefix, 1, tmp_path)  # [leader, worker]
    standby, standby_port = start_sequencer(settings, prefix, tmp_path / "standby.log",
                                            wait_leader=False)  # fmt: skip
    procs.append(standby)
    collector = Collector(settings, [topics.scores, topics.signals])
    try:
        feeder = _feed_live(settings, topics, market, seconds=10.0)
        collector.wait_for(
            lambda: len(collector.records[topics.scores]) > len(buys) // 4, timeout_s=60
        )
        os.kill(procs[0].pid, signal.SIGKILL)
        killed_at = time.time()
        leads = wait_metric(standby_port, "alphastream_sequencer_leader", 1, timeout_s=60)
        took_over_s = time.time() - killed_at
        feeder.join(60)
        done = _wait_all_scored(collector, topics, buys, settle_s=2.0)
    finally:
        codes = _stop(procs)
        collector.close()
    expected = log_replay_features(settings, topics, tmp_path / "log-replay")
    signals = collector.records[topics.signals]
    equal, compared, _ = feature_agreement(signals, expected)
    scored = [s["source_event_id"] for s in collector.records[topics.scores] if s["kind"] == "buy"]
    print(f"\n[sequencer-kill] standby led {took_over_s:.1f}s after the kill; buys {len(buys)} "
          f"scored {len(set(scored))}; features {equal}/{compared}")  # fmt: skip
    assert leads and done and set(scored) == buys
    assert equal == compared == len(signals)
    assert codes[0] == -signal.SIGKILL and codes[1:] == [0, 0]
