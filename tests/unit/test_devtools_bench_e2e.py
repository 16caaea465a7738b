"""The end-to-end benchmark's pure parts: which worker counts to run and the scaling it reports."""

from __future__ import annotations

import pytest

from streams.devtools.bench.e2e import (
    E2EResult,
    LatencyRun,
    WorkerCpu,
    parse_worker_counts,
    scaling,
)


def result(workers: int, events_per_s: float) -> E2EResult:
    return E2EResult(
        events=1000, buys=600, throughput_events_per_s=events_per_s,
        throughput_buys_per_s=events_per_s * 0.6, floor_events_per_s=4000.0,
        latency=[LatencyRun(300.0, 299.0, 10, 1.0, 2.0), LatencyRun(1000.0, 990.0, 30, 3.0, 9.0)],
        kernel_rows_per_s=1e5, models="m", workers=workers,
        worker_cpu=[WorkerCpu(2.0, 1.0, 0.5, 6 // workers) for _ in range(workers)],
    )  # fmt: skip


def test_json_records_carry_what_the_issue_asks_for() -> None:
    records = result(2, 2000.0).records(shard_count=6)
    assert [r["offered_buys_per_s"] for r in records] == [300.0, 1000.0]
    wanted = {"throughput_events_per_s", "floor_events_per_s", "p50_ms", "p99_ms",
              "offered_buys_per_s", "workers", "cpu_s_per_worker"}  # fmt: skip
    assert all(wanted <= set(r) for r in records)
    first = records[0]
    assert first["throughput_over_floor"] == 0.5 and first["cpu_s_per_worker"] == [2.0, 2.0]
    assert first["cpu_us_per_event"] == [2000.0, 2000.0]
    # replicated 1.0 s of 2.0 s CPU, half the shards owned elsewhere: a quarter of its CPU
    assert first["not_owned_share"] == [0.25, 0.25]


def test_core_capacity_is_one_over_the_busiest_workers_cpu_per_event() -> None:
    run = result(2, 2000.0)
    run.worker_cpu[1] = WorkerCpu(4.0, 1.0, 0.5, 3)  # 4 ms per event on 1,000 events
    assert run.core_capacity_events_per_s() == pytest.approx(250.0)
    assert run.records(6)[0]["core_capacity_events_per_s"] == pytest.approx(250.0)
    run.worker_cpu = [WorkerCpu(None, 0.0, 0.0, 6)]  # CPU not readable: no projection
    assert run.core_capacity_events_per_s() is None


def test_worker_counts_parse_a_list() -> None:
    assert parse_worker_counts("1") == [1]
    assert parse_worker_counts("1, 2,4") == [1, 2, 4]


@pytest.mark.parametrize("text", ["", "0", "1,-2", "two", "1,,x"])
def test_bad_worker_counts_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="worker counts"):
        parse_worker_counts(text)


def test_scaling_is_the_ratio_of_medians_to_one_worker() -> None:
    runs = [result(1, 1000.0), result(2, 1500.0), result(1, 1200.0), result(2, 1700.0),
            result(1, 5000.0)]  # fmt: skip
    ratios = scaling(runs)
    assert set(ratios) == {2}
    assert ratios[2] == pytest.approx(1600.0 / 1200.0)


def test_scaling_needs_a_one_worker_baseline() -> None:
    assert scaling([result(2, 1500.0)]) == {}


def test_cpu_share_is_cpu_seconds_per_wall_second_and_none_where_unreadable() -> None:
    from streams.devtools.bench.probes import cpu_share_between

    before = {"worker": 1.0, "broker": None, "load_generator": 2.0}
    after: dict[str, float | None] = {"worker": 2.5, "broker": 7.0, "load_generator": 2.3}
    assert cpu_share_between(before, after, wall_s=3.0) == pytest.approx(
        {"worker": 0.5, "broker": None, "load_generator": 0.1}
    )
