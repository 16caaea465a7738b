"""The monitor's one DataFrame shape, from ClickHouse rows or any offline frame. Pure (pandas).

Columns: ``event_id`` (str), ``ts`` (int64 epoch ms of the signal), ``mint`` (str, the cluster
for same-token correlation; the event id when unknown), ``model`` (``model_id@version``
that produced the score, "" when unknown), ``score`` (calibrated probability), ``label`` (1.0 /
0.0 / NaN = not resolved), ``resolved_ts`` (float epoch ms when the label resolved, NaN when not)
and one float column per monitored feature, named by feature name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from streams.contracts.events import TARGETS
from streams.monitor.metrics import MonitorInputs

CORE_COLUMNS: tuple[str, ...] = ("event_id", "ts", "mint", "model", "score", "label", "resolved_ts")
LABEL_HORIZON_MS = 3_600_000  # fallback resolution time: the 1h labels resolve by ts + 1h


class MonitorFrameError(ValueError):
    """The given frame lacks what the monitor needs."""


def monitor_frame(
    raw: pd.DataFrame,
    target: str,
    feature_names: Sequence[str] = (),
    model: str | None = None,
) -> pd.DataFrame:
    """Bring an offline frame (replay + scores, ``store.training_frame``, tests) to the shape.

    Score: ``p_<target>`` or ``score``. Label: ``<target>`` or ``label`` (NaN/None = unresolved).
    Resolution time: ``label_resolved_ts`` or ``resolved_ts`` (else ts + 1h). Model:
    ``model`` argument, a ``models`` map column, or a ``model`` column. Features: named columns.
    """
    if target not in TARGETS:
        raise MonitorFrameError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    ts = _epoch_ms(_first_column(raw, ("ts",), "signal time"))
    score = _floats(_first_column(raw, (f"p_{target}", "score"), "calibrated score"))
    label = _floats(_first_column(raw, (target, "label"), "label"))
    if (label.notna() & ~label.isin([0.0, 1.0])).any():
        raise MonitorFrameError(f"label {target} has values other than 0/1/null")
    resolved = _resolved_ts(raw, ts, label)
    event_id = _first_column(raw, ("event_id",), "event id").astype(str)
    out = pd.DataFrame(
        {
            "event_id": event_id,
            "ts": ts,
            "mint": raw["mint"].astype(str).reset_index(drop=True) if "mint" in raw else event_id,
            "model": _models(raw, target, model),
            "score": score,
            "label": label,
            "resolved_ts": resolved,
        }
    )
    missing = [n for n in feature_names if n not in raw.columns]
    if missing:
        raise MonitorFrameError(f"frame lacks feature column(s): {', '.join(missing[:5])}")
    for name in feature_names:
        out[name] = _floats(raw[name]).to_numpy()
    return out.sort_values(["ts", "event_id"], kind="stable").reset_index(drop=True)


def _first_column(raw: pd.DataFrame, names: Sequence[str], what: str) -> pd.Series:
    for name in names:
        if name in raw.columns:
            return raw[name].reset_index(drop=True)
    raise MonitorFrameError(f"frame has no {what} column (looked for {', '.join(names)})")


def _floats(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce").astype(np.float64).reset_index(drop=True)


def _epoch_ms(column: pd.Series) -> pd.Series:
    if isinstance(column.dtype, pd.DatetimeTZDtype):
        return (column.dt.tz_convert("UTC").astype("datetime64[ms, UTC]").astype(np.int64)).astype(
            np.int64
        )
    if pd.api.types.is_datetime64_dtype(column):
        raise MonitorFrameError("naive datetime ts: give tz-aware UTC or epoch ms")
    return pd.to_numeric(column).astype(np.int64)


def _resolved_ts(raw: pd.DataFrame, ts: pd.Series, label: pd.Series) -> pd.Series:
    fallback = (ts + LABEL_HORIZON_MS).astype(np.float64)
    for name in ("label_resolved_ts", "resolved_ts"):
        if name in raw.columns:
            given = raw[name].reset_index(drop=True)
            if isinstance(given.dtype, pd.DatetimeTZDtype):
                given = _epoch_ms(given.dropna()).reindex(given.index)
            resolved = pd.to_numeric(given, errors="coerce").astype(np.float64).fillna(fallback)
            break
    else:
        resolved = fallback
    return resolved.where(label.notna(), np.nan)


def _models(raw: pd.DataFrame, target: str, model: str | None) -> pd.Series:
    if model is not None:
        return pd.Series([model] * len(raw), dtype=object)
    if "models" in raw.columns:
        return raw["models"].map(lambda m: (m or {}).get(target, "")).reset_index(drop=True)
    if "model" in raw.columns:
        return raw["model"].fillna("").astype(str).reset_index(drop=True)
    return pd.Series([""] * len(raw), dtype=object)


def as_of(frame: pd.DataFrame, moment_ms: int) -> pd.DataFrame:
    """What the monitor could see at ``moment_ms``: signals up to then, labels resolved by then."""
    seen = frame.loc[frame["ts"] <= moment_ms].copy()
    late = ~(seen["resolved_ts"] <= moment_ms)
    seen.loc[late, "label"] = np.nan
    seen.loc[late, "resolved_ts"] = np.nan
    return seen


def between(frame: pd.DataFrame, start_ms: int, end_ms: int) -> pd.DataFrame:
    """Signals with start <= ts < end."""
    return frame.loc[(frame["ts"] >= start_ms) & (frame["ts"] < end_ms)]


def inputs_of(frame: pd.DataFrame, feature_names: Sequence[str] = ()) -> MonitorInputs:
    features: Mapping[str, np.ndarray] = {
        name: frame[name].to_numpy(dtype=np.float64) for name in feature_names if name in frame
    }
    return MonitorInputs(
        scores=frame["score"].to_numpy(dtype=np.float64),
        labels=frame["label"].to_numpy(dtype=np.float64),
        ts=frame["ts"].to_numpy(dtype=np.float64),
        resolved_ts=frame["resolved_ts"].to_numpy(dtype=np.float64),
        features=features,
        groups=frame["mint"].to_numpy() if "mint" in frame else None,
    )
