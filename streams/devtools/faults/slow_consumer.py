"""The slow-consumer row: from the fault on, a consumer group reads ``scores`` a few records a
second (fetching a few KiB at a time, committing what it read) and so falls behind by most of
the run, hours of market time. The workers' latency and rate must not change with it.

The consumer is a process of its own: ``python -m streams.devtools.faults.slow_reader``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from statistics import quantiles
from typing import Any

from confluent_kafka import Consumer, TopicPartition

from streams.devtools.faults.scenario import Scenario


def start_slow_consumer(sc: Scenario) -> None:
    """The fault: the slow consumer joins; the window lasts a third of the feed."""
    status = sc.work_dir / "slow_consumer.json"
    group = f"{sc.prefix}slow-scores"
    args = [sys.executable, "-m", "streams.devtools.faults.slow_reader", "--bootstrap", sc.settings.kafka_bootstrap,
            "--topic", sc.topics.scores, "--group", group, "--status", str(status)]  # fmt: skip
    sc.fault_start_s = time.time()
    sc.launch_helper(args, "slow_consumer")
    time.sleep(sc.durations.feed_s / 3)  # the measured window: the market keeps flowing
    sc.fault_end_s = time.time()
    sc.cleanups.append(lambda: _lag_notes(sc, group, status))


def _lag_notes(sc: Scenario, group: str, status: Path) -> None:
    """How far behind the consumer was when the run ended, and the workers' latency before it
    joined and while it lagged."""
    try:
        read: dict[str, Any] = json.loads(status.read_text())
    except (OSError, ValueError):
        read = {"read": 0, "last_ts": None}
    scores = sc.records.get(sc.topics.scores, [])
    newest_ts = max((int(s["ts"]) for s in scores), default=0)
    behind_h = None if read["last_ts"] is None else (newest_ts - int(read["last_ts"])) / 3.6e6
    sc.notes["slow_consumer"] = {
        "read": read["read"],
        "scores_published": len(scores),
        "committed_lag": _committed_lag(sc, group),
        "behind_market_h": None if behind_h is None else round(behind_h, 2),
        "latency_before_s": _latency(sc, 0.0, sc.fault_start_s),
        "latency_during_s": _latency(sc, sc.fault_start_s, float("inf")),
    }


def _committed_lag(sc: Scenario, group: str) -> int:
    """Records of ``scores`` the group has not committed."""
    probe = Consumer({**sc.settings.kafka_client_config(), "group.id": group})
    try:
        meta = probe.list_topics(sc.topics.scores, timeout=10)
        parts = [
            TopicPartition(sc.topics.scores, p) for p in meta.topics[sc.topics.scores].partitions
        ]
        lag = 0
        for tp in probe.committed(parts, timeout=10):
            high = probe.get_watermark_offsets(tp, timeout=10)[1]
            lag += high - max(tp.offset, 0)
        return lag
    finally:
        probe.close()


def _latency(sc: Scenario, start_s: float, end_s: float) -> dict[str, float] | None:
    """p50 / p99 / max produce-to-score seconds of the buys sent in [start_s, end_s)."""
    values = [
        s["_kafka_ts_ms"] / 1000.0 - sc.sent_s[s["source_event_id"]]
        for s in sc.records.get(sc.topics.scores, [])
        if s["kind"] == "buy" and start_s <= sc.sent_s.get(s["source_event_id"], -1.0) < end_s
    ]
    if len(values) < 2:
        return None
    cuts = quantiles(values, n=100)
    return {"p50": round(cuts[49], 3), "p99": round(cuts[98], 3), "max": round(max(values), 3),
            "n": len(values)}  # fmt: skip
