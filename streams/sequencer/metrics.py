"""Prometheus metrics of one sequencer process, in their own registry.

Names carry their unit (``_seconds``, ``_events``); counters get ``_total`` from the client.
docs/sequencer.md lists them. Tests wait on these (``leader`` = 1, events written), never on
sleeps or log lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

from streams.heap import declare_gc_metrics

_HOLD_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


@dataclass
class SequencerMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._flow(self.registry)
        self._leadership(self.registry)
        ProcessCollector(registry=self.registry)
        self.gc_pauses = declare_gc_metrics(self.registry, "alphastream_sequencer")

    def _flow(self, r: CollectorRegistry) -> None:
        """What goes through: records in, events and dead letters out, the merge's waits."""
        self.records_in = Counter(
            "alphastream_sequencer_records_in",
            "Input records consumed while leading",
            ["topic"],
            registry=r,
        )
        self.events_written = Counter(
            "alphastream_sequencer_events_written",
            "Event records written to the market log",
            registry=r,
        )
        self.late = Counter(
            "alphastream_sequencer_late_events",
            "Events written after one with a larger (ts, event_id): their place had gone by",
            registry=r,
        )
        self.forced = Counter(
            "alphastream_sequencer_forced_events",
            "Events written before a partition with a backlog delivered (sequencer_max_wait_ms)",
            registry=r,
        )
        self.dead_lettered = Counter(
            "alphastream_sequencer_dead_lettered",
            "Input records dead-lettered (a skip record in the log, a letter in dead-letter)",
            ["reason"],
            registry=r,
        )
        self.republished = Counter(
            "alphastream_sequencer_dead_letters_republished",
            "Dead letters of skip records after the last marker, published again on recovery",
            registry=r,
        )
        self.buffered = Gauge(
            "alphastream_sequencer_buffered_events",
            "Input records in the merge buffer, waiting for their turn",
            registry=r,
        )
        self.lag = Gauge(
            "alphastream_consumer_lag_messages",
            "Per input partition: its high-water mark (as last fetched) minus the next offset "
            "the sequencer has not yet taken in (refreshed with each position marker)",
            ["topic", "partition"],
            registry=r,
        )
        self.hold = Histogram(
            "alphastream_sequencer_hold_seconds",
            "Arrival in the sequencer to the write of the log record",
            buckets=_HOLD_BUCKETS,
            registry=r,
        )

    def _leadership(self, r: CollectorRegistry) -> None:
        """Who leads, and what each term started with."""
        self.leader = Gauge(
            "alphastream_sequencer_leader",
            "1 while this process leads (recovered and writing the log), else 0",
            registry=r,
        )
        self.markers = Counter(
            "alphastream_sequencer_markers_written", "Position markers written", registry=r
        )
        self.steps = Counter(
            "alphastream_sequencer_steps",
            "Loop steps while leading, one per wake-up: many per input record is a spinning loop",
            registry=r,
        )
        self.recoveries = Counter(
            "alphastream_sequencer_recoveries",
            "Leadership terms started (each recovers from the log's tail)",
            registry=r,
        )
        self.recovery_seconds = Gauge(
            "alphastream_sequencer_recovery_seconds",
            "Wall time of the last recovery (assignment of the lease to the first poll)",
            registry=r,
        )
        self.recovery_records = Gauge(
            "alphastream_sequencer_recovery_log_records",
            "Market-log records the last recovery read",
            registry=r,
        )
