"""Typed event models. Field names and order match ``schemas/events/*.v1.schema.json`` exactly.

``tests/unit/test_contracts.py`` keeps the two in step: every schema property is a field here
and vice versa, and the decoder is compiled from the schema files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.contracts.types import TARGETS as TARGETS  # re-exported: the old home

SCHEMA_VERSION = 1
Venue = Literal["curve", "amm"]


@dataclass(frozen=True, slots=True)
class Genesis:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    creator: str
    name: str
    symbol: str
    virtual_sol_reserves: float
    virtual_token_reserves: float
    real_token_reserves: float
    slot: int | None = None
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    wallet: str
    sol_amount: float
    token_amount: float
    virtual_sol_reserves: float
    virtual_token_reserves: float
    real_token_reserves: float
    venue: str
    slot: int | None = None
    signature: str | None = None

    @property
    def price(self) -> float:
        """Price after the trade, SOL per token."""
        return self.virtual_sol_reserves / self.virtual_token_reserves


@dataclass(frozen=True, slots=True)
class Buy(Trade):
    pass


@dataclass(frozen=True, slots=True)
class Sell(Trade):
    pass


InputEvent = Genesis | Buy | Sell

# event "type" discriminator -> (model, topic)
INPUT_TYPES: dict[str, tuple[type[Genesis] | type[Buy] | type[Sell], str]] = {
    "token_genesis": (Genesis, "token-genesis"),
    "wallet_buy": (Buy, "wallet-buy"),
    "wallet_sell": (Sell, "wallet-sell"),
}


@dataclass(frozen=True, slots=True)
class Score:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    source_event_id: str
    kind: str
    wallet: str | None
    creator: str | None
    scored_at: int
    price: float
    scores: dict[str, float | None]
    rule_score: float
    source: str
    models: dict[str, str]
    percentile_1h: float | None
    feature_set: str


@dataclass(frozen=True, slots=True)
class Signal:
    """Served feature snapshot (topic ``signals``): the score plus features and raw scores."""

    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    source_event_id: str
    kind: str
    wallet: str | None
    creator: str | None
    scored_at: int
    price: float
    scores: dict[str, float | None]
    rule_score: float
    source: str
    models: dict[str, str]
    percentile_1h: float | None
    feature_set: str
    features: list[float | None]
    raw_scores: dict[str, float | None]


@dataclass(frozen=True, slots=True)
class Outcome:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    signal_event_id: str
    kind: str
    wallet: str | None
    creator: str | None
    signal_ts: int
    stage: str
    price: float
    peak_10m: float | None
    peak_30m: float | None
    peak_1h: float | None
    peak_4h: float | None
    peak_24h: float | None
    min_1h: float | None
    labels: dict[str, bool]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    reason: str
    field: str | None
    error: str
    payload_size: int
    payload_head: str
