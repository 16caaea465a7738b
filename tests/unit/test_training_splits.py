"""Chronological splits: no later signal in an earlier slice, no label resolving past a boundary;
calibration comes after training and test after calibration, in time."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.splits import SLICES, SplitError, chronological_split, minimum_span_ms

HOUR_MS = 3_600_000


@st.composite
def signals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=40, max_value=400))
    ts = np.array(draw(st.lists(st.integers(0, 200 * HOUR_MS), min_size=n, max_size=n)))
    delays = np.array(draw(st.lists(st.integers(0, 2 * HOUR_MS), min_size=n, max_size=n)))
    tokens = draw(st.integers(min_value=1, max_value=60))
    mints = np.array(
        [f"m{i}" for i in draw(st.lists(st.integers(0, tokens), min_size=n, max_size=n))]
    )
    return ts.astype(np.int64), (ts + delays).astype(np.int64), mints


@settings(max_examples=100, deadline=None)
@given(signals())
def test_no_later_signal_or_unresolved_label_in_an_earlier_slice(
    data: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    ts, resolved, mints = data
    try:
        plan = chronological_split(ts, resolved, mints)
    except SplitError:
        return  # too few distinct times / tokens, or all purged: refusing is the safe answer
    b1, b2 = plan.boundaries_ms
    b3 = plan.test_from_ms
    train, valid, calib, test = (plan.positions(n) for n in SLICES)
    # Every later slice starts after every row of the earlier one.
    assert ts[train].max() < ts[valid].min() and ts[valid].max() < ts[calib].min()
    assert ts[calib].max() < ts[test].min()
    assert ts[train].max() < b1 <= ts[valid].min() and ts[valid].max() < b2 <= ts[calib].min()
    assert ts[calib].max() < b3 <= ts[test].min()
    # Purge: every train / valid / calib label was known before the next slice began.
    assert resolved[train].max() < b1 and resolved[valid].max() < b2
    assert resolved[calib].max() < b3
    # No row is in two slices.
    everything = np.concatenate([train, valid, calib, test])
    assert len(np.unique(everything)) == len(everything)
    assert len(ts) - len(everything) == sum(plan.purged.values())


def test_purge_drops_rows_whose_label_resolves_after_the_boundary() -> None:
    minute = 60_000
    ts = np.arange(1200, dtype=np.int64) * minute  # one signal a minute for 20 hours
    mints = np.array([f"m{i % 97}" for i in range(1200)])
    plan = chronological_split(ts, ts + HOUR_MS, mints, (0.6, 0.2, 0.2))
    assert plan.boundaries_ms == (720 * minute, 960 * minute)
    assert plan.test_from_ms == 1080 * minute
    # The last hour of signals before each boundary had not resolved yet: purged.
    assert plan.purged == {"train": 60, "valid": 60, "calib": 60, "test": 0}
    counts = plan.counts()
    assert (counts["train"], counts["valid"], counts["calib"], counts["test"]) == (
        660,
        180,
        60,
        120,
    )


def test_split_does_not_depend_on_row_order() -> None:
    ts = np.arange(400, dtype=np.int64) * 600_000
    mints = np.array([f"m{i % 50}" for i in range(400)])
    first = chronological_split(ts, ts + HOUR_MS, mints)
    again = chronological_split(ts[::-1].copy(), (ts + HOUR_MS)[::-1].copy(), mints[::-1].copy())
    assert set(ts[first.calib]) == set(ts[::-1][again.calib])
    assert set(ts[first.test]) == set(ts[::-1][again.test])


def test_refuses_data_spanning_less_than_the_minimum_and_names_it() -> None:
    assert minimum_span_ms() == 8 * HOUR_MS  # calibration is 15% of the rows: 1.2 h of 8 h
    ts = np.arange(700, dtype=np.int64) * 40_000  # one signal every 40 s for 7.8 hours
    mints = np.array([f"m{i % 90}" for i in range(700)])
    with pytest.raises(SplitError, match=r"span 7\.8 h; .* needs at least 8 h"):
        chronological_split(ts, ts + HOUR_MS, mints)


def test_the_minimum_follows_the_shares() -> None:
    # valid at 10% of the rows is now the thinnest purged slice: 1.2 h / 0.1 = 12 h.
    assert minimum_span_ms((0.6, 0.1, 0.3)) == 12 * HOUR_MS
    with pytest.raises(SplitError, match="calib_share"):
        minimum_span_ms(calib_share=1.0)


def test_just_over_the_minimum_splits_with_a_purge_warning() -> None:
    ts = np.arange(740, dtype=np.int64) * 40_000  # 8.2 hours: accepted
    mints = np.array([f"m{i % 90}" for i in range(740)])
    plan = chronological_split(ts, ts + HOUR_MS, mints)
    assert all(len(plan.positions(name)) > 0 for name in SLICES)
    # valid is 1.6 h long and calibration 1.2 h; each loses its last hour to the purge.
    assert [w.split(" ")[0] for w in plan.warnings] == ["valid", "calib"]
    assert "8 h minimum" in plan.warnings[0] and "16 h or more" in plan.warnings[0]


def test_a_long_run_splits_without_warnings() -> None:
    ts = np.arange(2000, dtype=np.int64) * 60_000  # 33 hours
    mints = np.array([f"m{i % 300}" for i in range(2000)])
    assert chronological_split(ts, ts + HOUR_MS, mints).warnings == ()


def test_refuses_a_slice_emptied_by_the_purge() -> None:
    # 9 hours long, but all rows but one sit in the first minute: nothing before b1 resolves.
    ts = np.concatenate([np.arange(60, dtype=np.int64) * 1000, [9 * HOUR_MS]])
    with pytest.raises(SplitError, match="empty"):
        chronological_split(ts, ts + HOUR_MS, np.array([f"m{i}" for i in range(61)]))


def test_refuses_too_few_distinct_times() -> None:
    ts = np.array([0] * 19 + [10 * HOUR_MS], dtype=np.int64)
    with pytest.raises(SplitError, match="distinct timestamps"):
        chronological_split(ts, ts, np.array(["a"] * 20))
