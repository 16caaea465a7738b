"""Read the monitor frame from ClickHouse: served scores per model version, labels once resolved.

One query per model version: that model's signals in ``[since, until)`` with the calibrated score
for the target, the label and the time it resolved from ``outcomes``, and the monitored features
picked out of the served vector. Labels are final from stage 1h on; once the ReplacingMergeTree has
replaced a 1h row by its 24h row, the label time is taken as signal time + 1h (the 1h horizon).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from clickhouse_connect.driver.client import Client

from streams.contracts.events import TARGETS
from streams.monitor.frames import CORE_COLUMNS

_MODELS_QUERY = """
SELECT DISTINCT models[{{target:String}}] AS model
FROM signals FINAL
WHERE ts >= fromUnixTimestamp64Milli({{since:Int64}}, 'UTC')
  AND ts < fromUnixTimestamp64Milli({{until:Int64}}, 'UTC')
  AND p_{target} IS NOT NULL
ORDER BY model
"""

_ROWS_QUERY = """
SELECT
    s.event_id AS event_id,
    toUnixTimestamp64Milli(s.ts) AS ts,
    s.mint AS mint,
    s.p_{target} AS score,
    if(o.signal_event_id != '', toFloat64(o.label), nan) AS label,
    if(o.signal_event_id != '', toFloat64(o.resolved_ms), nan) AS resolved_ts,
    length(s.features) AS width{feature_columns}
FROM signals AS s FINAL
LEFT JOIN
(
    SELECT
        signal_event_id,
        argMax({target}, stage_rank) AS label,
        -- a merged-away 1h row leaves only the 24h row: its labels were known at signal + 1h
        toUnixTimestamp64Milli(min(if(
            stage_rank = 1, resolved_ts, least(resolved_ts, signal_ts + toIntervalHour(1))
        ))) AS resolved_ms
    FROM outcomes
    WHERE signal_ts >= fromUnixTimestamp64Milli({{since:Int64}}, 'UTC')
      AND signal_ts < fromUnixTimestamp64Milli({{until:Int64}}, 'UTC')
    GROUP BY signal_event_id
    HAVING resolved_ms <= {{as_of:Int64}}
) AS o ON o.signal_event_id = s.event_id
WHERE s.ts >= fromUnixTimestamp64Milli({{since:Int64}}, 'UTC')
  AND s.ts < fromUnixTimestamp64Milli({{until:Int64}}, 'UTC')
  AND s.models[{{target:String}}] = {{model:String}}
  AND s.p_{target} IS NOT NULL
ORDER BY s.ts, s.event_id
"""


def _check_target(target: str) -> None:
    # The target becomes part of column names in the SQL: only the known ones are allowed.
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")


def scored_models(client: Client, target: str, since_ms: int, until_ms: int) -> list[str]:
    """Model versions (``model_id@version``, "" for none) that scored ``target`` in the period."""
    _check_target(target)
    result = client.query(
        _MODELS_QUERY.format(target=target),
        parameters={"target": target, "since": since_ms, "until": until_ms},
    )
    return [str(row[0]) for row in result.result_rows]


def read_model_frame(
    client: Client,
    target: str,
    model: str,
    since_ms: int,
    until_ms: int,
    feature_positions: Mapping[str, int] | None = None,
    feature_count: int | None = None,
    as_of_ms: int | None = None,
) -> pd.DataFrame:
    """The monitor frame of one model version (see ``streams.monitor.frames``).

    ``feature_positions`` maps monitored feature names to their 0-based index in the served
    vector; vectors of another width than ``feature_count`` give NaN for them.
    """
    _check_target(target)
    positions = dict(feature_positions or {})
    # 1-based ClickHouse array index; aliases are positional, names are applied below.
    feature_columns = "".join(
        f",\n    s.features[{index + 1}] AS f{i}" for i, index in enumerate(positions.values())
    )
    result = client.query(
        _ROWS_QUERY.format(target=target, feature_columns=feature_columns),
        parameters={
            "target": target,
            "model": model,
            "since": since_ms,
            "until": until_ms,
            "as_of": as_of_ms if as_of_ms is not None else until_ms + 86_400_000,
        },
    )
    raw = pd.DataFrame(result.result_rows, columns=list(result.column_names))
    return _shape(raw, model, list(positions), feature_count)


def _shape(
    raw: pd.DataFrame, model: str, names: Sequence[str], feature_count: int | None
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "event_id": raw["event_id"].astype(str),
            "ts": raw["ts"].astype(np.int64),
            "mint": raw["mint"].astype(str),
            "model": pd.Series([model] * len(raw), dtype=object),
            "score": raw["score"].astype(np.float64),
            "label": raw["label"].astype(np.float64),
            "resolved_ts": raw["resolved_ts"].astype(np.float64),
        },
        columns=list(CORE_COLUMNS),
    )
    wrong_width = raw["width"].to_numpy() != feature_count if feature_count is not None else None
    for i, name in enumerate(names):
        values = raw[f"f{i}"].to_numpy(dtype=np.float64)
        out[name] = values if wrong_width is None else np.where(wrong_width, np.nan, values)
    return out


def read_frame(
    client: Client,
    target: str,
    since_ms: int,
    until_ms: int,
    features_by_model: Mapping[str, tuple[Mapping[str, int], int]] | None = None,
    as_of_ms: int | None = None,
) -> pd.DataFrame:
    """All model versions' frames concatenated; ``features_by_model``: label -> (positions, width)."""
    known = features_by_model or {}
    frames = []
    for model in scored_models(client, target, since_ms, until_ms):
        positions, width = known.get(model, ({}, None))
        frames.append(
            read_model_frame(client, target, model, since_ms, until_ms, positions, width, as_of_ms)
        )
    if not frames:
        return pd.DataFrame(columns=list(CORE_COLUMNS))
    return pd.concat(frames, ignore_index=True)
