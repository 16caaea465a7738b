"""RollingPercentile against a brute-force recomputation of its definition."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.scoring import RollingPercentile

WINDOW = 1000


def brute_force(events: list[tuple[int, float]], window_ms: int) -> list[float]:
    """For each event: mid-rank among earlier events with ts > (max ts so far) - window."""
    out = []
    high_water = None
    for i, (ts, score) in enumerate(events):
        high_water = ts if high_water is None else max(high_water, ts)
        horizon = high_water - window_ms
        # earlier events that were inside the window when they arrived and still are
        window = [
            s
            for j, (t, s) in enumerate(events[:i])
            if t > horizon and _admitted(events, j, window_ms)
        ]
        less = sum(s < score for s in window)
        equal = sum(s == score for s in window)
        out.append((less + (equal + 1) / 2) / (len(window) + 1))
    return out


def _admitted(events: list[tuple[int, float]], j: int, window_ms: int) -> bool:
    """An event already older than the window at its own arrival is ranked but never stored."""
    high_water = max(t for t, _ in events[: j + 1])
    return events[j][0] > high_water - window_ms


events_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5 * WINDOW),
        st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]) | st.floats(0, 1),
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(events_strategy, st.booleans())
def test_matches_brute_force(events: list[tuple[int, float]], in_order: bool) -> None:
    if in_order:
        events = sorted(events, key=lambda e: e[0])
    rolling = RollingPercentile(window_ms=WINDOW)
    got = [rolling.update(ts, score) for ts, score in events]
    assert got == pytest.approx(brute_force(events, WINDOW))
    assert all(0.0 < p < 1.0 for p in got)


def test_expiry_and_ties() -> None:
    rolling = RollingPercentile(window_ms=WINDOW)
    assert rolling.update(0, 0.3) == 0.5  # alone in the window
    assert rolling.update(10, 0.9) == pytest.approx(1.5 / 2)
    assert rolling.update(20, 0.3) == pytest.approx(1.0 / 3)  # ties with the first 0.3
    assert len(rolling) == 3
    assert rolling.update(1005, 0.5) == pytest.approx(1.5 / 3)  # ts 0 expired: 0.3 < 0.5 < 0.9
    assert len(rolling) == 3
    assert rolling.update(5000, 0.1) == 0.5  # everything older expired
    assert len(rolling) == 1


def test_rejects_nan_and_bad_window() -> None:
    with pytest.raises(ValueError):
        RollingPercentile(window_ms=0)
    with pytest.raises(ValueError, match="NaN"):
        RollingPercentile().update(0, float("nan"))
