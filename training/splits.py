"""Chronological train / validation / calibration / test splits with label purging.

Slices are consecutive time ranges ``[start, b1) [b1, b2) [b2, b3) [b3, end]``, cut at row-count
fractions of the time-sorted rows. Purge: a row stays in a slice that has a later neighbour only if
its label resolved strictly before that slice's end boundary, so no label that was still unknown at
a boundary can inform a model evaluated after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLICES: tuple[str, ...] = ("train", "valid", "calib", "test")
DEFAULT_FRACTIONS: tuple[float, float, float, float] = (0.6, 0.2, 0.1, 0.1)


class SplitError(ValueError):
    """The data cannot be split into four non-empty chronological slices."""


@dataclass(frozen=True)
class SplitPlan:
    """Row positions per slice (into the arrays given) and the time boundaries used."""

    train: np.ndarray
    valid: np.ndarray
    calib: np.ndarray
    test: np.ndarray
    boundaries_ms: tuple[int, int, int]  # b1, b2, b3: first ts of valid, calib, test
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
    fractions: tuple[float, float, float, float] = DEFAULT_FRACTIONS,
) -> SplitPlan:
    """Cut rows into four consecutive time slices and purge unresolved-at-boundary labels."""
    ts = np.asarray(ts, dtype=np.int64)
    resolved_ts = np.asarray(resolved_ts, dtype=np.int64)
    if ts.shape != resolved_ts.shape or ts.ndim != 1:
        raise SplitError("ts and resolved_ts must be 1-d arrays of the same length")
    if len(ts) < len(SLICES):
        raise SplitError(f"need at least {len(SLICES)} rows to split, got {len(ts)}")
    b1, b2, b3 = _boundaries(np.sort(ts), fractions)
    slice_of = np.searchsorted(np.array([b1, b2, b3]), ts, side="right")  # 0..3
    ends = (b1, b2, b3)
    kept: list[np.ndarray] = []
    purged: dict[str, int] = {}
    for index, name in enumerate(SLICES):
        members = np.flatnonzero(slice_of == index)
        if index < len(ends):
            keep = resolved_ts[members] < ends[index]
            purged[name] = int((~keep).sum())
            members = members[keep]
        else:
            purged[name] = 0
        if len(members) == 0:
            raise SplitError(
                f"slice {name!r} is empty after purging labels that resolve after its end; "
                "the data spans too little time for the 1h label horizon"
            )
        kept.append(members[np.argsort(ts[members], kind="stable")])
    return SplitPlan(
        train=kept[0],
        valid=kept[1],
        calib=kept[2],
        test=kept[3],
        boundaries_ms=(b1, b2, b3),
        start_ms=int(ts.min()),
        end_ms=int(ts.max()),
        purged=purged,
    )


def _boundaries(
    sorted_ts: np.ndarray, fractions: tuple[float, float, float, float]
) -> tuple[int, int, int]:
    if len(fractions) != len(SLICES) or min(fractions) <= 0:
        raise SplitError("fractions must be four positive numbers")
    shares = np.cumsum(np.asarray(fractions, dtype=np.float64) / float(sum(fractions)))[:-1]
    positions = np.clip((shares * len(sorted_ts)).astype(np.int64), 1, len(sorted_ts) - 1)
    cuts = [int(sorted_ts[p]) for p in positions]
    if not (sorted_ts[0] < cuts[0] < cuts[1] < cuts[2]):
        raise SplitError("too few distinct timestamps to cut four chronological slices")
    return cuts[0], cuts[1], cuts[2]
