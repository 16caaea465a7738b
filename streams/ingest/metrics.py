"""Prometheus metrics of the feed connectors (``alphastream_ingest_*``, labelled by source).

Each :class:`IngestMetrics` owns its registry unless given one, so tests (and several connectors
in one process) never collide on metric names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter(
            "alphastream_ingest_frames", "Websocket frames received", ["source"], registry=r
        )
        self.frame_bytes = Counter(
            "alphastream_ingest_frame_bytes",
            "Bytes of websocket frames received (decompressed text)",
            ["source"],
            registry=r,
        )
        self.events = Counter(
            "alphastream_ingest_events",
            "Events validated and handed to the sink",
            ["source", "type"],
            registry=r,
        )
        self.skipped = Counter(
            "alphastream_ingest_skipped",
            "Frames or events passed over on purpose (acks, failed txs, duplicates)",
            ["source", "reason"],
            registry=r,
        )
        self.dead_letters = Counter(
            "alphastream_ingest_dead_letters",
            "Frames or events that could not be mapped, dead-lettered",
            ["source", "reason"],
            registry=r,
        )
        self.ignored_fields = Counter(
            "alphastream_ingest_ignored_fields",
            "Fields of a newer schema_minor accepted and ignored (the compatibility rule)",
            ["source", "type", "field"],
            registry=r,
        )
        self.connects = Counter(
            "alphastream_ingest_connects",
            "Websocket connections opened and subscribed",
            ["source"],
            registry=r,
        )
        self.reconnects = Counter(
            "alphastream_ingest_reconnects",
            "Connections lost and retried, by cause (closed, silence, error)",
            ["source", "cause"],
            registry=r,
        )
        self.sink_errors = Counter(
            "alphastream_ingest_sink_errors",
            "Events or dead letters the sink failed to deliver",
            ["source"],
            registry=r,
        )
        self.last_event_age = Gauge(
            "alphastream_ingest_last_event_age_seconds",
            "Seconds since the last event left (since start before the first)",
            ["source"],
            registry=r,
        )
        self.connected = Gauge(
            "alphastream_ingest_connected",
            "1 while a subscribed connection is open",
            ["source"],
            registry=r,
        )

    def watch_last_event(self, source: str, age_s: Callable[[], float]) -> None:
        """Have the age gauge computed at scrape time from ``age_s``."""
        self.last_event_age.labels(source).set_function(age_s)

    def summary(self, source: str) -> dict[str, dict[str, float]]:
        """Counter totals of one source, by their other labels (joined by "/", "" for none):
        ``{"events": {"wallet_buy": 12.0}, "frames": {"": 40.0}, ...}``."""
        out: dict[str, dict[str, float]] = {}
        for family in self.registry.collect():
            if family.type != "counter":
                continue
            short = family.name.removeprefix("alphastream_ingest_")
            for sample in family.samples:
                if not sample.name.endswith("_total") or sample.labels.get("source") != source:
                    continue
                other = "/".join(v for k, v in sample.labels.items() if k != "source")
                out.setdefault(short, {})[other] = sample.value
        return out

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when it was never set): handy in tests and summaries."""
        got = self.registry.get_sample_value(name, labels)
        return 0.0 if got is None else got
