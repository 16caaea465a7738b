"""Typed event models. Field names and order match ``schemas/events/*.schema.json`` exactly.

An input model holds the fields of its newest major version (v2): the v1 schema's properties
are a prefix of it, and a v1 event decodes with every v2-only field ``None``.
``tests/unit/test_contracts.py`` keeps the two in step: every schema property is a field here
and vice versa, and the decoder is compiled from the schema files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.contracts.types import TARGETS as TARGETS  # re-exported: the old home

SCHEMA_VERSION = 1  # what this package writes (outputs, dead letters, simulated v1 inputs)
INPUT_SCHEMA_VERSIONS: tuple[int, ...] = (1, 2)  # input majors the decoder has a schema for
KNOWN_SCHEMA_MINOR = 0  # newest minor of major 2 this reader knows (the compatibility rule)
Venue = Literal["curve", "amm"]


@dataclass(frozen=True, slots=True)
class Genesis:
    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    creator: str
    name: str | None  # None (v2 only): the feed did not carry it, so features treat it as unknown
    symbol: str | None
    virtual_sol_reserves: float
    virtual_token_reserves: float
    real_token_reserves: float
    slot: int | None = None
    signature: str | None = None
    # v2 (all optional)
    schema_minor: int | None = None
    ts_source: str | None = None
    launchpad: str | None = None
    program_id: str | None = None
    quote_mint: str | None = None
    uri: str | None = None
    bonding_curve: str | None = None
    token_total_supply: float | None = None
    is_mayhem_mode: bool | None = None
    is_cashback: bool | None = None


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
    # v2 (all optional)
    schema_minor: int | None = None
    ts_source: str | None = None
    launchpad: str | None = None
    program_id: str | None = None
    quote_mint: str | None = None
    fee_sol: float | None = None
    creator_fee_sol: float | None = None
    real_sol_reserves: float | None = None
    creator: str | None = None
    ix_name: str | None = None
    is_mayhem_mode: bool | None = None

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


@dataclass(frozen=True, slots=True)
class TokenMigrated:
    """The token left its bonding curve (graduated); v2 only. Amounts are ``None`` when unknown."""

    schema_version: int
    type: str
    event_id: str
    ts: int
    mint: str
    slot: int | None = None
    signature: str | None = None
    schema_minor: int | None = None
    ts_source: str | None = None
    launchpad: str | None = None
    program_id: str | None = None
    quote_mint: str | None = None
    pool: str | None = None
    sol_amount: float | None = None  # SOL moved into the pool
    token_amount: float | None = None  # whole tokens moved into the pool
    pool_migration_fee: float | None = None
    bonding_curve: str | None = None
    destination: str | None = None


InputEvent = Genesis | Buy | Sell | TokenMigrated
InputModel = type[Genesis] | type[Buy] | type[Sell] | type[TokenMigrated]

# event "type" discriminator -> (model, topic)
INPUT_TYPES: dict[str, tuple[InputModel, str]] = {
    "token_genesis": (Genesis, "token-genesis"),
    "wallet_buy": (Buy, "wallet-buy"),
    "wallet_sell": (Sell, "wallet-sell"),
    "token_migrated": (TokenMigrated, "token-migrated"),
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
