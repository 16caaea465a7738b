"""End-to-end benchmark: worker subprocesses (one by default) in one group on a real broker.

0. warm-up (not measured): the first ``warmup_hours`` of the market, produced at once and
   waited for, so the broker's JIT, the worker's sessions and its engine state are warm;
1. throughput: the next ``burst_hours`` of the same market produced as fast as possible;
   events/s = events / (last score publish - first produce);
2. latency at a fixed offered rate: buys/s paced on the wall clock; latency of each buy = the
   score record's Kafka timestamp (set by the worker's producer at publish) - the input's
   (set at produce time);
3. the scoring-kernel ceiling: ``Scorer.score_batch`` rows/s on batches of ``batch_size`` with
   the same models, in this process.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streams.app.admin import create_prefixed_topics
from streams.app.runner import launch_worker
from streams.devtools.harness import (
    Collector,
    new_producer,
    produce_events,
    sim_events,
    wait_group_settled,
)
from streams.settings import Settings
from streams.topics import TopicNames


@dataclass
class E2EResult:
    events: int
    buys: int
    throughput_events_per_s: float
    throughput_buys_per_s: float
    offered_buys_per_s: float
    latency_buys: int
    achieved_buys_per_s: float
    p50_ms: float
    p99_ms: float
    kernel_rows_per_s: float
    models: str
    workers: int = 1
    burst_cpu_s: list[float | None] = field(default_factory=list)  # per worker, during the burst


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def deploy_synthetic_models(models_dir: Path) -> None:
    """One synthetic pair per target and family (realistic kernel cost; not for serving)."""
    from streams.contracts.events import TARGETS
    from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
    from streams.devtools.synthetic.models import synthetic_pair
    from training.export import deploy_pair

    for family, names in (("standard", STANDARD_NAMES), ("genesis", GENESIS_NAMES)):
        for i, target in enumerate(TARGETS):
            pair = synthetic_pair(names, family=family, target=target, seed=i, n_rows=800)
            deploy_pair(pair.onnx_bytes, pair.metadata, models_dir)


def kernel_ceiling(settings: Settings, batch_size: int, seconds: float = 2.0) -> tuple[float, str]:
    from streams.app.faust_app import default_registry
    from streams.contracts.features import STANDARD_NAMES
    from streams.scoring import Scorer

    registry = default_registry(settings)
    scorer = Scorer(registry)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch_size, len(STANDARD_NAMES)))
    rows, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        scorer.score_batch("standard", X)
        rows += batch_size
    label = ",".join(sorted(registry.versions().get("standard", {}).values())) or "rule only"
    return rows / (time.perf_counter() - started), label


def _buys_of(events: list[dict[str, Any]]) -> set[str]:
    return {e["event_id"] for e in events if e["type"] == "wallet_buy"}


def run_e2e(
    settings: Settings,
    *,
    rate_buys_per_s: float,
    seconds: float,
    burst_hours: float,
    log_dir: Path | None = None,
    workers: int = 1,
    warmup_hours: float = 0.25,
) -> E2EResult:
    prefix = f"bench-{time.time_ns()}."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    settings = settings.model_copy(update={"app_id": f"bench-{time.time_ns()}"})
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = [
        launch_worker(settings, topic_prefix=prefix, log_path=log_dir / f"worker{i}.log")
        for i in range(workers)
    ]
    collector = Collector(settings, [topics.scores])
    producer = new_producer(settings)
    try:
        if not wait_group_settled(settings, settings.app_id, workers, timeout_s=90):
            raise RuntimeError(f"workers did not join; see {log_dir}/worker*.log")
        time.sleep(1.0 if workers == 1 else 3.0)  # engines built after the last rebalance
        market = sim_events(seed=7, hours=warmup_hours + burst_hours, launch_rate_per_day=20_000)
        split_ts = market[0]["ts"] + int(warmup_hours * 3_600_000) if market else 0
        warmup = [e for e in market if e["ts"] < split_ts]
        burst = [e for e in market if e["ts"] >= split_ts]
        # 0. warm-up: same market, earlier event times; its scores are not measured
        if warmup:
            warm_buys = _buys_of(warmup)
            produce_events(producer, topics, warmup)
            if not collector.wait_for(lambda: collector.has_scored(topics.scores, warm_buys), 600):
                raise RuntimeError(f"warm-up not scored within 600 s; see {log_dir}/worker*.log")
            collector.records[topics.scores].clear()
        # 1. throughput on a burst
        burst_buys = _buys_of(burst)
        cpu_before = [process_cpu_s(p.pid) for p in procs]
        t0 = time.time()
        produce_events(producer, topics, burst)
        if not collector.wait_for(lambda: collector.has_scored(topics.scores, burst_buys), 600):
            raise RuntimeError(f"burst not scored within 600 s; see {log_dir}/worker*.log")
        burst_cpu = [
            None if a is None or b is None else b - a
            for a, b in zip(cpu_before, (process_cpu_s(p.pid) for p in procs), strict=True)
        ]
        last = max(s["_kafka_ts_ms"] for s in collector.records[topics.scores]) / 1000.0
        burst_s = last - t0
        # 2. latency at a fixed offered rate (continues the same market in event time)
        later = sim_events(
            seed=8, hours=max(0.1, (warmup_hours + burst_hours) * 4), launch_rate_per_day=20_000
        )
        start_ts = max(e["ts"] for e in burst)
        live = [e for e in later if e["ts"] > start_ts] or later
        share = len(_buys_of(live)) / max(1, len(live))
        wanted = int(rate_buys_per_s / share * seconds)
        live = live[:wanted]
        sent: dict[str, float] = {}
        produce_events(
            producer,
            topics,
            live,
            rate_per_s=rate_buys_per_s / share,
            on_sent=lambda e, s: (
                sent.__setitem__(e["event_id"], s) if e["type"] == "wallet_buy" else None
            ),
        )
        produced_s = (max(sent.values()) - min(sent.values())) if sent else 0.0
        collector.wait_for(
            lambda: collector.has_scored(topics.scores, set(sent)),
            timeout_s=300,
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        collector.close()
    latencies = [
        s["_kafka_ts_ms"] / 1000.0 - sent[s["source_event_id"]]
        for s in collector.records[topics.scores]
        if s["source_event_id"] in sent
    ]
    kernel, models = kernel_ceiling(settings, settings.log_batch)
    lat = np.array(latencies) * 1000.0 if latencies else np.array([np.nan])
    return E2EResult(
        events=len(burst),
        buys=len(burst_buys),
        throughput_events_per_s=len(burst) / burst_s,
        throughput_buys_per_s=len(burst_buys) / burst_s,
        offered_buys_per_s=rate_buys_per_s,
        latency_buys=len(sent),
        achieved_buys_per_s=len(sent) / produced_s if produced_s else 0.0,
        p50_ms=float(np.percentile(lat, 50)),
        p99_ms=float(np.percentile(lat, 99)),
        kernel_rows_per_s=kernel,
        models=models,
        workers=workers,
        burst_cpu_s=burst_cpu,
    )


def parse_worker_counts(text: str) -> list[int]:
    """``"1,2"`` -> ``[1, 2]``: the worker counts to run, each >= 1."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"worker counts must be integers such as 1 or 1,2: {text!r}") from None
    if not counts or min(counts) < 1:
        raise ValueError(f"worker counts must be >= 1: {text!r}")
    return counts


def scaling(results: list[E2EResult]) -> dict[int, float]:
    """Median burst throughput with N workers over the median with one, for each N > 1 run
    (empty without a one-worker run)."""
    by_count: dict[int, list[float]] = {}
    for r in results:
        by_count.setdefault(r.workers, []).append(r.throughput_events_per_s)
    if 1 not in by_count:
        return {}
    base = float(np.median(by_count[1]))
    return {n: float(np.median(v)) / base for n, v in by_count.items() if n > 1}
