"""An in-memory store with the ClickHouse store's semantics (dedup, latest stage wins)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pandas as pd

from streams.events import TARGETS, Outcome, Signal
from streams.store.base import FAMILY_KIND, Family
from streams.store.rows import PEAK_COLUMNS, newer_outcome, outcome_row, signal_row
from streams.store.training import SCORE_COLUMNS, assemble_frame


class MemoryStore:
    def __init__(self) -> None:
        self._signals: dict[str, Signal] = {}
        self._outcomes: dict[str, Outcome] = {}
        self._lock = threading.Lock()

    def write(self, signals: Sequence[Signal], outcomes: Sequence[Outcome]) -> None:
        # Convert first, as ClickHouse would: a batch with an unstorable row writes nothing.
        for s in signals:
            signal_row(s)
        for o in outcomes:
            outcome_row(o)
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
        self, family: Family, feature_names: Sequence[str], feature_set: str | None = None
    ) -> pd.DataFrame:
        kind = FAMILY_KIND[family]
        chosen = [
            s for s in self._signals.values()
            if s.kind == kind and s.event_id in self._outcomes and feature_set in (None, "", s.feature_set)
        ]  # fmt: skip
        chosen.sort(key=lambda s: (s.ts, s.event_id))
        return assemble_frame(
            [_record(s, self._outcomes[s.event_id]) for s in chosen], feature_names
        )

    def close(self) -> None:
        pass


def _record(s: Signal, o: Outcome) -> dict[str, Any]:
    scores = {f"p_{t}": s.scores.get(t) for t in TARGETS} | {
        f"raw_{t}": s.raw_scores.get(t) for t in TARGETS
    }
    rec: dict[str, Any] = {
        "event_id": s.event_id, "ts_ms": s.ts, "mint": s.mint, "wallet": s.wallet,
        "creator": s.creator, "price": s.price, "feature_set": s.feature_set,
        "features": [float("nan") if v is None else v for v in s.features],
        "stage": o.stage, "resolved_ms": o.ts, "rule_score": s.rule_score,
    }  # fmt: skip
    rec.update({t: int(o.labels[t]) for t in TARGETS})
    rec.update({c: getattr(o, c) for c in PEAK_COLUMNS})
    rec.update({c: scores[c] for c in SCORE_COLUMNS if c != "rule_score"})
    return rec
