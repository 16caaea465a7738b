"""The worker's metric names follow Prometheus conventions, and the registry carries the process,
GC and build-info collectors an operator expects."""

from __future__ import annotations

from prometheus_client import generate_latest

from streams.app.metrics import WorkerMetrics

UNITS = ("_seconds", "_bytes", "_rows", "_events", "_messages", "_offsets", "_pairs", "_info",
         "_partitions", "_objects")  # fmt: skip
# 0/1 state gauges carry no unit, like Prometheus's own ``up``
STATES = ("alphastream_assignment_planned",)


def test_names_carry_their_unit_and_counters_their_total() -> None:
    metrics = WorkerMetrics()
    metrics.set_build("0.1.0", "fs-1")
    families = [f for f in metrics.registry.collect() if f.name.startswith("alphastream_")]
    assert len(families) >= 15
    for family in families:
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        else:
            name = family.name + ("_info" if family.type == "info" else "")
            assert name.endswith(UNITS) or name in STATES, f"{name} ({family.type}) names no unit"


def test_registry_exposes_build_info_lag_checkpoints_process_and_gc() -> None:
    from streams.checkpoints.codec import Manifest

    metrics = WorkerMetrics()
    metrics.set_build("0.1.0", "fs-1")
    metrics.consumer_lag.labels("market-log", "0").set(5)
    metrics.checkpoint_written(Manifest("w", 1, 10, 0, "fs-1", 0, 2, 700, 0))
    metrics.checkpoint_written(Manifest("w", 2, 20, 0, "fs-1", 0, 1, 90, 0, base_epoch=1))
    metrics.checkpoint_written(Manifest("w", 3, 30, 0, "fs-1", 0, 0, 0, 0))  # a local commit
    text = generate_latest(metrics.registry).decode()
    assert 'alphastream_build_info{feature_set="fs-1",version="0.1.0"} 1.0' in text
    assert 'alphastream_consumer_lag_messages{partition="0",topic="market-log"} 5.0' in text
    for kind in ("base", "delta", "local"):
        assert f'alphastream_checkpoints_written_total{{kind="{kind}"}} 1.0' in text
    assert 'alphastream_checkpoint_bytes{kind="base"} 700.0' in text
    assert 'alphastream_checkpoint_bytes{kind="delta"} 90.0' in text
    assert 'alphastream_checkpoint_bytes{kind="local"}' not in text
    assert "process_cpu_seconds_total" in text and "python_gc_collections_total" in text


def test_ignored_fields_are_exported_per_type_and_field_with_a_bounded_label_set() -> None:
    from prometheus_client import CollectorRegistry

    from streams.app.metrics import IgnoredFieldsCollector
    from streams.events import IgnoredFields

    metrics = WorkerMetrics()
    metrics.ignored_fields[("wallet_buy", "quote_amount")] += 3
    text = generate_latest(metrics.registry).decode()
    assert 'alphastream_ignored_fields_total{field="quote_amount",type="wallet_buy"} 3.0' in text
    counts: IgnoredFields = IgnoredFields()
    for k in range(5):
        counts[("wallet_sell", f"f{k}")] += 1
    registry = CollectorRegistry()
    registry.register(IgnoredFieldsCollector(counts, max_series=2))
    samples = [s for f in registry.collect() for s in f.samples if s.name.endswith("_total")]
    assert len(samples) == 3  # two named fields, then the rest under _other
    assert {s.labels["field"]: s.value for s in samples}["_other"] == 3.0
