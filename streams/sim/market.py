"""The market engine: a heap of scheduled actions driving live tokens, emitting events in order.

Each token has a hidden quality ``z`` (standard-normal latent). Organic (retail) trading is a
self-exciting arrival process: a decaying stream of newcomers plus excitation from every trade,
with a branching ratio that rises with ``z`` and fades with age. On top of it come attention
shocks from outside the chain (``attention.py``), drawn at launch and independent of the trades
before them: they, more than the chain's own momentum, decide which tokens cascade. Snipers,
bundles, smart wallets (noisy view of ``z``), copy-traders, rugs and dev sells are scheduled
actions; every archetype's timing and ticket size is a distribution that overlaps the others'.

Actions pop in ``(ts, seq)`` order, so events come out sorted by ts and are numbered as they go.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from typing import Any

from streams.sim import curve
from streams.sim.attention import plan_shocks, runner_target, total_attention
from streams.sim.config import KNOB_DEFAULTS, SimConfig
from streams.sim.ids import mint_address, token_name
from streams.sim.population import HONEST, RETAIL, RUGGER, SMART, SNIPER, Population
from streams.sim.token import Token, geometric, poisson, sigmoid
from streams.sim.truth import cast_records, token_record

TruthSink = Callable[[dict[str, Any]], None]
Action = tuple[int, int, int, Any, int, float]

LAUNCH, ARRIVAL, BUY, SELL, RUG, SMART_BUY, SHOCK = range(7)
SLOT_MS = 400
EXCITE_TAU_S = 30.0  # memory of the self-exciting trade flow
MAX_RATE = 6.0  # trades per second, organic flow cap per token
DEAD_RATE = 1.0 / 900  # below this organic rate (and nothing scheduled) a token is retired
CHECK_MS = 120_000  # re-check a quiet token at least this often
DAILY_CYCLE = 0.35  # launch-rate amplitude over the UTC day (peak ~14:00)
DUMP_WINDOW_MS = 20 * 60_000
FAST_RETAIL_MEAN = 0.7  # retail wallets (trading bots) buying in the first slots, per launch


class Market:
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

    def _push(self, ts: int, kind: int, tok: Token | None, a: int = 0, b: float = 0.0) -> None:
        self.seq += 1
        if tok is not None and kind != ARRIVAL:
            tok.pending += 1
        heappush(self.heap, (ts, self.seq, kind, tok, a, b))

    def _emit(self, event: dict[str, Any]) -> None:
        self.event_seq += 1
        event["event_id"] = f"{self.tag}-{self.event_seq:012d}"
        self.out.append(event)

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
