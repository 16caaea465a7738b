"""The market engine: launches tokens, plans their scripted wallets and drives the action queue.

Each token has a hidden quality ``z`` (standard-normal latent). Its organic flow, fills and
graduation live in ``flow.py`` (``TradingFloor``); attention shocks from outside the chain
(``attention.py``) are drawn here at launch, independent of the trades before them: they, more
than the chain's own momentum, decide which tokens cascade. Snipers, bundles, smart wallets
(noisy view of ``z``), copy-traders, rugs and dev sells are scheduled actions; every archetype's
timing and ticket size is a distribution that overlaps the others'.

Actions pop in ``(ts, seq)`` order, so events come out sorted by ts and are numbered as they go.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from heapq import heappop
from typing import Any

from streams.sim.attention import plan_shocks, total_attention
from streams.sim.config import SimConfig
from streams.sim.flow import (
    ARRIVAL,
    BUY,
    LAUNCH,
    RUG,
    SELL,
    SHOCK,
    SLOT_MS,
    SMART_BUY,
    TradingFloor,
    TruthSink,
)
from streams.sim.ids import mint_address, token_name
from streams.sim.population import HONEST, RETAIL, RUGGER, SMART, SNIPER
from streams.sim.token import Token, geometric, poisson, sigmoid
from streams.sim.truth import cast_records

DAILY_CYCLE = 0.35  # launch-rate amplitude over the UTC day (peak ~14:00)
FAST_RETAIL_MEAN = 0.7  # retail wallets (trading bots) buying in the first slots, per launch


class Market(TradingFloor):
    """One seeded run: launches, scripted wallets and the end-of-run truth on the shared floor."""

    def __init__(self, config: SimConfig, truth: TruthSink | None = None) -> None:
        super().__init__(config, truth)
        self.n_tokens = 0
        self.launches_by: dict[int, int] = {}

    # -- driver ---------------------------------------------------------------------------
    def events(self) -> Iterator[dict[str, Any]]:
        """All events of the run in canonical ``(ts, event_id)`` order; truth goes to the sink."""
        cfg, heap, regime = self.cfg, self.heap, self.cfg.regime
        end, ri = cfg.end_ms, 0
        self._push(cfg.start_ms, LAUNCH, None)
        handlers: dict[int, Callable[[int, Token, int, float], None]] = {
            ARRIVAL: self._on_arrival,
            BUY: self._on_buy,
            SELL: self._on_sell,
            RUG: self._on_rug,
            SMART_BUY: self._on_smart_buy,
            SHOCK: self._on_shock,
        }
        while heap:
            ts, _, kind, tok, a, b = heappop(heap)
            if ts >= end:
                break
            while ri < len(regime) and regime[ri].at_ms <= ts:
                self.knobs.update(regime[ri].values)
                ri += 1
            if kind == LAUNCH:
                self._on_launch(ts)
            else:
                if kind != ARRIVAL:
                    tok.pending -= 1
                if tok.alive:
                    handlers[kind](ts, tok, a, b)
            if self.out:
                yield from self.out
                self.out.clear()
        self._finish(end)

    # -- launches -------------------------------------------------------------------------
    def _launch_rate_per_ms(self, ts: int) -> float:
        hour = (ts // 1000 % 86_400) / 3600.0
        cycle = 1.0 + DAILY_CYCLE * math.sin(2.0 * math.pi * (hour - 8.0) / 24.0)
        return self.cfg.launch_rate_per_day * self.knobs["launch_rate_mult"] * cycle / 86_400_000

    def _on_launch(self, ts: int) -> None:
        rng = self.rng
        bound = self.cfg.launch_rate_per_day * self.knobs["launch_rate_mult"] * (1 + DAILY_CYCLE)
        bound = max(bound / 86_400_000, 1e-12)
        self._push(ts + 1 + int(rng.expovariate(bound)), LAUNCH, None)
        if rng.random() * bound <= self._launch_rate_per_ms(ts):
            self._create_token(ts)

    def _pick_creator(self) -> int:
        rng, pop = self.rng, self.pop
        if rng.random() < self.knobs["rugger_share"]:
            return pop.pick_rugger(rng)
        if rng.random() < 0.45:
            return pop.pick_serial_honest(rng)
        return pop.new_creator(HONEST, rng.gauss(0.0, 0.6))

    def _create_token(self, ts: int) -> None:
        rng, pop = self.rng, self.pop
        creator = self._pick_creator()
        rugger = pop.creator_type[creator] == RUGGER
        talent = pop.creator_talent[creator]
        z = talent + rng.gauss(0.0, 0.9 if rugger else 0.8) + self.knobs["quality_shift"]
        planned = rng.random() < (0.85 if rugger else 0.03)
        index = self.n_tokens
        self.n_tokens += 1
        tok = Token(index, mint_address(self.cfg.seed, index), creator, z, planned, ts)
        activity = self.knobs["retail_activity"]
        tok.mu0 = 0.075 * math.exp(0.1 * z) * activity
        tok.mu_tau_ms = 120_000.0 * math.exp(0.15 * z)
        tok.n_branch = 1.0 * sigmoid(1.5 * (z - 0.75))
        tok.attention_ms = 1_200_000.0 * math.exp(0.25 * z)
        tok.shocks = plan_shocks(rng, z, activity)
        tok.attention = total_attention(tok.shocks)
        self.live[index] = tok
        name, symbol = token_name(self.cfg.seed, index)
        self._emit(
            {
                "schema_version": 1,
                "type": "token_genesis",
                "event_id": "",
                "ts": ts,
                "mint": tok.mint,
                "creator": pop.creator_address(creator),
                "name": name,
                "symbol": symbol,
                "virtual_sol_reserves": tok.vsol,
                "virtual_token_reserves": tok.vtok,
                "real_token_reserves": tok.real_tok,
                "slot": ts // SLOT_MS,
            }
        )
        history = self.launches_by.get(creator, 0)
        self.launches_by[creator] = history + 1
        self._plan_creator(tok, ts, rugger)
        self._plan_snipers(tok, ts, history)
        self._plan_smart(tok, ts)
        for shock in tok.shocks:
            self._push(ts + shock.delay_ms, SHOCK, tok)
        self._schedule_arrival(tok, ts)

    def _plan_creator(self, tok: Token, ts: int, rugger: bool) -> None:
        """Dev buy, same-slot bundle (cabal or an honest team), and the rug or a later dev sell."""
        rng, pop = self.rng, self.pop
        dev = pop.creator_wallet(tok.creator)
        if rng.random() < (0.95 if rugger else 0.8):
            self._buy(tok, ts, dev, rng.lognormvariate(math.log(1.2 if rugger else 0.8), 0.7))
        rug_ts = ts + int(min(rng.lognormvariate(math.log(120.0), 0.9), 1800.0) * 1000.0) + 5_000
        bundle: list[int] = []
        if rugger and rng.random() < 0.75:
            bundle = [w for w in pop.cabal_of[tok.creator] if rng.random() < 0.85]
        elif not rugger and rng.random() < 0.15:  # friends or a team buying at creation
            bundle = [pop.pick(RETAIL, rng) for _ in range(1 + poisson(rng, 2.5))]
        for w in bundle:
            self._buy(tok, ts, w, rng.lognormvariate(0.0, 0.7))
            exit_ms = (
                rug_ts + int(rng.gauss(5_000, 10_000))
                if tok.rug_planned
                else ts + int(min(rng.lognormvariate(math.log(300.0), 1.2), 7200.0) * 1000.0)
            )
            self._push(max(exit_ms, ts + 1), SELL, tok, w, 1.0)
        if tok.rug_planned:
            self._push(rug_ts, RUG, tok)
        elif rng.random() < 0.3:
            self._push(ts + int(rng.uniform(120_000, 1_800_000)), SELL, tok, dev, 1.0)

    def _plan_snipers(self, tok: Token, ts: int, history: int) -> None:
        """Bots buy in the first slots (geometric lag) and flip after a lognormal hold; some
        retail trading bots buy that early too, and hold like retail."""
        rng, pop = self.rng, self.pop
        slot = ts // SLOT_MS
        mean = 1.8 * self.knobs["sniper_rate"] * (1.0 + 0.25 * min(history, 6))
        for _ in range(poisson(rng, mean)):
            w = pop.pick(SNIPER, rng)
            buy_ts = (slot + 1 + geometric(rng, 0.5)) * SLOT_MS + rng.randrange(SLOT_MS)
            size = rng.lognormvariate(math.log(0.6), 0.8) * (0.5 + pop.skill[w])
            self._push(buy_ts, BUY, tok, w, size)
            hold_ms = int(min(rng.lognormvariate(math.log(15.0), 1.0), 3600.0) * 1000.0)
            self._push(buy_ts + 1_000 + hold_ms, SELL, tok, w, 1.0)
        for _ in range(poisson(rng, FAST_RETAIL_MEAN * self.knobs["retail_activity"])):
            buy_ts = (slot + 1 + geometric(rng, 0.35)) * SLOT_MS + rng.randrange(SLOT_MS)
            self._push(buy_ts, BUY, tok, pop.pick(RETAIL, rng), rng.lognormvariate(-1.2, 1.0))

    def _plan_smart(self, tok: Token, ts: int) -> None:
        """Smart wallets see quality through noise that shrinks with skill; those that like it
        (and a few that misjudge) buy after a lognormal delay."""
        rng, pop = self.rng, self.pop
        edge = self.knobs["smart_edge"]
        for _ in range(poisson(rng, 2.0)):
            w = pop.pick(SMART, rng)
            noise = rng.gauss(0.0, 1.0 / (0.15 + pop.skill[w] * edge))
            if tok.z + noise > 1.5 or rng.random() < 0.04:
                delay = min(rng.lognormvariate(math.log(15.0), 1.1), 1200.0)
                size = rng.lognormvariate(math.log(0.9), 0.7)
                self._push(ts + 400 + int(delay * 1000.0), SMART_BUY, tok, w, size)

    # -- scheduled actions ----------------------------------------------------------------
    def _on_buy(self, ts: int, tok: Token, wallet: int, sol: float) -> None:
        self._buy(tok, ts, wallet, sol)

    def _on_sell(self, ts: int, tok: Token, wallet: int, frac: float) -> None:
        self._sell(tok, ts, wallet, frac)

    def _on_rug(self, ts: int, tok: Token, _a: int, _b: float) -> None:
        tok.rugged = True
        self._sell(tok, ts, self.pop.creator_wallet(tok.creator), 1.0)
        tok.exc, tok.exc_ts = 0.0, ts
        tok.mu0 *= 0.1
        self._schedule_arrival(tok, ts)

    def _on_smart_buy(self, ts: int, tok: Token, wallet: int, sol: float) -> None:
        rng = self.rng
        self._buy(tok, ts, wallet, sol)
        hold_ms = int(min(rng.lognormvariate(math.log(360.0), 1.0), 7200.0) * 1000.0)
        self._push(ts + 2_000 + hold_ms, SELL, tok, wallet, 1.0)
        for follower in self.pop.followers(wallet):
            if rng.random() < 0.5:
                lag = ts + 400 + int(min(rng.lognormvariate(math.log(4.0), 0.8), 120.0) * 1000.0)
                self._push(lag, BUY, tok, follower, rng.lognormvariate(math.log(0.5), 0.8))
                follow_ms = int(min(rng.lognormvariate(math.log(300.0), 1.0), 7200.0) * 1000.0)
                self._push(lag + 2_000 + follow_ms, SELL, tok, follower, 1.0)

    # -- end of run -----------------------------------------------------------------------
    def _finish(self, end: int) -> None:
        for tok in list(self.live.values()):
            self._write_token_truth(tok, end, still_alive=True)
        self.live.clear()
        if self.truth is not None:
            for record in cast_records(self.pop, self.launches_by):
                self.truth(record)


def simulate(config: SimConfig, truth: TruthSink | None = None) -> Iterator[dict[str, Any]]:
    """Events of a seeded market in canonical ``(ts, event_id)`` order; truth to ``truth``."""
    return Market(config, truth).events()
