"""Chronological splits: no later signal in an earlier slice, no label resolving past a boundary."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.splits import SLICES, SplitError, chronological_split

HOUR_MS = 3_600_000


@st.composite
def signal_times(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=40, max_value=400))
    ts = draw(st.lists(st.integers(0, 200 * HOUR_MS), min_size=n, max_size=n).map(np.array))
    delays = draw(st.lists(st.integers(0, 2 * HOUR_MS), min_size=n, max_size=n).map(np.array))
    return ts.astype(np.int64), (ts + delays).astype(np.int64)


@settings(max_examples=150, deadline=None)
@given(signal_times())
def test_no_later_signal_or_unresolved_label_in_an_earlier_slice(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    ts, resolved = data
    try:
        plan = chronological_split(ts, resolved)
    except SplitError:
        return  # too few distinct times / all purged: refusing is the safe answer
    b1, b2, b3 = plan.boundaries_ms
    ends = {"train": b1, "valid": b2, "calib": b3}
    starts = {"valid": b1, "calib": b2, "test": b3}
    seen: set[int] = set()
    for earlier, later in itertools.pairwise(SLICES):
        assert ts[plan.positions(earlier)].max() < ts[plan.positions(later)].min()
    for name in SLICES:
        rows = plan.positions(name)
        assert len(rows) > 0
        assert not seen & set(rows.tolist())  # a row is in at most one slice
        seen |= set(rows.tolist())
        if name in ends:
            assert ts[rows].max() < ends[name]
            assert resolved[rows].max() < ends[name]  # label known before the next slice starts
        if name in starts:
            assert ts[rows].min() >= starts[name]
    dropped = len(ts) - len(seen)
    assert dropped == sum(plan.purged.values())


def test_purge_drops_rows_whose_label_resolves_after_the_boundary() -> None:
    minute = 60_000
    ts = np.arange(1200, dtype=np.int64) * minute  # one signal a minute for 20 hours
    plan = chronological_split(ts, ts + HOUR_MS)
    assert plan.boundaries_ms == (720 * minute, 960 * minute, 1080 * minute)
    # The last hour of signals before each boundary had not resolved yet: purged.
    assert plan.counts() == {"train": 660, "valid": 180, "calib": 60, "test": 120}
    assert plan.purged == {"train": 60, "valid": 60, "calib": 60, "test": 0}


def test_refuses_data_spanning_less_than_the_label_horizon() -> None:
    ts = np.arange(50, dtype=np.int64) * 1000
    with pytest.raises(SplitError, match="empty after purging"):
        chronological_split(ts, ts + HOUR_MS)


def test_refuses_too_few_distinct_times() -> None:
    ts = np.zeros(20, dtype=np.int64)
    with pytest.raises(SplitError, match="distinct timestamps"):
        chronological_split(ts, ts)
