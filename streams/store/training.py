"""Training rows: each served signal joined with its resolved outcome, features as named columns.

Columns: event_id, ts, mint, wallet, creator, price, feature_set, <feature names...>,
<target> labels (0/1), peak_10m .. peak_24h, min_1h, stage, label_resolved_ts, p_<target>,
raw_<target>, rule_score, models (target -> model id@version). Timestamps are tz-aware UTC.
Rows are ordered by (ts, event_id). With ``resolved_only=False`` unresolved signals are kept too,
with NaN labels/peaks (labels are then float64 instead of int8).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from clickhouse_connect.driver.client import Client

from streams.contracts.types import KIND_OF_FAMILY, Family
from streams.events import TARGETS
from streams.store.rows import PEAK_COLUMNS

SCORE_COLUMNS: tuple[str, ...] = (
    *(f"p_{t}" for t in TARGETS), *(f"raw_{t}" for t in TARGETS), "rule_score",
)  # fmt: skip
LABEL_COLUMNS: tuple[str, ...] = TARGETS
OUTCOME_COLUMNS: tuple[str, ...] = (*LABEL_COLUMNS, *PEAK_COLUMNS, "stage", "label_resolved_ts")
HEAD_COLUMNS: tuple[str, ...] = (
    "event_id",
    "ts",
    "mint",
    "wallet",
    "creator",
    "price",
    "feature_set",
)

_QUERY = f"""
SELECT
    s.event_id AS event_id, toUnixTimestamp64Milli(s.ts) AS ts_ms, s.mint AS mint,
    s.wallet AS wallet, s.creator AS creator, s.price AS price, s.feature_set AS feature_set,
    s.features AS features,
    {", ".join(f"o.{c} AS {c}" for c in (*LABEL_COLUMNS, *PEAK_COLUMNS, "stage"))},
    toUnixTimestamp64Milli(o.resolved_ts) AS resolved_ms,
    {", ".join(f"s.{c} AS {c}" for c in SCORE_COLUMNS)}, s.models AS models
FROM signals AS s FINAL
{{join}} JOIN (SELECT * FROM outcomes FINAL WHERE kind = {{kind:String}}) AS o
    ON o.signal_event_id = s.event_id
WHERE s.kind = {{kind:String}} AND ({{feature_set:String}} = '' OR s.feature_set = {{feature_set:String}})
ORDER BY s.ts, s.event_id
SETTINGS join_use_nulls = 1
"""


def training_frame(
    client: Client,
    family: Family,
    feature_names: Sequence[str],
    feature_set: str | None = None,
    resolved_only: bool = True,
) -> pd.DataFrame:
    """One row per resolved signal of ``family`` with exactly the features that were served.

    ``feature_set`` keeps only vectors served with that registry version (others have another
    order or width); without it every vector must have ``len(feature_names)`` values.
    """
    params = {
        "kind": KIND_OF_FAMILY[family],
        "feature_set": feature_set or "",
    }
    query = _QUERY.replace("{join}", "INNER" if resolved_only else "LEFT")
    result = client.query(query, parameters=params)
    records = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
    return assemble_frame(records, feature_names)


def assemble_frame(records: Sequence[dict[str, Any]], feature_names: Sequence[str]) -> pd.DataFrame:
    """Build the frame from flat records holding ``features`` (list), ``ts_ms`` and ``resolved_ms``."""
    names = list(feature_names)
    matrix = np.full((len(records), len(names)), np.nan)
    for i, rec in enumerate(records):
        vec = rec["features"]
        if len(vec) != len(names):
            raise ValueError(
                f"signal {rec['event_id']} has {len(vec)} features (feature_set "
                f"{rec['feature_set']!r}) but {len(names)} names were given; pass feature_set="
            )
        matrix[i] = vec
    head = pd.DataFrame({c: [r[c] for r in records] for c in HEAD_COLUMNS if c != "ts"})
    head.insert(1, "ts", pd.to_datetime([r["ts_ms"] for r in records], unit="ms", utc=True))
    features = pd.DataFrame(matrix, columns=names)
    tail = pd.DataFrame(
        {c: [r[c] for r in records] for c in (*LABEL_COLUMNS, *PEAK_COLUMNS, "stage")}
    )
    for label in LABEL_COLUMNS:
        has_nulls = tail[label].isna().any()
        tail[label] = tail[label].astype("float64" if has_nulls else "int8")
    for peak in PEAK_COLUMNS:
        tail[peak] = tail[peak].astype("float64")
    tail["label_resolved_ts"] = pd.to_datetime(
        [r["resolved_ms"] for r in records], unit="ms", utc=True
    )
    scores = pd.DataFrame({c: [r[c] for r in records] for c in SCORE_COLUMNS}, dtype="float64")
    scores["models"] = [dict(r["models"]) for r in records]
    return pd.concat([head, features, tail, scores], axis=1)
