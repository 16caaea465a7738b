"""The price-moving half of the market engine: the action queue, each token's organic flow,
fills on the bonding curve or the AMM pool, and graduation.

Organic (retail) trading is a self-exciting arrival process: a decaying stream of newcomers plus
excitation from every trade, with a branching ratio that rises with the token's hidden quality
``z`` and fades with age. Attention shocks from outside the chain (``attention.py``) add
newcomers and a buy tilt when they arrive. ``market.Market`` builds on this class: it launches
tokens and plans their scripted wallets (snipers, bundles, smart money, rugs).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from heapq import heappush
from typing import Any

from streams.sim import curve
from streams.sim.attention import runner_target
from streams.sim.config import KNOB_DEFAULTS, SimConfig
from streams.sim.population import Population
from streams.sim.token import Token, sigmoid
from streams.sim.truth import token_record

TruthSink = Callable[[dict[str, Any]], None]
Action = tuple[int, int, int, Any, int, float]

LAUNCH, ARRIVAL, BUY, SELL, RUG, SMART_BUY, SHOCK = range(7)
SLOT_MS = 400
EXCITE_TAU_S = 30.0  # memory of the self-exciting trade flow
MAX_RATE = 6.0  # trades per second, organic flow cap per token
DEAD_RATE = 1.0 / 900  # below this organic rate (and nothing scheduled) a token is retired
CHECK_MS = 120_000  # re-check a quiet token at least this often
DUMP_WINDOW_MS = 20 * 60_000


class TradingFloor:
    """Scheduler state shared by the engine's parts; actions pop in ``(ts, seq)`` order."""

    def __init__(self, config: SimConfig, truth: TruthSink | None = None) -> None:
        self.cfg = config
        self.rng = random.Random(config.seed)
        self.pop = Population.build(config.seed, config.scale, self.rng)
        self.knobs = dict(KNOB_DEFAULTS)
        self.truth = truth
        self.heap: list[Action] = []
        self.seq = 0
        self.event_seq = 0
        self.tag = f"s{config.seed}"
        self.out: list[dict[str, Any]] = []
        self.live: dict[int, Token] = {}

    # -- queue and output -----------------------------------------------------------------
    def _push(self, ts: int, kind: int, tok: Token | None, a: int = 0, b: float = 0.0) -> None:
        self.seq += 1
        if tok is not None and kind != ARRIVAL:
            tok.pending += 1
        heappush(self.heap, (ts, self.seq, kind, tok, a, b))

    def _emit(self, event: dict[str, Any]) -> None:
        self.event_seq += 1
        event["event_id"] = f"{self.tag}-{self.event_seq:012d}"
        self.out.append(event)

    # -- organic flow ---------------------------------------------------------------------
    def _rate(self, tok: Token, ts: int) -> float:
        """Organic trades per second now: decaying newcomers plus self-excitation."""
        mu = tok.mu0 * math.exp(-(ts - tok.mu_start) / tok.mu_tau_ms)
        exc = tok.exc * math.exp(-(ts - tok.exc_ts) / (EXCITE_TAU_S * 1000.0))
        return min(mu + exc, MAX_RATE)

    def _schedule_arrival(self, tok: Token, ts: int) -> None:
        tok.gen += 1
        rate = self._rate(tok, ts)
        wait_ms = self.rng.expovariate(rate) * 1000.0 if rate > 0 else math.inf
        if wait_ms > CHECK_MS:  # memoryless: re-draw at the check instead of sampling far out
            check = ts + CHECK_MS
            if rate < DEAD_RATE and tok.shocks:  # dormant until its next shock: sleep to it
                check = max(check, tok.launch_ts + tok.shocks[0].delay_ms)
            self._push(check, ARRIVAL, tok, tok.gen, -1.0)
        else:
            self._push(ts + 1 + int(wait_ms), ARRIVAL, tok, tok.gen, rate)

    def _on_arrival(self, ts: int, tok: Token, gen: int, bound: float) -> None:
        if gen != tok.gen:
            return  # superseded by a later reschedule
        rate = self._rate(tok, ts)
        if bound > 0 and self.rng.random() * bound <= rate:
            self._organic_trade(tok, ts)
            return  # the trade rescheduled the flow
        if self._should_retire(tok, ts, rate):
            self._retire(tok, ts)
        else:
            self._schedule_arrival(tok, ts)

    def _on_shock(self, ts: int, tok: Token, _a: int, _b: float) -> None:
        """Outside attention arrives: newcomers and a buy tilt on top of what is left."""
        shock = tok.shocks.pop(0)
        tok.mu0 = tok.mu0 * math.exp(-(ts - tok.mu_start) / tok.mu_tau_ms) + shock.rate
        tok.mu_start, tok.mu_tau_ms = ts, shock.tau_ms
        tok.hype = self._hype(tok, ts) + shock.tilt
        tok.hype_ts, tok.hype_tau_ms = ts, shock.tau_ms
        self._schedule_arrival(tok, ts)

    def _hype(self, tok: Token, ts: int) -> float:
        return tok.hype * math.exp(-(ts - tok.hype_ts) / tok.hype_tau_ms)

    def _should_retire(self, tok: Token, ts: int, rate: float) -> bool:
        if tok.venue == "amm":
            life_ms = (8 if tok.runner > 0 else 3) * 3_600_000
            return (rate < DEAD_RATE and tok.pending == 0) or ts - tok.graduated_ts > life_ms
        age = ts - tok.launch_ts
        return (rate < DEAD_RATE and tok.pending == 0 and age > 60_000) or age > 12 * 3_600_000

    def _organic_trade(self, tok: Token, ts: int) -> None:
        rng = self.rng
        age_s = (ts - tok.launch_ts) / 1000.0
        momentum = max(-1.0, min(1.0, math.log(tok.vsol / tok.vtok / tok.ema_price)))
        hype = self._hype(tok, ts)
        if tok.venue == "amm":
            bias = self._amm_bias(tok, ts) + 0.6 * momentum + 0.5 * hype
        else:
            bias = (
                0.0
                + 0.25 * tok.z
                + 0.4 * max(tok.z - 1.6, 0.0)
                + hype
                - 0.45 * math.log1p(age_s / 300.0)
                + 1.4 * momentum
            )
            bias -= 2.0 if tok.rugged else 0.0
        w = self.pop.pick_organic(rng)
        # A retail wallet's hidden skill tilts it toward better tokens (mostly ~0).
        if not tok.sellable or rng.random() < sigmoid(bias + 2.0 * self.pop.skill[w] * tok.z):
            if tok.venue == "curve":  # bigger curves draw bigger tickets
                scale, cap = (tok.vsol / curve.INITIAL_VIRTUAL_SOL) ** 0.5, 20.0
            else:
                scale, cap = 2.0 * (tok.vsol / tok.grad_vsol) ** 0.5, 60.0
            sol = min(rng.lognormvariate(math.log(0.25), 1.0) * scale, cap)
            self._buy(tok, ts, w, sol, organic=True)
            return
        seller = self._pick_seller(tok)
        if seller is None:
            self._schedule_arrival(tok, ts)
            return
        self._sell(tok, ts, seller, 1.0 if rng.random() < 0.6 else rng.uniform(0.2, 0.8))

    def _amm_bias(self, tok: Token, ts: int) -> float:
        """Dumped pools sell off in their first 20 minutes; runners are bought toward their
        target multiple of the graduation price, then distributed."""
        if tok.runner > 0:
            price = tok.vsol / tok.vtok
            return 0.9 if price < tok.runner * tok.grad_price else -0.9
        dumping = tok.dump and ts - tok.graduated_ts < DUMP_WINDOW_MS
        return (-1.6 if dumping else 0.0) + 0.1 * tok.z

    def _pick_seller(self, tok: Token) -> int | None:
        sellable, holders = tok.sellable, tok.holders
        while sellable:
            i = self.rng.randrange(len(sellable))
            w = sellable[i]
            if holders.get(w, 0.0) > 1.0:
                return w
            sellable[i] = sellable[-1]  # drop a wallet that has sold out
            sellable.pop()
        return None

    # -- trades ---------------------------------------------------------------------------
    def _buy(self, tok: Token, ts: int, wallet: int, sol: float, organic: bool = False) -> None:
        if tok.venue == "curve":
            fill = curve.curve_buy(tok.vsol, tok.vtok, tok.real_tok, sol, self.cfg.fee)
        else:
            fill = curve.amm_buy(tok.vsol, tok.vtok, sol, self.cfg.amm_fee)
        if fill.tokens <= 0.0 or fill.sol <= 0.0:
            return
        held = tok.holders.get(wallet, 0.0)
        if held <= 0.0 and (organic or self.pop.is_retail(wallet)):
            tok.sellable.append(wallet)
        tok.holders[wallet] = held + fill.tokens
        self._record(tok, ts, wallet, fill, "wallet_buy", 1.0)
        if fill.graduated:
            self._migrate(tok, ts)

    def _sell(self, tok: Token, ts: int, wallet: int, frac: float) -> None:
        held = tok.holders.get(wallet, 0.0)
        amount = held if frac >= 1.0 else held * frac
        if amount < 1.0:
            return
        if tok.venue == "curve":
            fill = curve.curve_sell(tok.vsol, tok.vtok, tok.real_tok, amount, self.cfg.fee)
        else:
            fill = curve.amm_sell(tok.vsol, tok.vtok, amount, self.cfg.amm_fee)
        if fill.sol <= 0.0:
            return
        left = held - amount
        if left < 1.0:
            del tok.holders[wallet]
        else:
            tok.holders[wallet] = left
        self._record(tok, ts, wallet, fill, "wallet_sell", 0.5)

    def _record(
        self, tok: Token, ts: int, wallet: int, fill: curve.Fill, kind: str, weight: float
    ) -> None:
        """Apply a fill to the token, emit its event, update excitation and the organic flow."""
        tok.vsol, tok.vtok, tok.real_tok = fill.vsol, fill.vtok, fill.real_tok
        self._emit(
            {
                "schema_version": 1,
                "type": kind,
                "event_id": "",
                "ts": ts,
                "mint": tok.mint,
                "wallet": self.pop.wallet_address(wallet),
                "sol_amount": fill.sol,
                "token_amount": fill.tokens,
                "virtual_sol_reserves": fill.vsol,
                "virtual_token_reserves": fill.vtok,
                "real_token_reserves": fill.real_tok,
                "venue": tok.venue,
                "slot": ts // SLOT_MS,
            }
        )
        tok.trades += 1
        p = fill.vsol / fill.vtok
        if tok.first_price == 0.0:
            tok.first_price = p
        tok.peak_price = max(tok.peak_price, p)
        decay = math.exp(-(ts - tok.ema_ts) / 60_000.0)
        tok.ema_price, tok.ema_ts = tok.ema_price * decay + p * (1.0 - decay), ts
        if tok.venue == "curve":
            branch = tok.n_branch * math.exp(-(ts - tok.launch_ts) / tok.attention_ms)
        else:
            branch = 0.6 * math.exp(-(ts - tok.graduated_ts) / 3_600_000.0)
        tok.exc = tok.exc * math.exp(-(ts - tok.exc_ts) / (EXCITE_TAU_S * 1000.0))
        tok.exc += weight * branch / EXCITE_TAU_S
        tok.exc_ts = ts
        self._schedule_arrival(tok, ts)

    def _migrate(self, tok: Token, ts: int) -> None:
        """Graduation: the curve's liquidity moves to an AMM pool; then a dump or a run."""
        rng = self.rng
        tok.vsol, tok.vtok = curve.migration_pool(tok.vsol)
        tok.real_tok, tok.venue, tok.graduated_ts = 0.0, "amm", ts
        self._emit(
            {
                "schema_version": 2,
                "type": "token_migrated",
                "event_id": "",
                "ts": ts,
                "mint": tok.mint,
                "slot": ts // SLOT_MS,
                "ts_source": "simulated",
                "sol_amount": tok.vsol,
                "token_amount": tok.vtok,
                "pool_migration_fee": curve.MIGRATION_FEE_SOL,
                "destination": "amm",
            }
        )
        tok.grad_vsol, tok.grad_price = tok.vsol, tok.vsol / tok.vtok
        tok.runner = runner_target(rng)
        tok.dump = tok.runner == 0.0
        if tok.runner > 0:  # a crowd that keeps coming for hours
            tok.mu0, tok.mu_start, tok.mu_tau_ms = 0.3, ts, 2.5 * 3_600_000.0
        else:
            tok.mu0, tok.mu_start, tok.mu_tau_ms = 0.3, ts, 1_200_000.0
        tok.ema_price, tok.ema_ts = tok.grad_price, ts
        share, window = (0.85, DUMP_WINDOW_MS) if tok.dump else (0.3, 3_600_000)
        for w in list(tok.holders):
            if rng.random() < share:
                self._push(
                    ts + int(rng.uniform(2_000, window)), SELL, tok, w, rng.uniform(0.6, 1.0)
                )

    # -- truth ----------------------------------------------------------------------------
    def _retire(self, tok: Token, ts: int) -> None:
        tok.alive = False
        del self.live[tok.index]
        self._write_token_truth(tok, ts, still_alive=False)

    def _write_token_truth(self, tok: Token, ts: int, still_alive: bool) -> None:
        if self.truth is not None:
            self.truth(token_record(tok, self.pop, ts, still_alive))
