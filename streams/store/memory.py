"""An in-memory store with the ClickHouse store's semantics (dedup, latest stage wins)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pandas as pd

from streams.contracts.types import KIND_OF_FAMILY, Family
from streams.events import TARGETS, Outcome, Signal
from streams.store.base import StoreRejectedError
from streams.store.rows import PEAK_COLUMNS, newer_outcome, outcome_row, signal_row
from streams.store.training import assemble_frame


class MemoryStore:
    def __init__(self) -> None:
        self._signals: dict[str, Signal] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()

    def write(self, signals: Sequence[Signal], outcomes: Sequence[Outcome]) -> None:
        # Convert first, as ClickHouse would: a batch with an unstorable row writes nothing.
        try:
            for s in signals:
                signal_row(s)
            for o in outcomes:
                outcome_row(o)
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreRejectedError(f"{type(exc).__name__}: {exc}") from exc
        with self._lock:
            for s in signals:
                self._signals[s.event_id] = s
            for o in outcomes:
                if newer_outcome(self._outcomes.get(o.signal_event_id), o):
                    self._outcomes[o.signal_event_id] = o

    def signal_count(self) -> int:
        return len(self._signals)

    def outcome_count(self) -> int:
        return len(self._outcomes)

    def get_signal(self, event_id: str) -> Signal | None:
        return self._signals.get(event_id)

    def get_outcome(self, signal_event_id: str) -> Outcome | None:
        return self._outcomes.get(signal_event_id)

    def training_frame(
        self,
        family: Family,
        feature_names: Sequence[str],
        feature_set: str | None = None,
        resolved_only: bool = True,
    ) -> pd.DataFrame:
        kind = KIND_OF_FAMILY[family]
        chosen = [
            s for s in self._signals.values()
            if s.kind == kind and feature_set in (None, "", s.feature_set)
            and (s.event_id in self._outcomes or not resolved_only)
        ]  # fmt: skip
        chosen.sort(key=lambda s: (s.ts, s.event_id))
        records = [_record(s, self._outcomes.get(s.event_id)) for s in chosen]
        return assemble_frame(records, feature_names)

    def close(self) -> None:
        pass


def _record(s: Signal, o: Outcome | None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "event_id": s.event_id, "ts_ms": s.ts, "mint": s.mint, "wallet": s.wallet,
        "creator": s.creator, "price": s.price, "feature_set": s.feature_set,
        "features": [float("nan") if v is None else v for v in s.features],
        "rule_score": s.rule_score, "models": dict(s.models),
        "stage": None if o is None else o.stage, "resolved_ms": None if o is None else o.ts,
    }  # fmt: skip
    rec.update({f"p_{t}": s.scores.get(t) for t in TARGETS})
    rec.update({f"raw_{t}": s.raw_scores.get(t) for t in TARGETS})
    rec.update({t: None if o is None else int(o.labels[t]) for t in TARGETS})
    rec.update({c: None if o is None else getattr(o, c) for c in PEAK_COLUMNS})
    return rec
