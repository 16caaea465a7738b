"""What the feature formulas read besides the signal's own token, wallet and creator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from streams.features.state import CoocState, RegimeState, TokenState, WalletState

V_co = TypeVar("V_co", covariant=True)


class Lookup(Protocol[V_co]):
    """A state store seen read-only: the formulas look values up and count them."""

    def get(self, key: str) -> V_co | None: ...
    def __len__(self) -> int: ...


@dataclass(frozen=True, slots=True)
class FeatureContext:
    """Built once by the engine from its state and config; the formulas only read it.

    ``regime`` is the market-wide window the engine keeps; a formula evicts its expired entries
    (``evict_regime``) before reading it, as the engine would on its next update.
    """

    tokens: Lookup[TokenState]
    wallets: Lookup[WalletState]
    cooc: Lookup[CoocState]
    regime: RegimeState
    cooc_decay: float  # per ms: a co-buy weight decays as exp(-elapsed_ms * cooc_decay)
    rate_decay: float  # per ms, the wallet buy-rate estimate's decay
    cooc_min_weight: float  # decayed weight of a "frequent" co-buyer
    smart_min_resolved: int
    smart_min_win_rate: float
