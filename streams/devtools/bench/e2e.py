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

from streams.app.runner import launch_worker
from streams.devtools.bench.probes import cpu_share_between, gc_pauses_of, metric_value, wait_metric
from streams.devtools.harness import (
    Collector,
    new_producer,
    produce_events,
    sim_events,
    wait_group_settled,
)
from streams.devtools.local.process import process_cpu_s, run_wait_between_s, thread_run_waits_ns
from streams.heap import HeapKeeper
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from streams.topics import TopicNames


@dataclass
class LatencyRun:
    offered_buys_per_s: float
    achieved_buys_per_s: float
    buys: int
    p50_ms: float
    p99_ms: float
    stage_mean_ms: dict[str, float] = field(default_factory=dict)  # first worker: mean per stage
    # first worker and sequencer: cyclic-GC time during the run, and collections over 50 ms
    gc_pause_ms: dict[str, float] = field(default_factory=dict)
    gc_pauses_over_50ms: dict[str, int] = field(default_factory=dict)
    # CPU seconds per wall second of the run: first worker, sequencer, broker, load generator
    cpu_share: dict[str, float | None] = field(default_factory=dict)
    # the same processes: seconds their threads were runnable but waiting for a core, per wall
    # second (summed over threads, so it can pass 1); near or above cpu_share: CPU-starved
    run_wait_share: dict[str, float | None] = field(default_factory=dict)
    # first worker: checkpoints started during the run and the hot loop's total stall on them
    checkpoints: int = 0
    checkpoint_stall_ms: float = 0.0


@dataclass
class WorkerCpu:
    cpu_s: float | None  # process CPU during the burst
    replicated_s: float  # applying the log (every worker does it for every event)
    owned_s: float  # scoring, encoding and producing its own shards' outputs
    shards: int

    def not_owned_share(self, shard_count: int) -> float | None:
        """Share of this worker's CPU spent on events whose outputs it does not publish."""
        if not self.cpu_s:
            return None
        return self.replicated_s * (1.0 - self.shards / shard_count) / self.cpu_s


@dataclass
class E2EResult:
    events: int
    buys: int
    throughput_events_per_s: float
    throughput_buys_per_s: float
    floor_events_per_s: float  # the same engine, scorer and encoder over the events in memory
    latency: list[LatencyRun]
    kernel_rows_per_s: float
    models: str
    workers: int = 1
    worker_cpu: list[WorkerCpu] = field(default_factory=list)
    sequencer_cpu_s: float | None = None
    idle_cpu_share: dict[str, float | None] = field(default_factory=dict)  # nothing flowing

    @property
    def cpu_s_per_worker(self) -> list[float | None]:
        return [w.cpu_s for w in self.worker_cpu]

    def core_capacity_events_per_s(self) -> float | None:
        """Events/s the group could take if each worker had a core of its own: one over the
        busiest worker's CPU per input event (derived from the measured CPU, not a run with
        that many cores)."""
        per_event = [c / self.events for c in self.cpu_s_per_worker if c]
        return 1.0 / max(per_event) if per_event else None

    def records(self, shard_count: int) -> list[dict[str, Any]]:
        """One flat record per offered rate (``bench e2e --json``)."""
        common = {
            "workers": self.workers,
            "events": self.events,
            "throughput_events_per_s": self.throughput_events_per_s,
            "floor_events_per_s": self.floor_events_per_s,
            "throughput_over_floor": self.throughput_events_per_s / self.floor_events_per_s,
            "cpu_s_per_worker": self.cpu_s_per_worker,
            "cpu_us_per_event": [None if c is None else 1e6 * c / self.events
                                 for c in self.cpu_s_per_worker],
            "not_owned_share": [w.not_owned_share(shard_count) for w in self.worker_cpu],
            "core_capacity_events_per_s": self.core_capacity_events_per_s(),
            "sequencer_cpu_s": self.sequencer_cpu_s,
            "idle_cpu_share": self.idle_cpu_share,
            "kernel_rows_per_s": self.kernel_rows_per_s,
            "models": self.models,
        }  # fmt: skip
        return [{**common, **run.__dict__} for run in self.latency]


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
    from streams.contracts.features import STANDARD_NAMES
    from streams.scoring import Scorer, default_registry

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


def floor_events_per_s(settings: Settings, events: list[dict[str, Any]]) -> float:
    """The same replica (engine, scorer, encoder) over ``events`` already in memory as one
    market log, owning every shard: what the worker would do with no broker at all."""
    from streams.app.handover import HandoverBuffer, ShardProgress
    from streams.app.metrics import WorkerMetrics
    from streams.app.replica import Replica
    from streams.app.shards import ShardMap
    from streams.contracts.features import FEATURE_SET_VERSION
    from streams.devtools.harness import log_records
    from streams.features.engine import FeatureEngine
    from streams.scoring import Scorer, default_registry

    records = log_records(events)
    replica = Replica(FeatureEngine(), Scorer(default_registry(settings)),
                      feature_set=FEATURE_SET_VERSION, topics=TopicNames(), shards=ShardMap(1),
                      buffer=HandoverBuffer(60.0, 1000), metrics=WorkerMetrics())  # fmt: skip
    replica.take_over({0: ShardProgress()}, 0.0)
    batch = settings.log_batch
    started = time.perf_counter()
    for i in range(0, len(records), batch):
        replica.apply(records[i : i + batch], 1.0)
    return len(records) / (time.perf_counter() - started)


class _Pipeline:
    """A sequencer and ``workers`` worker subprocesses, each with its metrics port."""

    def __init__(self, settings: Settings, prefix: str, workers: int, log_dir: Path) -> None:
        from streams.devtools.local.process import free_port
        from streams.sequencer import launch_sequencer

        self.seq_port = free_port()
        own = settings.model_copy(update={"topic_prefix": prefix,
                                          "sequencer_metrics_port": self.seq_port})  # fmt: skip
        self.sequencer = launch_sequencer(own, log_path=log_dir / "sequencer.log")
        self.ports = [free_port() for _ in range(workers)]
        self.workers = [
            launch_worker(settings, topic_prefix=prefix, metrics_port=port,
                          log_path=log_dir / f"worker{i}.log")
            for i, port in enumerate(self.ports)
        ]  # fmt: skip
        ready = wait_metric(self.seq_port, "alphastream_sequencer_leader", 1.0, 90.0)
        ready = ready and wait_group_settled(settings, settings.app_id, workers, timeout_s=90)
        if not (ready and all(wait_metric(p, "alphastream_assignment_planned", 1.0, 60.0)
                              for p in self.ports)):  # fmt: skip
            self.stop()
            raise RuntimeError(f"the pipeline did not come up; see {log_dir}/*.log")

    def _pids(self, broker_pid: int | None) -> dict[str, int | None]:
        """The processes whose CPU and run-queue wait a latency run reports."""
        return {"worker": self.workers[0].pid, "sequencer": self.sequencer.pid,
                "broker": broker_pid, "load_generator": os.getpid()}  # fmt: skip

    def cpu_by_process(self, broker_pid: int | None) -> dict[str, float | None]:
        """CPU s so far of the first worker, the sequencer, the broker and this process."""
        cpu = {k: None if pid is None else process_cpu_s(pid)
               for k, pid in self._pids(broker_pid).items()}  # fmt: skip
        return {**cpu, "load_generator": time.process_time()}

    def run_waits(self, broker_pid: int | None) -> dict[str, dict[int, int] | None]:
        """Per-thread run-queue wait so far of the same processes."""
        return {k: None if pid is None else thread_run_waits_ns(pid)
                for k, pid in self._pids(broker_pid).items()}  # fmt: skip

    def cpu(self) -> tuple[list[float | None], float | None]:
        return [process_cpu_s(p.pid) for p in self.workers], process_cpu_s(self.sequencer.pid)

    def work(self) -> list[tuple[float, float, int]]:
        """Per worker: (replicated s, owned s, shards owned) so far."""
        return [(metric_value(p, "alphastream_replicated_seconds_total"),
                 metric_value(p, "alphastream_owned_seconds_total"),
                 int(metric_value(p, "alphastream_owned_shards_partitions")))
                for p in self.ports]  # fmt: skip

    def stages(self) -> dict[str, tuple[float, float]]:
        """The first worker's per-stage latency so far: stage -> (sum s, count)."""
        port = self.ports[0]
        name = "alphastream_stage_latency_seconds"
        stages = {stage: (metric_value(port, f'{name}_sum{{stage="{stage}"}}'),
                          metric_value(port, f'{name}_count{{stage="{stage}"}}'))
                  for stage in ("sequencer", "log")}  # fmt: skip
        # inside the sequencer stage: the merge's wait (fetched -> written), every record
        hold = "alphastream_sequencer_hold_seconds"
        stages["sequencer_hold"] = (metric_value(self.seq_port, f"{hold}_sum"),
                                    metric_value(self.seq_port, f"{hold}_count"))  # fmt: skip
        return stages

    def gc_pauses(self) -> dict[str, tuple[float, float]]:
        """First worker and sequencer: (GC pause s, collections over 50 ms) so far."""
        return {"worker": gc_pauses_of(self.ports[0], "alphastream"),
                "sequencer": gc_pauses_of(self.seq_port, "alphastream_sequencer")}  # fmt: skip

    def checkpoint_stalls(self) -> tuple[float, float]:
        """First worker: (hot-loop s spent starting checkpoints, checkpoints) so far, summed
        over where their values were serialized (the loop, a forked child)."""
        name, port = "alphastream_checkpoint_stall_seconds", self.ports[0]
        return metric_value(port, f"{name}_sum"), metric_value(port, f"{name}_count")

    def stop(self) -> None:
        procs = [*self.workers, self.sequencer]
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _burst(pipe: _Pipeline, collector: Collector, producer: Any, topics: TopicNames,
           burst: list[dict[str, Any]]) -> tuple[float, list[WorkerCpu], float | None]:  # fmt: skip
    """Events/s of the burst (first produce to last score), each worker's CPU on it."""
    buys = _buys_of(burst)
    (cpu0, seq0), work0 = pipe.cpu(), pipe.work()
    t0 = time.time()
    produce_events(producer, topics, burst)
    if not collector.wait_for(lambda: collector.has_scored(topics.scores, buys), 600):
        raise RuntimeError("burst not scored within 600 s")
    last = max(s["_kafka_ts_ms"] for s in collector.records[topics.scores]) / 1000.0
    (cpu1, seq1), work1 = pipe.cpu(), pipe.work()
    cpus = [
        WorkerCpu(None if a is None or b is None else b - a, w1[0] - w0[0], w1[1] - w0[1], w1[2])
        for a, b, w0, w1 in zip(cpu0, cpu1, work0, work1, strict=True)
    ]
    seq_cpu = None if seq0 is None or seq1 is None else seq1 - seq0
    return len(burst) / (last - t0), cpus, seq_cpu


def _latency(pipe: _Pipeline, collector: Collector, producer: Any, topics: TopicNames,
             live: list[dict[str, Any]], rate: float, share: float,
             broker_pid: int | None = None) -> LatencyRun:  # fmt: skip
    """Buys offered at ``rate`` per second (wall clock); latency of each = its score record's
    Kafka timestamp (set when the worker produced it) minus the buy's produce time."""
    sent: dict[str, float] = {}

    def note(event: Any, sent_s: float) -> None:
        if event["type"] == "wallet_buy":
            sent[event["event_id"]] = sent_s

    before, gc_before, stalls_before = pipe.stages(), pipe.gc_pauses(), pipe.checkpoint_stalls()
    cpu_before, wait_before = pipe.cpu_by_process(broker_pid), pipe.run_waits(broker_pid)
    wall_before = time.monotonic()
    produce_events(producer, topics, live, rate_per_s=rate / share, on_sent=note)
    collector.wait_for(lambda: collector.has_scored(topics.scores, set(sent)), timeout_s=300)
    after, gc_after, stalls_after = pipe.stages(), pipe.gc_pauses(), pipe.checkpoint_stalls()
    wall_s = time.monotonic() - wall_before
    cpu_share = cpu_share_between(cpu_before, pipe.cpu_by_process(broker_pid), wall_s)
    wait_after = pipe.run_waits(broker_pid)
    wait_share = {k: None if (w := run_wait_between_s(wait_before[k], wait_after[k])) is None
                  else w / wall_s for k in wait_after}  # fmt: skip
    gc_ms = {k: 1000.0 * (gc_after[k][0] - gc_before[k][0]) for k in gc_after}
    gc_long = {k: int(gc_after[k][1] - gc_before[k][1]) for k in gc_after}
    stages = {k: 1000.0 * (after[k][0] - before[k][0]) / max(1.0, after[k][1] - before[k][1])
              for k in after}  # fmt: skip
    lat = np.array([s["_kafka_ts_ms"] - 1000.0 * sent[s["source_event_id"]]
                    for s in collector.records[topics.scores] if s["source_event_id"] in sent])  # fmt: skip
    produced_s = (max(sent.values()) - min(sent.values())) if sent else 0.0
    collector.records[topics.scores].clear()
    if not len(lat):
        lat = np.array([np.nan])
    return LatencyRun(rate, len(sent) / produced_s if produced_s else 0.0, len(sent),
                      float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), stages,
                      gc_ms, gc_long, cpu_share, wait_share, int(stalls_after[1] - stalls_before[1]),
                      1000.0 * (stalls_after[0] - stalls_before[0]))  # fmt: skip


def _idle_cpu_share(pipe: _Pipeline, broker_pid: int | None, seconds: float = 3.0
                    ) -> dict[str, float | None]:  # fmt: skip
    """Each process's CPU per wall second with nothing flowing: the cost of being connected."""
    before, started = pipe.cpu_by_process(broker_pid), time.monotonic()
    time.sleep(seconds)  # the measurement window itself, not a wait for a condition
    return cpu_share_between(before, pipe.cpu_by_process(broker_pid), time.monotonic() - started)


def _continuing(after_ts: int, hours: float) -> list[dict[str, Any]]:
    """A later market (another seed) moved to start just after ``after_ts``."""
    later = sim_events(seed=8, hours=hours, launch_rate_per_day=20_000)
    shift = after_ts + 1_000 - later[0]["ts"]
    return [{**e, "ts": e["ts"] + shift} for e in later]


def run_e2e(
    settings: Settings, *, rates: list[float], seconds: float, burst_hours: float,
    log_dir: Path | None = None, workers: int = 1, warmup_hours: float = 0.25,
    broker_pid: int | None = None,
) -> E2EResult:  # fmt: skip
    """``broker_pid``: a local broker's process, whose CPU share each latency run reports."""
    prefix = f"bench-{time.time_ns()}."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    settings = settings.model_copy(update={"app_id": f"bench-{time.time_ns()}"})
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    pipe = _Pipeline(settings, prefix, workers, log_dir)
    collector = Collector(settings, [topics.scores])
    producer = new_producer(settings)
    market = sim_events(seed=7, hours=warmup_hours + burst_hours, launch_rate_per_day=20_000)
    split_ts = market[0]["ts"] + int(warmup_hours * 3_600_000)
    warmup = [e for e in market if e["ts"] < split_ts]
    burst = [e for e in market if e["ts"] >= split_ts]
    heap = HeapKeeper(1.0)
    try:
        if warmup:  # not measured: the broker's JIT, the sessions and the engine warm up
            produce_events(producer, topics, warmup)
            if not collector.wait_for(
                lambda: collector.has_scored(topics.scores, _buys_of(warmup)), 600
            ):
                raise RuntimeError(f"warm-up not scored within 600 s; see {log_dir}/*.log")
            collector.records[topics.scores].clear()
        throughput, cpus, seq_cpu = _burst(pipe, collector, producer, topics, burst)
        idle = _idle_cpu_share(pipe, broker_pid)
        collector.records[topics.scores].clear()
        need = sum(int(r * seconds * 1.9) for r in rates)  # events: ~0.57 of them are buys
        live = _continuing(max(e["ts"] for e in burst), hours=max(0.2, need / 19_000))
        share = len(_buys_of(live)) / max(1, len(live))
        # the load generator's own full collections would pace its sends unevenly
        heap.settle()
        latency, start = [], 0
        for rate in rates:
            n = int(rate / share * seconds)
            run = _latency(
                pipe, collector, producer, topics, live[start : start + n], rate, share, broker_pid
            )
            latency.append(run)
            start += n
    finally:
        heap.release()  # the caller's heap as it was (a test process runs this several times)
        pipe.stop()
        collector.close()
    kernel, models = kernel_ceiling(settings, settings.log_batch)
    return E2EResult(
        events=len(burst), buys=len(_buys_of(burst)), throughput_events_per_s=throughput,
        throughput_buys_per_s=throughput * len(_buys_of(burst)) / len(burst),
        floor_events_per_s=floor_events_per_s(settings, burst), latency=latency,
        kernel_rows_per_s=kernel, models=models, workers=workers, worker_cpu=cpus,
        sequencer_cpu_s=seq_cpu, idle_cpu_share=idle,
    )  # fmt: skip


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
