"""Chronological train / validation / calibration / test splits with label purging.

Slices are consecutive time ranges ``[start, b1) [b1, b2) [b2, b3) [b3, end]``: train, valid and
a holdout cut at row-count fractions of the time-sorted rows, then the holdout cut in time into
calibration (earlier) and test (the most recent rows). Purge: a train, validation or calibration
row stays only if its label resolved strictly before its slice's end boundary, so no label still
unknown when the next slice begins can inform a model or a calibration judged on that slice.
Platt is therefore fitted on a period after training and judged on a still later one, as it is
used in production (a calibration map fitted on the past, applied to the future).

Minimum: the rows must span ``minimum_span_ms`` (8 hours with the default shares); shorter data
is refused with ``SplitError`` naming it, and a slice that loses most of its rows to the purge is
reported in ``SplitPlan.warnings``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from training.frame import LABEL_HORIZON_MS

SLICES: tuple[str, ...] = ("train", "valid", "calib", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.5, 0.2, 0.3)  # train, valid, holdout
CALIB_SHARE = 0.5  # of the holdout's rows, the earlier ones
HOUR_MS = 3_600_000
# The shortest purged slice must span this many label horizons if its rows were spread evenly in
# time: purging the horizon from its end then leaves a sixth of it. With the default shares the
# calibration slice is 15% of the rows, so the data must span at least 8 hours.
SPAN_MARGIN = 1.2
PURGE_WARN_SHARE = 0.5  # a slice losing more than this share of its rows to the purge is flagged


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
    minimum_span_ms: int  # the shortest span these shares accept (``minimum_span_ms``)
    warnings: tuple[str, ...] = field(default=())

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
    minimum = minimum_span_ms(fractions, calib_share)
    span = int(ts.max() - ts.min())
    if span < minimum:
        raise SplitError(
            f"the resolved rows span {span / HOUR_MS:.1f} h; the chronological split needs at "
            f"least {minimum / HOUR_MS:g} h (train, valid and calibration each lose the last "
            f"{LABEL_HORIZON_MS / HOUR_MS:g} h before their end to the label purge). A simulated "
            "or recorded run must be about an hour longer, since its last hour is unresolved"
        )
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
                f"the data spans {span / HOUR_MS:.1f} h, but too few of this slice's rows are "
                "old enough for their 1h label to have resolved before the slice ends"
            )
    ordered = {n: kept[n][np.argsort(ts[kept[n]], kind="stable")] for n in SLICES}
    return SplitPlan(
        **ordered,
        boundaries_ms=(b1, b2),
        test_from_ms=b3,
        start_ms=int(ts.min()),
        end_ms=int(ts.max()),
        purged=purged,
        minimum_span_ms=minimum,
        warnings=tuple(purge_warnings(kept, purged, minimum)),
    )


def minimum_span_ms(
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS, calib_share: float = CALIB_SHARE
) -> int:
    """The shortest span of data the split accepts, in whole hours: the smallest purged slice's
    share of the rows must cover ``SPAN_MARGIN`` label horizons of an evenly spread span."""
    if len(fractions) != 3 or min(fractions) <= 0:
        raise SplitError("fractions must be three positive numbers (train, valid, holdout)")
    if not 0.0 < calib_share < 1.0:
        raise SplitError("calib_share must be in (0, 1)")
    total = float(sum(fractions))
    train, valid, holdout = (f / total for f in fractions)
    smallest = min(train, valid, holdout * calib_share)
    hours = math.ceil(round(SPAN_MARGIN * LABEL_HORIZON_MS / HOUR_MS / smallest, 6))
    return hours * HOUR_MS


def purge_warnings(
    kept: dict[str, np.ndarray], purged: dict[str, int], minimum_ms: int
) -> list[str]:
    """Slices that lost most of their rows to the purge: the split held, but thinly."""
    found = []
    for name in ("train", "valid", "calib"):
        before = len(kept[name]) + purged[name]
        share = purged[name] / before if before else 0.0
        if share > PURGE_WARN_SHARE:
            found.append(
                f"{name} slice lost {share:.0%} of its rows to the label purge: the data barely "
                f"clears the {minimum_ms / HOUR_MS:g} h minimum; "
                f"{2 * minimum_ms / HOUR_MS:g} h or more keeps most of them"
            )
    return found


def _holdout_boundary(sorted_holdout_ts: np.ndarray, calib_share: float, b2: int) -> int:
    """First ts of the test slice: the holdout's ``calib_share`` row quantile in time."""
    if len(sorted_holdout_ts) < 2:
        raise SplitError("slice 'test' is empty: the holdout has fewer than two rows")
    position = min(max(int(calib_share * len(sorted_holdout_ts)), 1), len(sorted_holdout_ts) - 1)
    b3 = int(sorted_holdout_ts[position])
    if b3 <= b2:
        raise SplitError("too few distinct timestamps to cut calibration and test slices")
    return b3


def _boundaries(sorted_ts: np.ndarray, fractions: tuple[float, float, float]) -> tuple[int, int]:
    shares = np.cumsum(np.asarray(fractions, dtype=np.float64) / float(sum(fractions)))[:-1]
    positions = np.clip((shares * len(sorted_ts)).astype(np.int64), 1, len(sorted_ts) - 1)
    b1, b2 = (int(sorted_ts[p]) for p in positions)
    if not (sorted_ts[0] < b1 < b2):
        raise SplitError("too few distinct timestamps to cut chronological slices")
    return b1, b2
