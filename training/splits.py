"""Chronological train / validation / calibration / test splits with label purging.

Slices are consecutive time ranges ``[start, b1) [b1, b2) [b2, b3) [b3, end]``: train, valid and
a holdout cut at row-count fractions of the time-sorted rows, then the holdout cut in time into
calibration (earlier) and test (the most recent rows). Purge: a train, validation or calibration
row stays only if its label resolved strictly before its slice's end boundary, so no label still
unknown when the next slice begins can inform a model or a calibration judged on that slice.
Platt is therefore fitted on a period after training and judged on a still later one, as it is
used in production (a calibration map fitted on the past, applied to the future).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLICES: tuple[str, ...] = ("train", "valid", "calib", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.5, 0.2, 0.3)  # train, valid, holdout
CALIB_SHARE = 0.5  # of the holdout's rows, the earlier ones


class SplitError(ValueError):
    """The data cannot be split into non-empty chronological slices."""


@dataclass(frozen=True)
class SplitPlan:
    """Row positions per slice (into the arrays given) and the time boundaries used."""

    train: np.ndarray
    valid: np.ndarray
    calib: np.ndarray
    test: np.ndarray
    boundaries_ms: tuple[int, int]  # b1, b2: first ts of valid and of the holdout
    test_from_ms: int  # b3: first ts of the test slice (calibration is [b2, b3))
    start_ms: int
    end_ms: int
    purged: dict[str, int]

    def positions(self, name: str) -> np.ndarray:
        return {"train": self.train, "valid": self.valid, "calib": self.calib, "test": self.test}[
            name
        ]

    def counts(self) -> dict[str, int]:
        return {name: len(self.positions(name)) for name in SLICES}


def chronological_split(
    ts: np.ndarray,
    resolved_ts: np.ndarray,
    mints: np.ndarray,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    calib_share: float = CALIB_SHARE,
) -> SplitPlan:
    """Cut rows into train / valid / calib / test by time and purge each slice but the last."""
    ts = np.asarray(ts, dtype=np.int64)
    resolved_ts = np.asarray(resolved_ts, dtype=np.int64)
    if ts.shape != resolved_ts.shape or ts.ndim != 1 or len(mints) != len(ts):
        raise SplitError("ts, resolved_ts and mints must be 1-d and of the same length")
    if len(ts) < len(SLICES):
        raise SplitError(f"need at least {len(SLICES)} rows to split, got {len(ts)}")
    b1, b2 = _boundaries(np.sort(ts), fractions)
    slice_of = np.searchsorted(np.array([b1, b2]), ts, side="right")  # 0, 1, 2
    purged: dict[str, int] = {}
    kept: dict[str, np.ndarray] = {}
    for index, (name, end) in enumerate((("train", b1), ("valid", b2))):
        members = np.flatnonzero(slice_of == index)
        keep = resolved_ts[members] < end
        purged[name] = int((~keep).sum())
        kept[name] = members[keep]
    holdout = np.flatnonzero(slice_of == 2)
    b3 = _holdout_boundary(np.sort(ts[holdout]), calib_share, b2)
    calib = holdout[ts[holdout] < b3]
    keep = resolved_ts[calib] < b3
    purged["calib"], purged["test"] = int((~keep).sum()), 0
    kept["calib"], kept["test"] = calib[keep], holdout[ts[holdout] >= b3]
    for name in SLICES:
        if len(kept[name]) == 0:
            raise SplitError(
                f"slice {name!r} is empty (after purging labels that resolve after its end); "
                "the data spans too little time, or too few tokens, for the 1h label horizon"
            )
    ordered = {n: kept[n][np.argsort(ts[kept[n]], kind="stable")] for n in SLICES}
    return SplitPlan(
        **ordered,
        boundaries_ms=(b1, b2),
        test_from_ms=b3,
        start_ms=int(ts.min()),
        end_ms=int(ts.max()),
        purged=purged,
    )


def _holdout_boundary(sorted_holdout_ts: np.ndarray, calib_share: float, b2: int) -> int:
    """First ts of the test slice: the holdout's ``calib_share`` row quantile in time."""
    if not 0.0 < calib_share < 1.0:
        raise SplitError("calib_share must be in (0, 1)")
    if len(sorted_holdout_ts) < 2:
        raise SplitError("slice 'test' is empty: the holdout has fewer than two rows")
    position = min(max(int(calib_share * len(sorted_holdout_ts)), 1), len(sorted_holdout_ts) - 1)
    b3 = int(sorted_holdout_ts[position])
    if b3 <= b2:
        raise SplitError("too few distinct timestamps to cut calibration and test slices")
    return b3


def _boundaries(sorted_ts: np.ndarray, fractions: tuple[float, float, float]) -> tuple[int, int]:
    if len(fractions) != 3 or min(fractions) <= 0:
        raise SplitError("fractions must be three positive numbers (train, valid, holdout)")
    shares = np.cumsum(np.asarray(fractions, dtype=np.float64) / float(sum(fractions)))[:-1]
    positions = np.clip((shares * len(sorted_ts)).astype(np.int64), 1, len(sorted_ts) - 1)
    b1, b2 = (int(sorted_ts[p]) for p in positions)
    if not (sorted_ts[0] < b1 < b2):
        raise SplitError("too few distinct timestamps to cut chronological slices")
    return b1, b2
