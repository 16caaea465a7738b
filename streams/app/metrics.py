"""Prometheus metrics of one worker, in their own registry (several workers may share a process).

Names follow Prometheus conventions: the unit in the name (``_seconds``, ``_bytes``, counts of a
thing), ``_total`` on counters (added by the client), ``_info`` on metadata gauges whose value is
always 1. docs/stream.md lists every name.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from streams.events import IgnoredFields

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events_in = Counter(
            "alphastream_events_in", "Input messages received", ["topic", "path"], registry=r
        )
        self.scored = Counter("alphastream_scored", "Score events published", ["kind"], registry=r)
        self.dead_lettered = Counter(
            "alphastream_dead_lettered", "Bad input messages dead-lettered", ["reason"], registry=r
        )
        self.outcomes = Counter("alphastream_outcomes", "Outcome events published", registry=r)
        self.late_events = Counter(
            "alphastream_late_events",
            "Events the engine applied with a timestamp below its watermark (late in the log)",
            registry=r,
        )
        self.checkpoints = Counter(
            "alphastream_checkpoints_written",
            "Engine checkpoints written (manifest delivered)",
            registry=r,
        )
        self.checkpoint_bytes = Gauge(
            "alphastream_checkpoint_bytes", "Compressed size of the last checkpoint", registry=r
        )
        self.restores = Counter(
            "alphastream_state_restores",
            "Engine (re)builds by source: local (RocksDB copy), checkpoint (Kafka) or full replay",
            ["source"],
            registry=r,
        )
        self.batch_size = Histogram(
            "alphastream_score_batch_rows",
            "Rows per scoring batch",
            ["family"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.score_latency = Histogram(
            "alphastream_score_seconds",
            "Wall time of one score_batch call",
            ["family"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.e2e_latency = Histogram(
            "alphastream_e2e_seconds",
            "Input produce time to score publish time",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.duplicate_events = Counter(
            "alphastream_duplicate_events",
            "Log events whose event_id the engine had already applied (not scored again)",
            registry=r,
        )
        # filled by decode_input(..., ignored=...) on the owned path, exported at scrape time
        self.ignored_fields: IgnoredFields = Tally()
        r.register(IgnoredFieldsCollector(self.ignored_fields))
        self.model_version = Gauge(
            "alphastream_model_info",
            "1 for each model version serving",
            ["family", "target", "model"],
            registry=r,
        )

        self.planned = Gauge(
            "alphastream_assignment_planned",
            "1 once the shards of the latest assignment are taken over (their held outputs "
            "published); 0 from a rebalance until then (a readiness signal)",
            registry=r,
        )
        self.models_rejected = Gauge(
            "alphastream_rejected_model_pairs",
            "Model pairs in the models dir rejected by the last scan (the previous version serves)",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "alphastream_consumer_lag_messages",
            "Market-log records not yet through the engine (high-water minus the next offset)",
            ["topic", "partition"],
            registry=r,
        )
        self.log_position = Gauge(
            "alphastream_log_position_offsets",
            "Next market-log offset the engine applies",
            registry=r,
        )
        self.restored_offset = Gauge(
            "alphastream_restored_log_offsets",
            "Market-log offset the engine was restored at (0: replayed the whole log)",
            registry=r,
        )
        self.owned_shards = Gauge(
            "alphastream_owned_shards_partitions",
            "Shards (score-shards partitions) this worker scores and publishes",
            registry=r,
        )
        self.handover_rows = Gauge(
            "alphastream_handover_rows",
            "Unscored outputs of shards owned elsewhere, held for a takeover",
            registry=r,
        )
        self.handover_published = Counter(
            "alphastream_handover_published",
            "Held outputs published on taking a shard over (the previous owner had not)",
            registry=r,
        )
        self.handover_gaps = Counter(
            "alphastream_handover_gaps",
            "Shard streams taken over with held outputs already evicted (possible loss)",
            registry=r,
        )
        self.replicated_seconds = Counter(
            "alphastream_replicated_seconds",
            "Time applying the log (decode, engine, routing): the same work on every worker",
            registry=r,
        )
        self.owned_seconds = Counter(
            "alphastream_owned_seconds",
            "Time on this worker's own outputs (scoring, encoding, handing to the producer)",
            registry=r,
        )
        self.stage_latency = Histogram(
            "alphastream_stage_latency_seconds",
            "Where the latency of an input goes: input produced -> written to the market log "
            "(stage=sequencer), written -> read by this worker (stage=log); sampled",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.step_seconds = Histogram(
            "alphastream_step_seconds",
            "Wall time of one step: decode, engine, scoring and encoding of a log batch",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.build = Info("alphastream_build", "Version and feature set of this worker", registry=r)
        # the process's own CPU, memory, open files and GC, on this registry (the default
        # registry's copies are not scraped from here)
        ProcessCollector(registry=r)
        GCCollector(registry=r)

    def set_build(self, version: str, feature_set: str) -> None:
        self.build.info({"version": version, "feature_set": feature_set})

    def set_lag(self, lags: Iterable[tuple[str, int, int]]) -> None:
        """(topic, partition, lag) of each owned partition; partitions no longer owned go."""
        self.consumer_lag.clear()
        for topic, partition, lag in lags:
            self.consumer_lag.labels(topic, str(partition)).set(max(0, lag))

    def set_models(self, versions: dict[str, dict[str, str]]) -> None:
        self.model_version.clear()
        for family, targets in versions.items():
            for target, label in targets.items():
                self.model_version.labels(family, target, label).set(1)


class IgnoredFieldsCollector(Collector):
    """``alphastream_ignored_fields_total{type, field}``: fields of a newer minor version the
    decoder accepted and dropped. Field names come off the wire, so only the first
    ``max_series`` (type, field) pairs get their own series; the rest add up under ``_other``."""

    def __init__(self, counts: IgnoredFields, max_series: int = 64) -> None:
        self.counts = counts
        self.max_series = max_series

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "alphastream_ignored_fields",
            "Fields of a newer schema minor accepted and ignored by the decoder",
            labels=["type", "field"],
        )
        other: Tally[str] = Tally()
        for k, ((type_name, name), n) in enumerate(self.counts.items()):
            if k < self.max_series:
                family.add_metric([type_name, name], float(n))
            else:
                other[type_name] += n
        for type_name, n in other.items():
            family.add_metric([type_name, "_other"], float(n))
        yield family
