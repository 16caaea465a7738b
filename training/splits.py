"""Chronological train / validation / holdout splits with label purging; the holdout (the most
recent slice) is split by token into calibration and test.

Slices are consecutive time ranges ``[start, b1) [b1, b2) [b2, end]``, cut at row-count fractions
of the time-sorted rows. Purge: a train or validation row stays only if its label resolved
strictly before its slice's end boundary, so no label still unknown when the next slice begins
can inform a model evaluated on that slice. The holdout is split by a stable hash of the mint
into calibration and test halves: same period, disjoint tokens. (Two consecutive time slices for
calibration and test would each need to span well over the 1h label horizon plus its purge,
which a half-day simulation cannot give.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SLICES: tuple[str, ...] = ("train", "valid", "calib", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)  # train, valid, holdout
CALIB_SHARE = 0.5  # of the holdout's tokens


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
    """Cut rows into train / valid / holdout by time, purge, split the holdout by mint."""
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
    in_calib = token_bucket(np.asarray(mints)[holdout]) < calib_share
    kept["calib"], kept["test"] = holdout[in_calib], holdout[~in_calib]
    purged["calib"] = purged["test"] = 0
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
        start_ms=int(ts.min()),
        end_ms=int(ts.max()),
        purged=purged,
    )


def token_bucket(mints: np.ndarray) -> np.ndarray:
    """A stable value in [0, 1) per mint (same token, same bucket, in every run)."""
    hashed = pd.util.hash_array(np.asarray(mints, dtype=object), categorize=False)
    return (hashed % np.uint64(10_000)).astype(np.float64) / 10_000.0


def _boundaries(sorted_ts: np.ndarray, fractions: tuple[float, float, float]) -> tuple[int, int]:
    if len(fractions) != 3 or min(fractions) <= 0:
        raise SplitError("fractions must be three positive numbers (train, valid, holdout)")
    shares = np.cumsum(np.asarray(fractions, dtype=np.float64) / float(sum(fractions)))[:-1]
    positions = np.clip((shares * len(sorted_ts)).astype(np.int64), 1, len(sorted_ts) - 1)
    b1, b2 = (int(sorted_ts[p]) for p in positions)
    if not (sorted_ts[0] < b1 < b2):
        raise SplitError("too few distinct timestamps to cut chronological slices")
    return b1, b2
