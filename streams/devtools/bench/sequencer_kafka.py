"""``alphastream bench sequencer --kafka``: one sequencer process on a real broker.

1. burst: a simulated market produced at once; records/s = inputs / (first produce -> the last
   of them read back from the market log), and the sequencer process's CPU seconds meanwhile;
2. latency at a fixed offered rate: events paced on the wall clock; the latency of each = the
   moment this process reads it from the market log - the moment it was handed to the producer
   (what a worker reading the log sees, the reader's own fetch included).

The sequencer runs as a child process (``launch_sequencer``), so this process's producer and
log reader do not share its interpreter.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer, TopicPartition

from streams.devtools.harness import new_producer, produce_events, sim_events
from streams.devtools.local.process import free_port, process_cpu_s, scrape
from streams.kafka_admin import create_prefixed_topics
from streams.sequencer import launch_sequencer
from streams.sequencer.kafka_io import take
from streams.settings import Settings
from streams.topics import TopicNames


@dataclass(frozen=True, slots=True)
class SequencerKafkaBench:
    burst_records: int
    burst_records_per_s: float
    burst_cpu_s: float | None
    offered_per_s: float
    latency_records: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    late: float
    forced: float
    hold_ms: float
    paced_cpu_share: float | None  # the sequencer's CPU seconds per wall second while paced
    paced_steps_per_record: float  # loop steps (wake-ups) per paced record


def _cpu_s(pid: int) -> float | None:
    return process_cpu_s(pid)


def _metric(port: int, name: str) -> float | None:
    return scrape(port, name, timeout_s=2.0)


def _counts(port: int) -> dict[str, float]:
    names = ("late_events_total", "forced_events_total", "hold_seconds_sum", "hold_seconds_count",
             "steps_total")  # fmt: skip
    return {name: _metric(port, f"alphastream_sequencer_{name}") or 0.0 for name in names}


class _LogTail:
    """Reads the log from the start; the wall time each event id was first read."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self._consumer = Consumer(
            {**settings.kafka_client_config(), "group.id": f"bench-log-{time.time_ns()}",
             "enable.auto.commit": False, "fetch.wait.max.ms": 10}
        )  # fmt: skip
        self._consumer.assign([TopicPartition(topic, 0, 0)])

    def read_until(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while len(self.seen) < count and time.monotonic() < deadline:
            msgs = take(self._consumer, 1000, 0.05)
            now = time.time()
            for m in msgs:
                value = m.value()
                if m.error() is None and value and value[:1] == b"{":
                    event_id = orjson.loads(value).get("event_id")
                    if isinstance(event_id, str):
                        self.seen.setdefault(event_id, now)
        return len(self.seen) >= count

    def close(self) -> None:
        self._consumer.close()


def run_sequencer_kafka_bench(
    settings: Settings, *, rate: float, seconds: float, burst_hours: float, log_path: Path
) -> SequencerKafkaBench:
    prefix = f"bench-seq-{time.time_ns()}."
    create_prefixed_topics(settings, prefix)
    topics = TopicNames.prefixed(prefix)
    port = free_port()
    child = settings.model_copy(
        update={"topic_prefix": prefix, "app_id": prefix[:-1], "sequencer_metrics_port": port}
    )
    proc = launch_sequencer(child, log_path=log_path)
    tail = _LogTail(settings, topics.log)
    try:
        deadline = time.monotonic() + 60
        while _metric(port, "alphastream_sequencer_leader") != 1:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the sequencer did not lead; see {log_path}")
            time.sleep(0.05)
        market = sim_events(seed=7, hours=burst_hours, launch_rate_per_day=20_000)
        producer = new_producer(settings)
        cpu0, t0 = _cpu_s(proc.pid), time.time()
        produce_events(producer, topics, market)
        if not tail.read_until(len(market), 600):
            raise RuntimeError(f"burst not all in the log; see {log_path}")
        burst_s = max(tail.seen.values()) - t0
        cpu1, paced_t0 = _cpu_s(proc.pid), time.monotonic()
        lat, counts = _paced(topics, producer, tail, port, start_ts=max(e["ts"] for e in market),
                             rate=rate, seconds=seconds, already=len(market))  # fmt: skip
        cpu2, paced_s = _cpu_s(proc.pid), time.monotonic() - paced_t0
    finally:
        tail.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return SequencerKafkaBench(
        burst_records=len(market),
        burst_records_per_s=len(market) / burst_s if burst_s > 0 else 0.0,
        burst_cpu_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        offered_per_s=rate,
        latency_records=len(lat),
        p50_ms=float(np.percentile(lat, 50)) if len(lat) else float("nan"),
        p99_ms=float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        max_ms=float(lat.max()) if len(lat) else float("nan"),
        late=counts["late_events_total"],
        forced=counts["forced_events_total"],
        hold_ms=1000.0 * counts["hold_seconds_sum"] / max(1.0, counts["hold_seconds_count"]),
        paced_cpu_share=None if cpu1 is None or cpu2 is None else (cpu2 - cpu1) / paced_s,
        paced_steps_per_record=counts["steps_total"] / max(1, len(lat)),
    )


def _paced(
    topics: TopicNames,
    producer: Any,
    tail: _LogTail,
    port: int,
    *,
    start_ts: int,
    rate: float,
    seconds: float,
    already: int,
) -> tuple[np.ndarray, dict[str, float]]:
    """Latencies (ms) of ``rate * seconds`` paced events and the sequencer's counts meanwhile."""
    hours = max(0.1, 3 * rate * seconds / 22_000)  # ~22k events/h, fewer in its first hour
    live = sim_events(seed=8, hours=hours, launch_rate_per_day=20_000)
    # later in event time than the burst: an event older than what was written goes out at
    # once (late), which would flatter the latency
    shift = start_ts + 1 - live[0]["ts"]
    live = [{**e, "ts": e["ts"] + shift} for e in live[: int(rate * seconds)]]
    before = _counts(port)
    sent: dict[str, float] = {}
    paced = threading.Thread(
        target=lambda: produce_events(producer, topics, live, rate_per_s=rate,
                                      on_sent=lambda e, s: sent.__setitem__(e["event_id"], s)),
        daemon=True,
    )  # fmt: skip
    paced.start()
    tail.read_until(already + len(live), seconds + 120)
    paced.join(60)
    after = _counts(port)
    lat = np.array([(tail.seen[i] - s) * 1000.0 for i, s in sent.items() if i in tail.seen])
    return lat, {name: after[name] - before[name] for name in after}
