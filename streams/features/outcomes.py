"""Outcome tracking on a token's price path: sliding-window maxima/minima, O(1) amortised.

A signal at path index ``i`` and time ``s`` resolves horizon ``h`` over the trades with index
``> i`` and ``ts <= s + h``. Signals of one token resolve in path order and their windows only
move forward, so one monotone deque per horizon gives every maximum in amortised O(1): push the
trades up to ``s + h`` (dropping smaller prices from the back), drop indices ``<= i`` from the
front. The price is a step function, so the signal price itself also counts: peaks are >= 1 and
``min_1h`` <= 1.

The "deques" are plain lists (a deque costs ~600 bytes even when nearly empty, and there are
seven per tracked token): pushes and pops at the back are O(1), and the front is cut with one
slice deletion per call.
"""

from __future__ import annotations

from streams.contracts.features import DEAD_QUIET_MS, PEAK_HORIZONS_MS
from streams.features.state import PendingSignal, TokenState, shared_labels

HORIZONS_MS: tuple[int, ...] = tuple(PEAK_HORIZONS_MS.values())  # 10m, 30m, 1h, 4h, 24h
H_1H = 2
STAGE_HORIZONS: tuple[tuple[int, ...], tuple[int, ...]] = ((0, 1, 2), (3, 4))


def open_signal(tok: TokenState, idx: int) -> None:
    """Register a signal at path index ``idx``; trackers start right after it when idle."""
    if tok.out_r is None:
        tok.out_r = [idx + 1] * len(HORIZONS_MS)
        tok.out_dqs = [[] for _ in HORIZONS_MS]
        tok.out_min = []
    tok.open_signals.append(idx)


def _window_max(tok: TokenState, h: int, idx: int, until_ts: int) -> float | None:
    """Highest price with index in (idx, last index with ts <= until_ts]; None when empty."""
    assert tok.out_r is not None and tok.out_dqs is not None
    dq = tok.out_dqs[h]
    r = tok.out_r[h]
    base = tok.base
    p_ts, p_px = tok.p_ts, tok.p_px
    end = base + len(p_ts)
    track_min = h == H_1H
    dq_min = tok.out_min
    while r < end and p_ts[r - base] <= until_ts:
        px = p_px[r - base]
        while dq and p_px[dq[-1] - base] <= px:
            dq.pop()
        dq.append(r)
        if track_min:
            assert dq_min is not None
            while dq_min and p_px[dq_min[-1] - base] >= px:
                dq_min.pop()
            dq_min.append(r)
        r += 1
    tok.out_r[h] = r
    _cut_front(dq, idx)
    return p_px[dq[0] - base] if dq else None


def _window_min(tok: TokenState, idx: int) -> float | None:
    """Lowest price of the 1h window (call right after ``_window_max`` for the 1h horizon)."""
    dq = tok.out_min
    assert dq is not None
    _cut_front(dq, idx)
    return tok.p_px[dq[0] - tok.base] if dq else None


def _cut_front(dq: list[int], idx: int) -> None:
    """Drop the leading path indices <= ``idx`` (the list is increasing)."""
    n = 0
    end = len(dq)
    while n < end and dq[n] <= idx:
        n += 1
    if n:
        del dq[:n]


def _buy_follows(tok: TokenState, idx: int, until_ts: int) -> bool:
    """Whether a buy comes after path index ``idx`` with ts <= until_ts (scan stops at the first)."""
    base = tok.base
    p_ts, p_sol = tok.p_ts, tok.p_sol
    for j in range(idx + 1 - base, len(p_ts)):
        if p_ts[j] > until_ts:
            return False
        if p_sol[j] > 0:
            return True
    return False


def resolve_stage(tok: TokenState, sig: PendingSignal, stage: int) -> None:
    """Fill the signal's peaks (and at stage 0 min_1h and the labels) from the token's path."""
    price = sig.price
    peaks = sig.peaks
    if peaks is None:
        peaks = sig.peaks = [None] * len(HORIZONS_MS)
    for h in STAGE_HORIZONS[stage]:
        top = _window_max(tok, h, sig.idx, sig.ts + HORIZONS_MS[h])
        peaks[h] = 1.0 if top is None or price <= 0.0 else max(1.0, top / price)
    if stage == 0:
        low = _window_min(tok, sig.idx)
        sig.min_1h = 1.0 if low is None or price <= 0.0 else min(1.0, low / price)
        quiet = not _buy_follows(tok, sig.idx, sig.ts + DEAD_QUIET_MS)
        p10, p30, p1h = peaks[0], peaks[1], peaks[2]
        assert p10 is not None and p30 is not None and p1h is not None
        sig.labels = shared_labels(p1h >= 2.0, p30 >= 3.0, p10 >= 2.0, sig.min_1h < 0.5 or quiet)
    else:
        del tok.open_signals[0]
        if not tok.open_signals:
            tok.out_r = None
            tok.out_dqs = None
            tok.out_min = None


def prune_path(tok: TokenState, min_drop: int) -> None:
    """Drop the path prefix nothing can read any more (windows, pending signals, trackers)."""
    keep = min(tok.w60, tok.w5m) - 1
    if tok.open_signals:
        keep = min(keep, tok.open_signals[0])
    if tok.out_r is not None and tok.out_dqs is not None and tok.out_min is not None:
        keep = min(keep, *tok.out_r)
        for dq in (*tok.out_dqs, tok.out_min):
            if dq:
                keep = min(keep, dq[0])
    drop = keep - tok.base
    if drop >= min_drop and drop * 2 >= len(tok.p_ts):
        del tok.p_ts[:drop]
        del tok.p_px[:drop]
        del tok.p_sol[:drop]
        tok.base = keep
