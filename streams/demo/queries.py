"""The demo's reads from ClickHouse (through this process's store client)."""

from __future__ import annotations

import pandas as pd
from clickhouse_connect.driver.client import Client

from streams.contracts.events import TARGETS
from streams.contracts.types import KIND_OF_FAMILY

# Signals a deployed model scored (one family and target) whose outcome has resolved; the
# label is final from the 1h stage on, so any stage row gives it.
_MODEL_SLICE = """
SELECT s.rule_score AS rule_score, s.p_{target} AS model_score, o.label AS label,
       toUnixTimestamp64Milli(s.ts) AS ts_ms
FROM signals AS s FINAL
INNER JOIN (
    SELECT signal_event_id, max({target}) AS label FROM outcomes GROUP BY signal_event_id
) AS o ON o.signal_event_id = s.event_id
WHERE s.kind = {{kind:String}} AND s.models[{{target:String}}] != '' AND s.p_{target} IS NOT NULL
ORDER BY s.ts, s.event_id
"""


def signal_counts(client: Client) -> dict[str, int]:
    """Deduplicated signal rows by kind (buy, genesis)."""
    rows = client.query("SELECT kind, count() FROM signals FINAL GROUP BY kind").result_rows
    return {str(kind): int(n) for kind, n in rows}


def resolved_signals(client: Client) -> int:
    """Signals with at least one resolved outcome stage."""
    rows = client.query("SELECT uniqExact(signal_event_id) FROM outcomes").result_rows
    return int(rows[0][0])


def model_slice(client: Client, family: str, target: str) -> pd.DataFrame:
    """Rows (rule_score, model_score, label, ts_ms) of the model-scored, resolved slice."""
    if target not in TARGETS:  # the target becomes part of column names
        raise ValueError(f"unknown target {target!r}")
    result = client.query(
        _MODEL_SLICE.format(target=target),
        parameters={"kind": KIND_OF_FAMILY[family], "target": target},
    )
    return pd.DataFrame(result.result_rows, columns=list(result.column_names))
