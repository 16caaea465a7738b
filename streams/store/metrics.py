"""Prometheus counters of one sink. Each sink registers into the registry it is given."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self.rows_in = Counter(
            "alphastream_sink_rows_in", "Messages consumed, by topic", ["topic"], registry=registry
        )
        self.rows_inserted = Counter(
            "alphastream_sink_rows_inserted",
            "Rows written to the store, by table",
            ["table"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "alphastream_sink_dead_lettered",
            "Messages sent to dead-letter, by reason",
            ["reason"],
            registry=registry,
        )
        self.retries = Counter(
            "alphastream_sink_insert_retries",
            "Failed store writes that will be retried",
            registry=registry,
        )
        self.batch_rows = Histogram(
            "alphastream_sink_batch_rows", "Messages per flushed batch", registry=registry,
            buckets=(1, 10, 50, 100, 500, 1000, 2000, 5000, 10000, 50000),
        )  # fmt: skip
        self.insert_seconds = Histogram(
            "alphastream_sink_insert_seconds",
            "Seconds per successful batch write",
            registry=registry,
        )

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (0 when never incremented), e.g. value('rows_in', topic='signals')."""
        sample = self.registry.get_sample_value(f"alphastream_sink_{name}_total", labels or None)
        return 0.0 if sample is None else sample
