"""The store interface every sink target implements (ClickHouse, in-memory) and its errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pandas as pd

from streams.contracts.types import Family
from streams.events import Outcome, Signal


class StoreUnavailableError(RuntimeError):
    """The store could not take the write now (down, overloaded): retry the same batch later."""


class StoreRejectedError(ValueError):
    """The store refused these rows as data (types, ranges): retrying will not help."""


class Store(Protocol):
    def write(self, signals: Sequence[Signal], outcomes: Sequence[Outcome]) -> None:
        """Persist a batch; idempotent per event (re-delivered rows deduplicate)."""

    def signal_count(self) -> int:
        """Distinct signals stored (after deduplication)."""

    def outcome_count(self) -> int:
        """Signals with at least one resolved outcome."""

    def get_signal(self, event_id: str) -> Signal | None:
        """The stored signal, as the event it came from."""

    def get_outcome(self, signal_event_id: str) -> Outcome | None:
        """The latest-stage outcome of a signal."""

    def training_frame(
        self,
        family: Family,
        feature_names: Sequence[str],
        feature_set: str | None = None,
        resolved_only: bool = True,
    ) -> pd.DataFrame:
        """Resolved signals of one family joined with their outcome (see ``streams.store.training``)."""

    def close(self) -> None: ...
