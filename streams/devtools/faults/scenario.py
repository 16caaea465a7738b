"""One row of the fault matrix: workers up, a market fed at a steady rate, the fault injected
once a share of the buys is scored, then every output topic read back and measured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streams.app import TopicNames, launch_worker
from streams.app.runner import settings_env
from streams.devtools.harness import (
    Collector,
    feature_agreement,
    log_replay_features,
    new_producer,
    produce_events,
    wait_group_settled,
)
from streams.devtools.local.kafka import KafkaBroker
from streams.devtools.local.process import free_port
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings


@dataclass(frozen=True)
class Durations:
    """How long each phase lasts: the CI form shortens them, ``make faults`` keeps them full."""

    feed_s: float = 60.0  # wall time the market is spread over
    broker_pause_s: float = 30.0
    clickhouse_down_s: float = 60.0
    poison_messages: int = 10_000
    drain_timeout_s: float = 240.0  # after the feed: until every buy is scored


@dataclass
class RowResult:
    fault: str
    offered: int = 0  # input messages produced (good events and poison)
    buys: int = 0  # good buys among them: each must end as exactly one score
    scored: int = 0  # distinct buys scored
    dead_lettered: int = 0
    duplicates: int = 0  # extra scores sharing an event_id
    lost: int = 0  # buys with no score and no dead-letter record
    features_equal_pct: float = 0.0  # served feature vectors equal to the offline replay
    recover_s: float | None = None  # fault undone -> first score published after it
    peak_latency_s: float = 0.0  # produce -> score, over buys sent from the fault on
    completed: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scenario:
    """What a fault function acts on, and where it records when it struck and was undone."""

    settings: Settings
    prefix: str
    topics: TopicNames
    broker: KafkaBroker
    work_dir: Path
    durations: Durations
    events: list[dict[str, Any]]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    metrics_ports: list[int] = field(default_factory=list)
    sent_s: dict[str, float] = field(default_factory=dict)
    fault_start_s: float = 0.0
    fault_end_s: float = 0.0
    offered_extra: int = 0  # poison messages a fault produced
    expected_dead: dict[str, int] = field(default_factory=dict)  # reason -> count
    notes: dict[str, Any] = field(default_factory=dict)
    waits: list[Callable[[], bool]] = field(default_factory=list)  # more "drained" conditions
    cleanups: list[Callable[[], object]] = field(default_factory=list)  # after the workers stop
    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # not workers
    sequencers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # leader first
    sequencer_ports: list[int] = field(default_factory=list)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # read back so far
    state: dict[str, Any] = field(default_factory=dict)  # what a row's setup hands its fault

    def launch(self) -> subprocess.Popen[bytes]:
        """One more worker of the group (not waited on)."""
        log = self.work_dir / f"worker{len(self.procs)}.log"
        port = free_port()
        proc = launch_worker(
            self.settings, topic_prefix=self.prefix, log_path=log, metrics_port=port
        )
        self.procs.append(proc)
        self.metrics_ports.append(port)
        return proc

    def launch_sequencer(self) -> subprocess.Popen[bytes]:
        """One more sequencer (the first leads; later ones stand by), not waited on."""
        from streams.sequencer import launch_sequencer

        port = free_port()
        own = self.settings.model_copy(update={"topic_prefix": self.prefix,
                                               "sequencer_metrics_port": port})  # fmt: skip
        log = self.work_dir / f"sequencer{len(self.sequencers)}.log"
        proc = launch_sequencer(own, log_path=log)
        self.sequencers.append(proc)
        self.sequencer_ports.append(port)
        return proc

    def launch_sink(self, dsn: str, metrics_port: int) -> subprocess.Popen[bytes]:
        """``alphastream sink`` on this row's topics into ``dsn`` (stopped after the workers)."""
        update = {"clickhouse_dsn": dsn, "sink_metrics_port": metrics_port}
        env = {**os.environ, **settings_env(self.settings.model_copy(update=update))}
        args = [str(Path(sys.executable).parent / "alphastream"), "sink",
                "--topic-prefix", self.prefix, "--max-wait", "0.5"]  # fmt: skip
        return self.launch_helper(args, "sink", env)

    def launch_helper(
        self, args: list[str], name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """A process a row needs besides the workers (log in the work dir; SIGTERMed after
        the workers stop)."""
        with (self.work_dir / f"{name}{len(self.helpers)}.log").open("ab") as out:
            proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.helpers.append(proc)
        return proc


Fault = Callable[[Scenario], None]
Setup = Callable[[Scenario], None]  # before the workers start (settings, helpers, waits)


def _start_group(sc: Scenario, workers: int, sequencers: int = 1) -> None:
    """Sequencers (the first leading before any worker starts), then the workers."""
    sc.launch_sequencer()
    if not _wait_gauge([sc.sequencer_ports[0]], "alphastream_sequencer_leader", 90):
        _stop_all(sc.sequencers)
        raise RuntimeError(f"the sequencer did not lead; logs in {sc.work_dir}")
    for _ in range(sequencers - 1):
        sc.launch_sequencer()
    for _ in range(workers):
        sc.launch()
    settled = wait_group_settled(sc.settings, sc.settings.app_id, workers, timeout_s=120)
    if not (settled and _wait_gauge(sc.metrics_ports, "alphastream_assignment_planned", 90)):
        _stop_all(sc.procs + sc.sequencers)
        raise RuntimeError(f"worker group did not settle; logs in {sc.work_dir}")


def _wait_gauge(ports: list[int], name: str, timeout_s: float) -> bool:
    """Until the gauge reads 1 on every port (for workers, ``alphastream_assignment_planned``:
    the shards of its latest assignment are taken over, more than the broker's view of the
    group; for a sequencer, ``alphastream_sequencer_leader``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(_gauge(port, name) == 1.0 for port in ports):
            return True
        time.sleep(0.25)
    return False


def _gauge(port: int, name: str) -> float:
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    except OSError:  # the worker is still starting its metrics server
        return 0.0
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _stop_all(procs: list[subprocess.Popen[bytes]]) -> list[int | None]:
    """SIGTERM every live worker at once, then wait (workers share the caller's process group,
    so a group signal would not reach them); a SIGKILLed one keeps its exit code."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for p in procs:
        try:
            codes.append(p.wait(60))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait(10))
    return codes


def _feed(sc: Scenario) -> threading.Thread:
    def note(event: Any, sent: float) -> None:
        sc.sent_s[str(event["event_id"])] = sent

    rate = len(sc.events) / sc.durations.feed_s
    feeder = threading.Thread(
        target=produce_events,
        args=(new_producer(sc.settings), sc.topics, sc.events),
        kwargs={"rate_per_s": rate, "on_sent": note},
        daemon=True,
    )
    feeder.start()
    return feeder


def run_row(
    name: str,
    fault: Fault,
    *,
    settings: Settings,
    broker: KafkaBroker,
    events: list[dict[str, Any]],
    work_dir: Path,
    durations: Durations,
    workers: int = 2,
    setup: Setup | None = None,
    sequencers: int = 1,
) -> RowResult:
    """Run one fault row end to end on a fresh topic prefix and consumer group."""
    prefix = f"fault-{name}-{time.time_ns()}."
    create_prefixed_topics(settings, prefix)
    sc = Scenario(
        settings, prefix, TopicNames.prefixed(prefix), broker, work_dir, durations, events
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    topics = sc.topics
    buys = {e["event_id"] for e in events if e["type"] == "wallet_buy"}
    sc.cleanups.append(lambda: _stop_all(sc.helpers))
    try:
        if setup is not None:
            setup(sc)
        _start_group(sc, workers, sequencers)
    except BaseException:
        _run_cleanups(sc)
        raise
    collector = Collector(sc.settings, [topics.scores, topics.signals, topics.dead_letter])
    sc.records = collector.records
    try:
        feeder = _feed(sc)
        # strike once about a third of the buys is scored: mid-burst, with state built up
        collector.wait_for(lambda: _scored_count(collector, topics) > len(buys) // 3, 120)
        fault(sc)
        feeder.join(durations.feed_s * 4 + 120)
        done = collector.wait_for(
            lambda: (
                collector.has_scored(topics.scores, buys)
                and _dead_count(collector, topics) >= sum(sc.expected_dead.values())
                and all(wait() for wait in sc.waits)
            ),
            timeout_s=durations.drain_timeout_s,
            settle_s=3.0,
        )
    finally:
        codes = _stop_all(sc.procs)
        codes += _stop_all(sc.sequencers)
        collector.close()
        _run_cleanups(sc)
    # parity is with the replay of the very log the workers applied (the canonical order)
    expected_features = log_replay_features(sc.settings, topics, work_dir / "log-replay")
    result = measure(name, sc, collector.records, buys, expected_features)
    result.completed = done
    result.notes.update(sc.notes, exit_codes=codes)
    return result


def _run_cleanups(sc: Scenario) -> None:
    """Every cleanup, last added first (each may add notes; one failing does not stop the rest)."""
    for cleanup in reversed(sc.cleanups):
        try:
            cleanup()
        except Exception as exc:
            sc.notes.setdefault("cleanup_errors", []).append(f"{type(exc).__name__}: {exc}")
    sc.cleanups.clear()


def _scored_count(collector: Collector, topics: TopicNames) -> int:
    return len(collector.records[topics.scores])


def _dead_count(collector: Collector, topics: TopicNames) -> int:
    return len(collector.records[topics.dead_letter])


def measure(
    name: str,
    sc: Scenario,
    records: dict[str, list[dict[str, Any]]],
    buys: set[str],
    expected_features: dict[str, list[float | None]],
) -> RowResult:
    """The row's figures from everything read back off the output topics."""
    topics = sc.topics
    buy_scores = [s for s in records[topics.scores] if s["kind"] == "buy"]
    scored_ids = [s["source_event_id"] for s in buy_scores]
    dead = records[topics.dead_letter]
    dead_ids = {d["event_id"] for d in dead}
    equal, compared, _ = feature_agreement(records[topics.signals], expected_features)
    after = [
        s["_kafka_ts_ms"] / 1000.0
        for s in buy_scores
        if s["_kafka_ts_ms"] / 1000.0 > sc.fault_end_s
    ]
    latencies = [
        s["_kafka_ts_ms"] / 1000.0 - sc.sent_s[s["source_event_id"]]
        for s in buy_scores
        if sc.sent_s.get(s["source_event_id"], 0.0) >= sc.fault_start_s
    ]
    reasons: dict[str, int] = {}
    for d in dead:
        reasons[d["reason"]] = reasons.get(d["reason"], 0) + 1
    result = RowResult(
        fault=name,
        offered=len(sc.events) + sc.offered_extra,
        buys=len(buys),
        scored=len(set(scored_ids) & buys),
        dead_lettered=len(dead),
        duplicates=len(scored_ids) - len(set(scored_ids)),
        lost=len(buys - set(scored_ids) - dead_ids),
        features_equal_pct=round(100.0 * equal / compared, 3) if compared else 0.0,
        recover_s=round(min(after) - sc.fault_end_s, 3) if after else None,
        peak_latency_s=round(max(latencies), 3) if latencies else 0.0,
    )
    result.notes["dead_letter_reasons"] = reasons
    result.notes["unexpected_scores"] = sorted(set(scored_ids) - buys)[:20]
    result.notes["unexpected_score_count"] = len(set(scored_ids) - buys)
    result.notes["backlog_drained_s"] = _backlog_drained_s(sc, buy_scores)
    result.notes["good_rate_ratio"] = _good_rate_ratio(sc, buy_scores)
    return result


def _backlog_drained_s(sc: Scenario, buy_scores: list[dict[str, Any]]) -> float | None:
    """Fault undone -> every buy sent before that scored (what was in flight came out)."""
    before = [
        s["_kafka_ts_ms"] / 1000.0
        for s in buy_scores
        if 0.0 < sc.sent_s.get(s["source_event_id"], 0.0) <= sc.fault_end_s
    ]
    return round(max(0.0, max(before) - sc.fault_end_s), 3) if before else None


def _good_rate_ratio(sc: Scenario, buy_scores: list[dict[str, Any]]) -> float | None:
    """Good buys scored while the fault lasted over good buys offered meanwhile (the market's
    own rate varies, so the offered count is the yardstick; a worker keeping up holds ~1)."""
    if sc.fault_end_s - sc.fault_start_s <= 1.0:
        return None
    buys = {s["source_event_id"] for s in buy_scores}
    offered = sum(
        1 for i, t in sc.sent_s.items() if sc.fault_start_s <= t < sc.fault_end_s and i in buys
    )
    published = {
        s["source_event_id"]
        for s in buy_scores
        if sc.fault_start_s <= s["_kafka_ts_ms"] / 1000.0 < sc.fault_end_s
    }
    return round(len(published) / offered, 3) if offered else None
