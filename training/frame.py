"""The one DataFrame shape every data source is brought to before training.

Columns: ``event_id`` (str), ``ts`` (int64 epoch ms), ``mint`` (str), every feature column in
registry order (float64, NaN = missing), the label columns (float64: 1.0 / 0.0 / NaN = unresolved),
``label_resolved_ts`` (int64 epoch ms, when the 1h labels resolved) and, when the source served
it, ``rule_score`` (float64). Extra columns (wallet, creator, price, peaks, served scores) pass
through untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streams.contracts.types import TARGETS

LABEL_HORIZON_MS = 3_600_000  # the 1h labels resolve at most this long after the signal
KEY_COLUMNS: tuple[str, ...] = ("event_id", "ts", "mint")


class FrameError(ValueError):
    """The source data does not have the shape training needs."""


@dataclass(frozen=True)
class TrainingFrame:
    family: str
    feature_names: tuple[str, ...]
    feature_set: str
    frame: pd.DataFrame
    source: str

    def matrix(self, rows: pd.DataFrame | None = None) -> np.ndarray:
        """Feature matrix (float64, NaN for missing) in registry order."""
        data = self.frame if rows is None else rows
        return data.loc[:, list(self.feature_names)].to_numpy(dtype=np.float64, na_value=np.nan)


def normalize_frame(raw: pd.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    """Coerce a source frame to the common shape; raise FrameError naming what is missing."""
    needed = [*KEY_COLUMNS, *feature_names, *TARGETS]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise FrameError(f"source frame lacks {len(missing)} column(s): {shown}")
    out = raw.copy()
    out["event_id"] = out["event_id"].astype(str)
    out["mint"] = out["mint"].astype(str)
    out["ts"] = epoch_ms(out["ts"])
    for name in feature_names:
        out[name] = _as_float(out[name])
    for label in TARGETS:
        out[label] = _as_float(out[label])
        bad = out[label].notna() & ~out[label].isin([0.0, 1.0])
        if bad.any():
            raise FrameError(f"label {label} has {int(bad.sum())} value(s) other than 0/1/null")
    out["label_resolved_ts"] = _resolved_ts(out)
    if "rule_score" in out.columns:
        out["rule_score"] = _as_float(out["rule_score"])
    return out.sort_values(["ts", "event_id"], kind="stable").reset_index(drop=True)


def _as_float(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce").astype(np.float64)


def _resolved_ts(frame: pd.DataFrame) -> pd.Series:
    # A source without the column (or a null in it) gets the most conservative time: ts + 1h.
    fallback = frame["ts"] + LABEL_HORIZON_MS
    if "label_resolved_ts" not in frame.columns:
        return fallback.astype(np.int64)
    given = epoch_ms(frame["label_resolved_ts"], nullable=True)
    return given.fillna(fallback).astype(np.int64)


def epoch_ms(column: pd.Series, nullable: bool = False) -> pd.Series:
    """Epoch milliseconds from integer ms or tz-aware datetimes (ClickHouse returns the latter)."""
    if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
        stamps = pd.to_datetime(column, utc=True)
        ms = (stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
        return ms.astype("Int64" if nullable else np.int64)
    numbers = pd.to_numeric(column, errors="coerce")
    return numbers.astype("Int64") if nullable else numbers.astype(np.int64)


def resolved_for(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Only the rows whose ``target`` label has resolved (the rest cannot be learned from)."""
    if target not in TARGETS:
        raise FrameError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    return frame.loc[frame[target].notna()].reset_index(drop=True)
