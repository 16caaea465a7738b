"""The ClickHouse store (chdb embedded or a server) behind the :class:`~streams.store.base.Store` API."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DatabaseError

from streams.contracts.types import Family
from streams.events import TARGETS, Outcome, Signal
from streams.store.base import StoreRejectedError, StoreUnavailableError
from streams.store.rows import (
    OUTCOME_COLUMNS,
    PEAK_COLUMNS,
    SCHEMA_VERSION,
    SIGNAL_COLUMNS,
    outcome_row,
    signal_row,
)
from streams.store.training import training_frame

# ClickHouse error codes that mean "these rows are bad", not "try again later".
_DATA_ERROR_CODES = frozenset({6, 27, 32, 38, 41, 53, 69, 70, 72, 117, 321, 349, 407})


def _error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    text = str(exc)
    marker = "Code: "
    if marker in text:
        digits = text.split(marker, 1)[1].split(".", 1)[0]
        return int(digits) if digits.isdigit() else None
    return None


def classify(exc: BaseException) -> Exception:
    """Map a driver failure to StoreRejectedError (data) or StoreUnavailableError (retry)."""
    if isinstance(exc, TypeError | ValueError | OverflowError):  # client-side serialization
        return StoreRejectedError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, DatabaseError) and _error_code(exc) in _DATA_ERROR_CODES:
        return StoreRejectedError(str(exc))
    return StoreUnavailableError(f"{type(exc).__name__}: {exc}")


class ClickHouseStore:
    def __init__(self, client: Client) -> None:
        self.client = client

    def write(self, signals: Sequence[Signal], outcomes: Sequence[Outcome]) -> None:
        try:
            if signals:
                rows = [signal_row(s) for s in signals]
                self.client.insert("signals", rows, column_names=list(SIGNAL_COLUMNS))
            if outcomes:
                rows = [outcome_row(o) for o in outcomes]
                self.client.insert("outcomes", rows, column_names=list(OUTCOME_COLUMNS))
        except (ClickHouseError, OSError, TypeError, ValueError, OverflowError) as exc:
            raise classify(exc) from exc

    def signal_count(self) -> int:
        return int(self.client.command("SELECT count() FROM signals FINAL"))  # type: ignore[arg-type]

    def outcome_count(self) -> int:
        return int(self.client.command("SELECT count() FROM outcomes FINAL"))  # type: ignore[arg-type]

    def get_signal(self, event_id: str) -> Signal | None:
        cols = [c for c in SIGNAL_COLUMNS if c not in ("ts", "scored_at")]
        query = (
            f"SELECT {', '.join(cols)}, toUnixTimestamp64Milli(ts) AS ts, "
            "toUnixTimestamp64Milli(scored_at) AS scored_at "
            "FROM signals FINAL WHERE event_id = {id:String}"
        )
        result = self.client.query(query, parameters={"id": event_id})
        if not result.result_rows:
            return None
        rec = dict(zip(result.column_names, result.result_rows[0], strict=True))
        return Signal(
            schema_version=SCHEMA_VERSION, type="signal", event_id=rec["event_id"], ts=int(rec["ts"]),
            mint=rec["mint"], source_event_id=rec["source_event_id"], kind=rec["kind"],
            wallet=rec["wallet"], creator=rec["creator"], scored_at=int(rec["scored_at"]),
            price=rec["price"], scores={t: rec[f"p_{t}"] for t in TARGETS},
            rule_score=rec["rule_score"], source=rec["source"], models=dict(rec["models"]),
            percentile_1h=rec["percentile_1h"], feature_set=rec["feature_set"],
            features=[None if math.isnan(v) else v for v in rec["features"]],
            raw_scores={t: rec[f"raw_{t}"] for t in TARGETS},
        )  # fmt: skip

    def get_outcome(self, signal_event_id: str) -> Outcome | None:
        cols = [c for c in OUTCOME_COLUMNS if c not in ("signal_ts", "resolved_ts", "stage_rank")]
        query = (
            f"SELECT {', '.join(cols)}, toUnixTimestamp64Milli(signal_ts) AS signal_ts, "
            "toUnixTimestamp64Milli(resolved_ts) AS resolved_ts "
            "FROM outcomes FINAL WHERE signal_event_id = {id:String}"
        )
        result = self.client.query(query, parameters={"id": signal_event_id})
        if not result.result_rows:
            return None
        rec: dict[str, Any] = dict(zip(result.column_names, result.result_rows[0], strict=True))
        return Outcome(
            schema_version=SCHEMA_VERSION, type="outcome", event_id=rec["event_id"],
            ts=int(rec["resolved_ts"]), mint=rec["mint"], signal_event_id=rec["signal_event_id"],
            kind=rec["kind"], wallet=rec["wallet"], creator=rec["creator"],
            signal_ts=int(rec["signal_ts"]), stage=rec["stage"], price=rec["price"],
            **{c: rec[c] for c in PEAK_COLUMNS},
            labels={t: bool(rec[t]) for t in TARGETS},
        )  # fmt: skip

    def training_frame(
        self,
        family: Family,
        feature_names: Sequence[str],
        feature_set: str | None = None,
        resolved_only: bool = True,
    ) -> pd.DataFrame:
        return training_frame(self.client, family, feature_names, feature_set, resolved_only)

    def close(self) -> None:
        self.client.close()
