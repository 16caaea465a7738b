"""The end-to-end benchmark's pure parts: which worker counts to run and the scaling it reports."""

from __future__ import annotations

import pytest

from streams.devtools.bench.e2e import E2EResult, parse_worker_counts, scaling


def result(workers: int, events_per_s: float) -> E2EResult:
    return E2EResult(
        events=1000, buys=600, throughput_events_per_s=events_per_s,
        throughput_buys_per_s=events_per_s * 0.6, offered_buys_per_s=300.0, latency_buys=10,
        achieved_buys_per_s=300.0, p50_ms=1.0, p99_ms=2.0, kernel_rows_per_s=1e5,
        models="m", workers=workers,
    )  # fmt: skip


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
