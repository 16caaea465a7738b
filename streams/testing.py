"""Test helpers for every engineer: events that follow the real curve math, and an in-memory run.

>>> curve = Curve()
>>> g = make_genesis("MINT", 1_000, creator="CRE", curve=curve)
>>> b = make_buy(curve, "MINT", "W1", 1.0, 2_000)
>>> b.price > g.virtual_sol_reserves / g.virtual_token_reserves
True
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from streams.contracts.events import SCHEMA_VERSION, Buy, Genesis, InputEvent, Sell
from streams.features.curve import (
    FEE_RATE,
    INITIAL_REAL_TOKENS,
    INITIAL_VIRTUAL_SOL,
    INITIAL_VIRTUAL_TOKENS,
)
from streams.features.engine import EngineOutput, FeatureEngine

_ids = itertools.count()


def next_event_id(prefix: str = "e") -> str:
    """Ids that sort in creation order (zero-padded counter), as the simulator's do."""
    return f"{prefix}{next(_ids):012d}"


@dataclass(slots=True)
class Curve:
    """Constant-product bonding curve; graduates (real tokens 0, venue amm) when sold out."""

    virtual_sol: float = INITIAL_VIRTUAL_SOL
    virtual_tokens: float = INITIAL_VIRTUAL_TOKENS
    real_tokens: float = INITIAL_REAL_TOKENS
    graduated: bool = False

    @property
    def price(self) -> float:
        return self.virtual_sol / self.virtual_tokens

    def buy(self, sol_amount: float) -> float:
        """Apply a buy paying ``sol_amount`` (fee included); returns tokens received."""
        k = self.virtual_sol * self.virtual_tokens
        net = sol_amount / (1.0 + FEE_RATE)
        out = self.virtual_tokens - k / (self.virtual_sol + net)
        if not self.graduated and out >= self.real_tokens:
            out = self.real_tokens
            self.graduated = True
        self.virtual_tokens -= out
        self.virtual_sol = k / self.virtual_tokens
        if not self.graduated:
            self.real_tokens -= out
        else:
            self.real_tokens = 0.0
        return out

    def sell(self, tokens: float) -> float:
        """Apply a sell of ``tokens``; returns SOL received after the fee."""
        k = self.virtual_sol * self.virtual_tokens
        self.virtual_tokens += tokens
        new_sol = k / self.virtual_tokens
        gross = self.virtual_sol - new_sol
        self.virtual_sol = new_sol
        if not self.graduated:
            self.real_tokens += tokens
        return gross * (1.0 - FEE_RATE)


def make_genesis(
    mint: str, ts: int, *, creator: str = "creator", curve: Curve | None = None,
    name: str = "Token", symbol: str = "TOK", slot: int | None = None, event_id: str | None = None,
) -> Genesis:  # fmt: skip
    c = curve or Curve()
    return Genesis(
        schema_version=SCHEMA_VERSION, type="token_genesis", event_id=event_id or next_event_id(),
        ts=ts, mint=mint, creator=creator, name=name, symbol=symbol,
        virtual_sol_reserves=c.virtual_sol, virtual_token_reserves=c.virtual_tokens,
        real_token_reserves=c.real_tokens, slot=slot,
    )  # fmt: skip


def make_buy(
    curve: Curve, mint: str, wallet: str, sol: float, ts: int, *, slot: int | None = None,
    event_id: str | None = None,
) -> Buy:  # fmt: skip
    was_graduated = curve.graduated
    tokens = curve.buy(sol)
    return Buy(
        schema_version=SCHEMA_VERSION, type="wallet_buy", event_id=event_id or next_event_id(),
        ts=ts, mint=mint, wallet=wallet, sol_amount=sol, token_amount=tokens,
        virtual_sol_reserves=curve.virtual_sol, virtual_token_reserves=curve.virtual_tokens,
        real_token_reserves=curve.real_tokens, venue="amm" if was_graduated else "curve", slot=slot,
    )  # fmt: skip


def make_sell(
    curve: Curve, mint: str, wallet: str, tokens: float, ts: int, *, slot: int | None = None,
    event_id: str | None = None,
) -> Sell:  # fmt: skip
    venue = "amm" if curve.graduated else "curve"
    sol = curve.sell(tokens)
    return Sell(
        schema_version=SCHEMA_VERSION, type="wallet_sell", event_id=event_id or next_event_id(),
        ts=ts, mint=mint, wallet=wallet, sol_amount=sol, token_amount=tokens,
        virtual_sol_reserves=curve.virtual_sol, virtual_token_reserves=curve.virtual_tokens,
        real_token_reserves=curve.real_tokens, venue=venue, slot=slot,
    )  # fmt: skip


def canonical(events: Iterable[InputEvent]) -> list[InputEvent]:
    """Events in the engine's canonical ``(ts, event_id)`` order."""
    return sorted(events, key=lambda e: (e.ts, e.event_id))


def run_events(
    events: Iterable[InputEvent], engine: FeatureEngine | None = None, *, sort: bool = True,
    flush: bool = True,
) -> EngineOutput:  # fmt: skip
    """Run events through an (in-memory) engine; ``flush`` finalizes what is due by the last event."""
    eng = engine or FeatureEngine()
    out = eng.process_many(canonical(events) if sort else events)
    if flush:
        out.extend(eng.flush())
    return out


def random_market(
    seed: int, *, n_tokens: int = 20, n_wallets: int = 30, n_creators: int = 6,
    minutes: float = 180.0, trades_per_token: int = 40, start_ms: int = 1_767_225_600_000,
) -> list[InputEvent]:  # fmt: skip
    """A small seeded market built with the curve builders, in canonical order.

    Wallets overlap across tokens (co-buyers), creators launch several tokens and sometimes sell,
    trades bunch up after launch and some share a millisecond, and slots are set, so every
    feature group gets exercised in a fast unit test.
    """
    import random

    rng = random.Random(seed)
    span = int(minutes * 60_000)
    events: list[InputEvent] = []
    for t in range(n_tokens):
        mint = f"mint{seed}x{t}"
        creator = f"cre{rng.randrange(n_creators)}"
        curve = Curve()
        t0 = start_ms + rng.randrange(span)
        slot0 = 1_000 + (t0 - start_ms) // 400
        events.append(make_genesis(mint, t0, creator=creator, curve=curve, slot=slot0))
        ts = t0
        holdings: dict[str, float] = {}
        hot = rng.random() < 0.3
        for _ in range(rng.randrange(trades_per_token // 4, trades_per_token)):
            ts += int(rng.expovariate(1.0 / (2_000 if hot else 30_000)))
            if rng.random() < 0.05:
                ts += rng.randrange(10 * 60_000, 50 * 60_000)  # a quiet spell
            wallet = creator if rng.random() < 0.05 else f"w{rng.randrange(n_wallets)}"
            slot = slot0 + (ts - t0) // 400
            if holdings.get(wallet, 0.0) > 0 and rng.random() < 0.3:
                amount = holdings[wallet] * rng.choice((0.5, 1.0))
                holdings[wallet] -= amount
                events.append(make_sell(curve, mint, wallet, amount, ts, slot=slot))
            else:
                sol = round(rng.lognormvariate(-0.5, 1.0), 3) + 0.001
                if hot:
                    sol *= 3
                bought = make_buy(curve, mint, wallet, sol, ts, slot=slot)
                holdings[wallet] = holdings.get(wallet, 0.0) + bought.token_amount
                events.append(bought)
    return canonical(events)
