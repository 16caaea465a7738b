"""Prometheus metrics of one worker, in their own registry (several workers may share a process).

Names follow Prometheus conventions: the unit in the name (``_seconds``, ``_bytes``, counts of a
thing), ``_total`` on counters (added by the client), ``_info`` on metadata gauges whose value is
always 1. docs/stream.md lists every name.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
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

from streams.checkpoints.codec import Manifest
from streams.events import IgnoredFields
from streams.heap import declare_gc_metrics

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096)


@dataclass
class WorkerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._input_metrics()
        self._state_metrics()
        self._ownership_metrics()
        self._timing_metrics()
        self.build = Info("alphastream_build", "Version and feature set of this worker",
                          registry=self.registry)  # fmt: skip
        # the process's own CPU, memory, open files and GC, on this registry (the default
        # registry's copies are not scraped from here)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def _histogram(
        self, name: str, doc: str, buckets: tuple[float, ...], *labels: str
    ) -> Histogram:
        return Histogram(name, doc, labels, buckets=buckets, registry=self.registry)

    def _input_metrics(self) -> None:
        c = self._counter
        self.events_in = c("alphastream_events_in", "Input messages received", "topic", "path")
        self.scored = c("alphastream_scored", "Score events published", "kind")
        self.dead_lettered = c("alphastream_dead_lettered", "Bad input messages dead-lettered",
                               "reason")  # fmt: skip
        self.outcomes = c("alphastream_outcomes", "Outcome events published")
        self.late_events = c("alphastream_late_events", "Events the engine applied with a "
                             "timestamp below its watermark (late in the log)")  # fmt: skip
        self.duplicate_events = c("alphastream_duplicate_events", "Log events whose event_id the "
                                  "engine had already applied (not scored again)")  # fmt: skip
        # filled by decode_input(..., ignored=...) on the owned path, exported at scrape time
        self.ignored_fields: IgnoredFields = Tally()
        self.registry.register(IgnoredFieldsCollector(self.ignored_fields))

    def _state_metrics(self) -> None:
        c, g = self._counter, self._gauge
        self.checkpoints = c("alphastream_checkpoints_written", "Engine checkpoints written "
                             "(kind: base or delta on Kafka, local commit)", "kind")  # fmt: skip
        self.checkpoint_bytes = g("alphastream_checkpoint_bytes", "Compressed size of the last "
                                  "Kafka checkpoint", "kind")  # fmt: skip
        self.restores = c("alphastream_state_restores", "Engine (re)builds by source: local "
                          "(RocksDB copy), checkpoint (Kafka) or full replay", "source")  # fmt: skip
        self.log_position = g("alphastream_log_position_offsets",
                              "Next market-log offset the engine applies")  # fmt: skip
        self.restored_offset = g("alphastream_restored_log_offsets", "Market-log offset the engine "
                                 "was restored at (0: replayed the whole log)")  # fmt: skip
        self.consumer_lag = g("alphastream_consumer_lag_messages", "Market-log records not yet "
                              "through the engine (high-water minus the next offset)", "topic",
                              "partition")  # fmt: skip
        self.model_version = g("alphastream_model_info", "1 for each model version serving",
                               "family", "target", "model")  # fmt: skip
        self.models_rejected = g("alphastream_rejected_model_pairs", "Model pairs in the models "
                                 "dir rejected by the last scan (the previous version serves)")  # fmt: skip

    def _ownership_metrics(self) -> None:
        c, g = self._counter, self._gauge
        self.planned = g("alphastream_assignment_planned", "1 once the shards of the latest "
                         "assignment are taken over (their held outputs published); 0 from a "
                         "rebalance until then (a readiness signal)")  # fmt: skip
        self.owned_shards = g("alphastream_owned_shards_partitions", "Shards (score-shards "
                              "partitions) this worker scores and publishes")  # fmt: skip
        self.handover_rows = g("alphastream_handover_rows", "Unscored outputs of shards owned "
                               "elsewhere, held for a takeover")  # fmt: skip
        self.handover_published = c("alphastream_handover_published", "Held outputs published "
                                    "on taking a shard over (the previous owner had not)")  # fmt: skip
        self.handover_gaps = c("alphastream_handover_gaps", "Shard streams taken over with held "
                               "outputs already evicted (possible loss)")  # fmt: skip
        self.replicated_seconds = c("alphastream_replicated_seconds", "CPU time applying the log "
                                    "(decode, engine, routing): the same work on every worker")  # fmt: skip
        self.owned_seconds = c("alphastream_owned_seconds", "CPU time on this worker's own outputs "
                               "(scoring, encoding, handing to the producer)")  # fmt: skip

    def _timing_metrics(self) -> None:
        h = self._histogram
        self.batch_size = h("alphastream_score_batch_rows", "Rows per scoring batch",
                            _BATCH_BUCKETS, "family")  # fmt: skip
        self.score_latency = h("alphastream_score_seconds", "Wall time of one score_batch call",
                               _LATENCY_BUCKETS, "family")  # fmt: skip
        self.e2e_latency = h("alphastream_e2e_seconds", "Input produce time to score publish time",
                             _LATENCY_BUCKETS)  # fmt: skip
        self.stage_latency = h("alphastream_stage_latency_seconds", "Where the latency of an "
                               "input goes: input produced -> written to the market log "
                               "(stage=sequencer), written -> read by this worker (stage=log); "
                               "sampled", _LATENCY_BUCKETS, "stage")  # fmt: skip
        self.step_seconds = h("alphastream_step_seconds", "Wall time of one step: decode, engine, "
                              "scoring and encoding of a log batch", _LATENCY_BUCKETS)  # fmt: skip
        self.checkpoint_stall = h("alphastream_checkpoint_stall_seconds", "Wall time the hot "
                                  "loop spent starting a checkpoint (taking changes out, the "
                                  "local commit, serializing or forking); where: the values "
                                  "were serialized in the loop or in a forked child",
                                  _LATENCY_BUCKETS, "where")  # fmt: skip
        self.gc_pauses = declare_gc_metrics(self.registry, "alphastream")

    def checkpoint_written(self, manifest: Manifest) -> None:
        kind = "local" if not manifest.chunks else "delta" if manifest.base_epoch is not None \
            else "base"  # fmt: skip
        self.checkpoints.labels(kind).inc()
        if manifest.chunks:
            self.checkpoint_bytes.labels(kind).set(manifest.size)

    def set_build(self, version: str, feature_set: str) -> None:
        self.build.info({"version": version, "feature_set": feature_set})

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
