"""The point-in-time feature engine: one pass over events in canonical ``(ts, event_id)`` order.

Time is only ever the events' ``ts`` (UTC epoch ms); this module never reads a clock and never
touches Kafka. Watermark semantics: after an event at ``t`` (or ``advance_to(t)``) everything
due strictly before ``t`` is final. Due items (genesis signals at t0 + 60 s, outcome stages at
signal_ts + 1 h / + 24 h, token fates at t0 + fate horizon, eviction sweeps) are processed in
due-time order *before* the event that passes them, so a feature at ``t`` sees exactly the
events at or before ``t`` and the outcomes/fates resolved strictly before ``t``.

Late events (``ts`` below the watermark) are processed as if they happened at the watermark
(their signal ``ts`` is the watermark) and counted in ``stats.late_events``.

An event id already applied within ``dedup_window_ms`` is a duplicate: it changes nothing and
makes no signal (``stats.duplicate_events``, ``EngineOutput.duplicates``; see
:mod:`streams.features.dedup`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import numpy as np

from streams.contracts.events import (
    SCHEMA_VERSION,
    Buy,
    Genesis,
    InputEvent,
    Outcome,
    Sell,
    TokenMigrated,
)
from streams.contracts.features import (
    GENESIS_NAMES,
    HOUR_MS,
    MINUTE_MS,
    STAGE_1H_MS,
    STAGE_24H_MS,
)
from streams.features import outcomes
from streams.features.compute import genesis_features, standard_features
from streams.features.context import FeatureContext
from streams.features.dedup import SeenEvents
from streams.features.state import (
    COOC_REBASE_MS,
    COOC_REF_STEP_MS,
    META_KEY,
    REGIME_KEY,
    CoocState,
    CreatorState,
    EngineState,
    MetaState,
    PendingSignal,
    RegimeState,
    StateStore,
    TokenState,
    WalletState,
    _evict_regime_buys,
)

GENESIS_DELAY_MS = MINUTE_MS
_FAR = 1 << 62
_FIVE_MIN_MS = 5 * MINUTE_MS
_exp = math.exp


def _fast_get(store: StateStore[Any]) -> Callable[[str], Any]:
    """The store's cheapest lookup (the backend decides; in memory: its dict's own ``get``)."""
    return store.lookup()


def _fast_touch(store: StateStore[Any]) -> Callable[[str], None]:
    """Mark a value the engine just read from the store as changed (it is mutated in place):
    its key goes into the store's dirty set, on every backend (the value is held by the store)."""
    return store.dirty.add


_take_genesis = itemgetter(*GENESIS_NAMES)


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Tunables. Changing one changes feature values: treat it like a feature-set change."""

    fate_horizon_ms: int = HOUR_MS  # token fate (graduated / rug / peak) is judged at t0 + this
    token_idle_ms: int = 30 * MINUTE_MS  # evict a token this long after its last trade (if idle)
    wallet_idle_ms: int = 7 * 24 * HOUR_MS  # evict a wallet not seen for this long
    sweep_interval_ms: int = 10 * MINUTE_MS
    wallet_sweep_interval_ms: int = 6 * HOUR_MS
    cooc_window_ms: int = MINUTE_MS  # two first buys of a token this close are a co-buy
    cooc_recent_max: int = 8  # earlier first buyers of a token paired with a new one
    cooc_top_k: int = 16  # partners kept per wallet: grows to 2K, then cut to the top K by weight
    cooc_half_life_ms: int = 6 * HOUR_MS
    cooc_min_weight: float = 1.5  # decayed weight of a "frequent" co-buyer
    smart_min_resolved: int = 3
    smart_min_win_rate: float = 0.5
    wallet_rate_half_life_ms: int = HOUR_MS
    holder_min_tokens: float = 1.0  # a balance above this many tokens makes a holder
    prune_min: int = 256  # drop a price-path prefix only when at least this long
    # an event id seen again within this much event time is dropped as a duplicate; ids are
    # forgotten by the token sweep, so ``seen`` holds one window plus one sweep interval
    dedup_window_ms: int = 10 * MINUTE_MS


@dataclass(slots=True)
class SignalRow:
    kind: str  # "buy" | "genesis"
    event_id: str
    ts: int
    mint: str
    wallet: str | None
    creator: str | None
    price: float
    features: np.ndarray


@dataclass(slots=True)
class EngineOutput:
    signals: list[SignalRow] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    duplicates: int = 0  # events dropped because their event_id was already applied

    def extend(self, other: EngineOutput) -> None:
        self.signals.extend(other.signals)
        self.outcomes.extend(other.outcomes)
        self.duplicates += other.duplicates


@dataclass(slots=True)
class EngineStats:
    events: int = 0
    late_events: int = 0
    duplicate_genesis: int = 0
    trades_without_genesis: int = 0
    signals: int = 0
    outcomes: int = 0
    evicted_tokens: int = 0
    evicted_wallets: int = 0
    duplicate_events: int = 0  # same event_id within the dedup window: dropped
    migrations: int = 0  # token_migrated events applied to a known token
    migrations_without_token: int = 0  # token_migrated for a mint with no state: ignored
    forgotten_ids: int = 0  # event ids the sweep dropped from ``seen`` (past the window)


class FeatureEngine:
    def __init__(
        self, config: EngineConfig | None = None, state: EngineState | None = None
    ) -> None:
        self.config = config or EngineConfig()
        self.state = state or EngineState()
        self.stats = EngineStats()
        st = self.state
        self._tokens = st.tokens
        self._wallets = st.wallets
        self._creators = st.creators
        self._cooc = st.cooc
        self._pending = st.pending
        self._seen = SeenEvents(st.seen)
        regime = st.regime.get(REGIME_KEY)
        if regime is None:
            regime = RegimeState()
            st.regime.put(REGIME_KEY, regime)
        self._regime = regime
        meta = st.meta.get(META_KEY)
        if meta is None:
            meta = MetaState()
            st.meta.put(META_KEY, meta)
        self._meta = meta
        self._cooc_decay = math.log(2.0) / self.config.cooc_half_life_ms
        self._rate_decay = math.log(2.0) / self.config.wallet_rate_half_life_ms
        self._cooc_window_ms = self.config.cooc_window_ms
        self._cooc_recent_max = self.config.cooc_recent_max
        self._cooc_max_partners = 2 * self.config.cooc_top_k
        self._holder_min = self.config.holder_min_tokens
        self._smart_min_resolved = self.config.smart_min_resolved
        self._smart_min_win_rate = self.config.smart_min_win_rate
        self._prune_min = self.config.prune_min
        self._features = FeatureContext(
            tokens=st.tokens,
            wallets=st.wallets,
            cooc=st.cooc,
            regime=regime,
            cooc_decay=self._cooc_decay,
            rate_decay=self._rate_decay,
            cooc_min_weight=self.config.cooc_min_weight,
            smart_min_resolved=self.config.smart_min_resolved,
            smart_min_win_rate=self.config.smart_min_win_rate,
        )
        self._out = EngineOutput()
        # hot path: bound store methods (the in-memory backend's dict get, its dirty-marking put)
        self._get_token = _fast_get(st.tokens)
        self._get_wallet = _fast_get(st.wallets)
        self._get_cooc = _fast_get(st.cooc)
        self._get_creator = _fast_get(st.creators)
        self._get_seen = _fast_get(st.seen)
        self._put_token = st.tokens.put
        self._put_wallet = st.wallets.put
        self._put_cooc = st.cooc.put
        self._put_pending = st.pending.put
        self._touch_regime = _fast_touch(st.regime)
        self._touch_meta = _fast_touch(st.meta)
        self._touch_token = _fast_touch(st.tokens)
        self._touch_wallet = _fast_touch(st.wallets)
        self._touch_cooc = _fast_touch(st.cooc)
        self._touch_pending = _fast_touch(st.pending)
        self._upgrade_legacy_cooc()
        self._rebuild_queues()

    def _upgrade_legacy_cooc(self) -> None:
        """Co-buyer tables restored from the format before reference times: rescale them once."""
        if not self.state.legacy_cooc:
            return  # e.g. a RocksDB state: every table was written by this code
        for address, table in self._cooc.items():
            if table.upgrade_legacy(self._cooc_decay):
                self._cooc.put(address, table)

    # ---- queues of due items (rebuilt from the stores on restore) -------------------------

    def _rebuild_queues(self) -> None:
        self._q_gen: deque[tuple[int, str]] = deque()
        self._q_fate: deque[tuple[int, str]] = deque()
        self._q_1h: deque[PendingSignal] = deque()
        self._q_24h: deque[PendingSignal] = deque()
        gens, fates = [], []
        for mint, tok in self._tokens.items():
            if tok.gen_pending and tok.t0 is not None:
                gens.append((tok.t0 + GENESIS_DELAY_MS, mint))
            if tok.fate_pending and tok.t0 is not None:
                fates.append((tok.t0 + self.config.fate_horizon_ms, mint))
        self._q_gen.extend(sorted(gens))
        self._q_fate.extend(sorted(fates))
        for _, sig in sorted((s.seq, s) for _, s in self._pending.items()):
            (self._q_1h if sig.stage == 0 else self._q_24h).append(sig)
        self._recompute_next_due()

    def _recompute_next_due(self) -> None:
        nxt = _FAR
        if self._q_gen:
            nxt = min(nxt, self._q_gen[0][0])
        if self._q_1h:
            nxt = min(nxt, self._q_1h[0].ts + STAGE_1H_MS)
        if self._q_24h:
            nxt = min(nxt, self._q_24h[0].ts + STAGE_24H_MS)
        if self._q_fate:
            nxt = min(nxt, self._q_fate[0][0])
        meta = self._meta
        if meta.next_sweep is not None:
            nxt = min(nxt, meta.next_sweep)
        if meta.next_wallet_sweep is not None:
            nxt = min(nxt, meta.next_wallet_sweep)
        self._next_due = nxt

    def _drain(self, until: int) -> None:
        """Process every due item with due < until, in (due, kind) order."""
        meta = self._meta
        while self._next_due < until:
            # kind order at equal due: genesis signal, outcome 1h, outcome 24h, fate, sweeps
            best_due, best_kind = _FAR, -1
            if self._q_gen and self._q_gen[0][0] < best_due:
                best_due, best_kind = self._q_gen[0][0], 0
            if self._q_1h and self._q_1h[0].ts + STAGE_1H_MS < best_due:
                best_due, best_kind = self._q_1h[0].ts + STAGE_1H_MS, 1
            if self._q_24h and self._q_24h[0].ts + STAGE_24H_MS < best_due:
                best_due, best_kind = self._q_24h[0].ts + STAGE_24H_MS, 2
            if self._q_fate and self._q_fate[0][0] < best_due:
                best_due, best_kind = self._q_fate[0][0], 3
            if meta.next_sweep is not None and meta.next_sweep < best_due:
                best_due, best_kind = meta.next_sweep, 4
            if meta.next_wallet_sweep is not None and meta.next_wallet_sweep < best_due:
                best_due, best_kind = meta.next_wallet_sweep, 5
            if best_kind == 0:
                self._emit_genesis(*self._q_gen.popleft())
            elif best_kind == 1:
                self._resolve(self._q_1h.popleft(), 0)
            elif best_kind == 2:
                self._resolve(self._q_24h.popleft(), 1)
            elif best_kind == 3:
                self._resolve_fate(*self._q_fate.popleft())
            elif best_kind == 4:
                self._sweep_tokens(best_due)
            elif best_kind == 5:
                self._sweep_wallets(best_due)
            self._recompute_next_due()

    # ---- public API -----------------------------------------------------------------------

    @property
    def watermark(self) -> int:
        return self._meta.watermark

    def process(self, event: InputEvent, owned: bool = True) -> EngineOutput:
        """Apply one event; returns the signals and outcomes it made final."""
        self._out = out = EngineOutput()
        self._apply(event, owned)
        self._touch_meta(META_KEY)
        self._touch_regime(REGIME_KEY)
        return out

    def _apply(self, event: InputEvent, owned: bool) -> None:
        """One event into ``self._out``; the caller marks meta and regime as changed."""
        if self._get_seen(event.event_id) is not None:
            self.stats.duplicate_events += 1
            self._out.duplicates += 1
            return
        meta = self._meta
        ts = event.ts
        self.stats.events += 1
        if ts < meta.watermark:
            self.stats.late_events += 1
            ts = meta.watermark
        elif ts > meta.watermark:
            if ts > self._next_due:
                self._drain(ts)
            meta.watermark = ts
            if meta.next_sweep is None:
                meta.next_sweep = ts + self.config.sweep_interval_ms
                meta.next_wallet_sweep = ts + self.config.wallet_sweep_interval_ms
                self._recompute_next_due()
        self._seen.remember(event.event_id, ts)
        if type(event) is Buy:
            self._on_trade(event, ts, True, owned)
        elif type(event) is Sell:
            self._on_trade(event, ts, False, owned)
        elif type(event) is Genesis:
            self._on_genesis(event, ts, owned)
        elif type(event) is TokenMigrated:
            self._on_migrated(event, ts)
        else:
            raise TypeError(f"not an input event: {type(event).__name__}")

    def advance_to(self, ts: int) -> EngineOutput:
        """Move the watermark to ``ts`` with no event: everything due before ``ts`` becomes final."""
        self._out = out = EngineOutput()
        meta = self._meta
        if ts > meta.watermark:
            self._drain(ts)
            meta.watermark = ts
            self.state.meta.put(META_KEY, meta)
        return out

    def flush(self) -> EngineOutput:
        """End of data: finalize everything due at or before the last event time."""
        return self.advance_to(self._meta.watermark + 1)

    def process_many(self, events: Iterable[InputEvent], owned: bool = True) -> EngineOutput:
        """Same outputs as ``process`` per event, concatenated; state marked changed once."""
        self._out = total = EngineOutput()
        apply = self._apply
        try:
            for event in events:
                apply(event, owned)
        finally:
            self._touch_meta(META_KEY)
            self._touch_regime(REGIME_KEY)
        return total

    # ---- events ---------------------------------------------------------------------------

    def _on_genesis(self, ev: Genesis, ts: int, owned: bool) -> None:
        tok = self._tokens.get(ev.mint)
        if tok is not None and tok.has_genesis:
            self.stats.duplicate_genesis += 1
            return
        if tok is None:
            tok = TokenState(ev.mint)
        tok.has_genesis = True
        tok.owned = owned
        tok.creator = ev.creator
        tok.t0 = ts
        tok.genesis_event_id = ev.event_id
        tok.genesis_slot = ev.slot
        tok.launch_price = ev.virtual_sol_reserves / ev.virtual_token_reserves
        tok.name = ev.name
        tok.symbol = ev.symbol
        tok.initial_vsol = ev.virtual_sol_reserves
        if tok.last_price is None:
            tok.real_tokens = ev.real_token_reserves
        tok.gen_pending = True
        tok.fate_pending = True
        self._tokens.put(ev.mint, tok)
        creator = self._creators.get(ev.creator) or CreatorState()
        creator.n_tokens += 1
        tok.cre_prev_launch_ts = creator.last_launch_ts
        creator.last_launch_ts = ts
        self._creators.put(ev.creator, creator)
        wallet = self._wallet(ev.creator, ts)
        wallet.n_created += 1
        self._wallets.put(ev.creator, wallet)
        regime = self._regime
        regime.launches.append(ts)
        self._touch_regime(REGIME_KEY)
        gen_due = ts + GENESIS_DELAY_MS
        fate_due = ts + self.config.fate_horizon_ms
        self._q_gen.append((gen_due, ev.mint))
        self._q_fate.append((fate_due, ev.mint))
        self._next_due = min(self._next_due, gen_due, fate_due)

    def _on_migrated(self, ev: TokenMigrated, ts: int) -> None:
        """Graduation from the feed's own event; a trade that emptied the curve or traded on
        the AMM may have marked it first (feeds without this event), so it counts once."""
        tok = self._get_token(ev.mint)
        if tok is None:
            self.stats.migrations_without_token += 1
            return
        self.stats.migrations += 1
        self._touch_token(ev.mint)
        tok.real_tokens = 0.0  # the curve is empty: its tokens went to the pool
        if not tok.graduated:
            tok.graduated = True
            self._regime.grads.append(ts)

    def _wallet(self, address: str, ts: int) -> WalletState:
        wallet = self._get_wallet(address)
        if wallet is None:
            wallet = WalletState(ts)
        wallet.last_seen_ts = ts
        return wallet

    def _on_trade(self, ev: Buy | Sell, ts: int, is_buy: bool, owned: bool) -> None:
        # hot path: config and store methods are pre-bound on self, the buy signal is inlined
        mint = ev.mint
        tok = self._get_token(mint)
        new_token = tok is None
        if tok is None:
            tok = TokenState(mint)
            self.stats.trades_without_genesis += 1
        else:
            self._touch_token(mint)
        price = ev.virtual_sol_reserves / ev.virtual_token_reserves
        last_price = tok.last_price
        prev_price = last_price if last_price is not None else tok.launch_price
        sol = ev.sol_amount
        p_ts = tok.p_ts
        base = tok.base
        idx = base + len(p_ts)  # this trade's path index
        w60, w5m = tok.w60, tok.w5m
        if (w60 < idx and p_ts[w60 - base] <= ts - MINUTE_MS) or (
            w5m < idx and p_ts[w5m - base] <= ts - _FIVE_MIN_MS
        ):  # a trade leaves a window (else sliding is a no-op: its sums are already exact)
            _advance_windows(tok, ts)
        p_ts.append(ts)
        tok.p_px.append(price)
        tok.p_sol.append(sol if is_buy else -sol)
        if tok.first_price is None:
            tok.first_price = price
        if price > tok.max_price:
            tok.max_price = price
        tok.last_price = price
        prev_trade_ts = tok.last_trade_ts
        tok.last_trade_ts = ts
        real_tokens = ev.real_token_reserves
        tok.real_tokens = real_tokens
        regime = self._regime
        if not tok.graduated and (ev.venue == "amm" or real_tokens <= 0.0):
            tok.graduated = True
            regime.grads.append(ts)
        address = ev.wallet
        wallet = self._get_wallet(address)
        token_wallets = tok.wallets
        entry = token_wallets.get(address)
        first_in_token = entry is None or entry[0] == 0
        if entry is None:
            # [n_buys, net token balance, buy SOL, 1 if the wallet was first seen in this trade]
            entry = [0, 0.0, 0.0, 1.0 if wallet is None else 0.0]  # shared float constants
            token_wallets[address] = entry
        if wallet is None:
            wallet = WalletState(ts)
            self._put_wallet(address, wallet)
        else:
            self._touch_wallet(address)
        wallet.last_seen_ts = ts
        prev_buys = int(entry[0])
        holder_min = self._holder_min
        was_holder = entry[1] > holder_min
        creator_address = tok.creator
        is_creator = address == creator_address  # never true while the creator is unknown
        if is_buy:
            tok.n_buys += 1
            tok.buy_sol_total += sol
            if sol > tok.max_buy_sol:
                tok.max_buy_sol = sol
            tok.w60_n += 1
            tok.w60_sol += sol
            tok.w5m_n += 1
            tok.w5m_sol += sol
            if first_in_token:
                tok.n_buyers += 1
            entry[0] += 1
            entry[1] += ev.token_amount
            entry[2] += sol
            if is_creator:
                tok.creator_buy_sol += sol
            slot0 = tok.genesis_slot
            slot = ev.slot
            if slot0 is not None and slot is not None:
                if slot <= slot0 + 1 and not is_creator:
                    tok.sniper_buys += 1
                if slot == slot0 and address not in tok.bundle_wallets:
                    tok.bundle_wallets.append(address)
        else:
            tok.n_sells += 1
            tok.sell_sol_total += sol
            tok.w5m_sell += sol
            entry[1] -= ev.token_amount
            if is_creator:
                tok.creator_sold = 1
        is_holder = entry[1] > holder_min
        if is_holder is not was_holder:
            tok.holders += 1 if is_holder else -1
        if tok.gen_pending:
            tok.early.append([ts, address, sol, int(is_buy), price, ev.slot])
        if not is_buy:
            wallet.n_sells += 1
        else:
            buys = regime.buys
            if buys and buys[0][0] <= ts - MINUTE_MS:
                _evict_regime_buys(regime, ts)
            buys.append([ts, sol])
            regime.buys_n += 1
            regime.buys_sol += sol
            event_id = ev.event_id
            if owned:
                creator = (
                    self._get_creator(creator_address) if creator_address is not None else None
                )
                row = standard_features(
                    self._features, ev, ts, tok, wallet, creator, self._get_cooc(address), price,
                    prev_price, prev_trade_ts, prev_buys, first_in_token,
                )  # fmt: skip
                self._out.signals.append(
                    SignalRow("buy", event_id, ts, mint, address, creator_address, price, row)
                )
                self.stats.signals += 1
            # the wallet's own buy counts only after its signal (features exclude it)
            wallet.rate = wallet.rate * _exp(-(ts - wallet.rate_ts) * self._rate_decay) + 1.0
            wallet.rate_ts = ts
            wallet.n_buys += 1
            wallet.sol_spent += sol
            wallet.last_buy_ts = ts
            t0 = tok.t0
            if t0 is not None:
                wallet.entry_age_sum += (ts - t0) / 1000.0
                wallet.entry_age_n += 1
            if first_in_token:
                wallet.n_tokens += 1
                self._update_cooc(tok, address, ts)
                n_resolved = wallet.n_resolved
                if (
                    n_resolved >= self._smart_min_resolved
                    and wallet.wins_2x >= self._smart_min_win_rate * n_resolved
                ):
                    tok.smart_buyers += 1
            meta = self._meta
            meta.seq = seq = meta.seq + 1
            sig = PendingSignal(
                seq, event_id, "buy", mint, address, creator_address, ts, price, idx, owned
            )
            if tok.out_r is None:
                outcomes.open_signal(tok, idx)
            else:
                tok.open_signals.append(idx)
            self._put_pending(event_id, sig)
            self._q_1h.append(sig)
            due = ts + STAGE_1H_MS
            if due < self._next_due:
                self._next_due = due
        if idx - base >= self._prune_min:  # prune_path drops nothing from shorter paths
            outcomes.prune_path(tok, self._prune_min)
        if new_token:  # stored only now: its own signal does not count it as an active token
            self._put_token(mint, tok)

    def _next_seq(self) -> int:
        self._meta.seq += 1
        return self._meta.seq

    def _open_signal(self, tok: TokenState, sig: PendingSignal) -> None:
        outcomes.open_signal(tok, sig.idx)
        self._put_pending(sig.event_id, sig)
        self._q_1h.append(sig)
        due = sig.ts + STAGE_1H_MS
        if due < self._next_due:
            self._next_due = due

    def _update_cooc(self, tok: TokenState, address: str, ts: int) -> None:
        """Pair a first buyer of ``tok`` with the token's recent first buyers (both directions)."""
        recent = tok.recent_first
        if recent:
            horizon = ts - self._cooc_window_ms
            if recent[0][0] <= horizon:
                stale, n = 1, len(recent)
                while stale < n and recent[stale][0] <= horizon:
                    stale += 1
                del recent[:stale]
        if recent:
            get, put, touch = self._get_cooc, self._put_cooc, self._touch_cooc
            decay = self._cooc_decay
            max_partners = self._cooc_max_partners
            day_ref = ts - ts % COOC_REF_STEP_MS
            mine = get(address)
            if mine is None:
                mine = CoocState(day_ref)
                put(address, mine)
            else:
                touch(address)
                if ts - mine.ref_ts > COOC_REBASE_MS:
                    _rebase_cooc(mine, day_ref, decay)
            mine_ref = mine.ref_ts
            mine_add = _exp((ts - mine_ref) * decay)  # a co-buy at ts, as weight at ref_ts
            mine_parts = mine.partners
            for _, other in recent:
                if other == address:
                    continue
                theirs = get(other)
                if theirs is None:
                    theirs = CoocState(day_ref)
                    put(other, theirs)
                else:
                    touch(other)
                    if ts - theirs.ref_ts > COOC_REBASE_MS:
                        _rebase_cooc(theirs, day_ref, decay)
                old = mine_parts.get(other)
                if old is None:
                    mine_parts[other] = mine_add
                    if len(mine_parts) > max_partners:
                        self._shrink(mine)
                else:
                    mine_parts[other] = old + mine_add
                ref = theirs.ref_ts
                add = mine_add if ref == mine_ref else _exp((ts - ref) * decay)
                parts = theirs.partners
                old = parts.get(address)
                if old is None:
                    parts[address] = add
                    if len(parts) > max_partners:
                        self._shrink(theirs)
                else:
                    parts[address] = old + add
                theirs.last_ts = ts
            mine.last_ts = ts
        recent.append([ts, address])
        if len(recent) > self._cooc_recent_max:
            del recent[0]

    def _shrink(self, table: CoocState) -> None:
        """Keep the top-K partners by decayed weight (stable: older partners win ties). One
        reference time per table, so the stored weights rank like the decayed ones.

        Tables grow to 2K and are cut back to K, so the O(K log K) cut is amortised over K inserts.
        Cut in place: callers hold the partners dict.
        """
        parts = table.partners
        ranked = sorted(parts.items(), key=_minus_weight)[: self.config.cooc_top_k]
        parts.clear()
        parts.update(ranked)

    # ---- due items --------------------------------------------------------------------------

    def _emit_genesis(self, due: int, mint: str) -> None:
        tok = self._tokens.get(mint)
        if tok is None or not tok.gen_pending or tok.t0 is None:
            return
        _advance_windows(tok, due)
        price = tok.last_price if tok.last_price is not None else tok.launch_price
        assert price is not None and tok.genesis_event_id is not None
        event_id = f"{tok.genesis_event_id}:g60"
        if tok.owned:
            creator = self._get_creator(tok.creator) if tok.creator is not None else None
            values = genesis_features(self._features, tok, due, creator, price)
            row = np.array(_take_genesis(values), dtype=np.float64)
            self._out.signals.append(
                SignalRow("genesis", event_id, due, mint, None, tok.creator, price, row)
            )
            self.stats.signals += 1
        tok.gen_pending = False
        tok.early = []
        idx = tok.base + len(tok.p_ts) - 1
        sig = PendingSignal(
            self._next_seq(),
            event_id,
            "genesis",
            mint,
            None,
            tok.creator,
            due,
            price,
            idx,
            tok.owned,
        )
        self._open_signal(tok, sig)
        self._tokens.put(mint, tok)

    def _resolve(self, sig: PendingSignal, stage: int) -> None:
        tok = self._get_token(sig.mint)
        assert tok is not None, "tokens with pending signals are never evicted"
        outcomes.resolve_stage(tok, sig, stage)
        due = sig.ts + (STAGE_1H_MS if stage == 0 else STAGE_24H_MS)
        if stage == 0:
            sig.stage = 1
            self._touch_pending(sig.event_id)
            self._q_24h.append(sig)
            if sig.kind == "buy" and sig.wallet is not None:
                self._feed_wallet(sig, due)
        else:
            self._pending.delete(sig.event_id)
        self._touch_token(sig.mint)
        if sig.owned:
            self._out.outcomes.append(_outcome_event(sig, due, stage))
            self.stats.outcomes += 1

    def _feed_wallet(self, sig: PendingSignal, due: int) -> None:
        labels = sig.labels
        wallet = self._get_wallet(sig.wallet) if sig.wallet is not None else None
        if wallet is not None and sig.wallet is not None:
            wallet.n_resolved += 1
            wallet.wins_2x += int(labels["reach_2x_1h"])
            wallet.wins_3x += int(labels["reach_3x_30m"])
            wallet.n_dead += int(labels["is_dead_soon"])
            assert sig.peaks is not None  # filled at the 1h stage
            peak = sig.peaks[outcomes.H_1H]
            wallet.sum_log_peak += math.log(peak) if peak else 0.0
            self._touch_wallet(sig.wallet)
        regime = self._regime
        regime.resolved.append([due, int(labels["reach_2x_1h"]), int(labels["is_dead_soon"])])
        regime.res_hit += int(labels["reach_2x_1h"])
        regime.res_dead += int(labels["is_dead_soon"])
        self._touch_regime(REGIME_KEY)

    def _resolve_fate(self, due: int, mint: str) -> None:
        tok = self._tokens.get(mint)
        if tok is None or not tok.fate_pending or tok.creator is None:
            return
        launch = tok.launch_price or 0.0
        last = tok.last_price if tok.last_price is not None else launch
        top = max(tok.max_price, launch)
        tok.fate_grad = int(tok.graduated)
        tok.fate_rug = int(not tok.graduated and bool(tok.creator_sold) and last <= 0.5 * top)
        tok.fate_peak = top / launch if launch > 0 else 1.0
        tok.fate_pending = False
        self._tokens.put(mint, tok)
        creator = self._creators.get(tok.creator) or CreatorState()
        creator.n_resolved += 1
        creator.n_rug += tok.fate_rug
        creator.n_grad += tok.fate_grad
        creator.sum_peak += tok.fate_peak
        self._creators.put(tok.creator, creator)

    def _sweep_tokens(self, due: int) -> None:
        """Evict tokens idle for ``token_idle_ms`` with nothing pending (bounded memory)."""
        cutoff = due - self.config.token_idle_ms
        for mint, tok in self._tokens.items():
            if tok.gen_pending or tok.fate_pending or tok.open_signals:
                continue
            last = tok.last_trade_ts if tok.last_trade_ts is not None else (tok.t0 or 0)
            if last < cutoff:
                self._tokens.delete(mint)
                self.stats.evicted_tokens += 1
        self.stats.forgotten_ids += self._seen.forget_before(due - self.config.dedup_window_ms)
        self._meta.next_sweep = due + self.config.sweep_interval_ms

    def _sweep_wallets(self, due: int) -> None:
        cutoff = due - self.config.wallet_idle_ms
        for address, wallet in self._wallets.items():
            if wallet.last_seen_ts < cutoff:
                self._wallets.delete(address)
                self._cooc.delete(address)
                self.stats.evicted_wallets += 1
        self._meta.next_wallet_sweep = due + self.config.wallet_sweep_interval_ms


def _minus_weight(item: tuple[str, float]) -> float:
    return -item[1]


def _rebase_cooc(table: CoocState, ref_ts: int, decay: float) -> None:
    """Move the table's reference time forward to ``ref_ts`` (weights rescaled, order kept)."""
    factor = _exp(-(ref_ts - table.ref_ts) * decay)
    parts = table.partners
    for partner in parts:
        parts[partner] *= factor
    table.ref_ts = ref_ts


def _advance_windows(tok: TokenState, ts: int) -> None:
    """Slide the token's 60 s and 5 min windows to end at ``ts``: keep trades with ts > ts - w."""
    base = tok.base
    p_ts, p_sol = tok.p_ts, tok.p_sol
    end = base + len(p_ts)
    cut = ts - MINUTE_MS
    i = tok.w60
    while i < end and p_ts[i - base] <= cut:
        s = p_sol[i - base]
        if s > 0:
            tok.w60_n -= 1
            tok.w60_sol -= s
        i += 1
    if tok.w60_n == 0:
        tok.w60_sol = 0.0
    tok.w60 = i
    cut = ts - 5 * MINUTE_MS
    i = tok.w5m
    while i < end and p_ts[i - base] <= cut:
        s = p_sol[i - base]
        if s > 0:
            tok.w5m_n -= 1
            tok.w5m_sol -= s
        else:
            tok.w5m_sell += s
        i += 1
    if tok.w5m_n == 0:
        tok.w5m_sol = 0.0
    if i == end:
        tok.w5m_sell = 0.0
    tok.w5m = i


def _outcome_event(sig: PendingSignal, due: int, stage: int) -> Outcome:
    p = sig.peaks
    assert p is not None, "outcomes are made after resolve_stage"
    final = stage == 1
    return Outcome(
        schema_version=SCHEMA_VERSION,
        type="outcome",
        event_id=f"{sig.event_id}:{'o24h' if final else 'o1h'}",
        ts=due,
        mint=sig.mint,
        signal_event_id=sig.event_id,
        kind=sig.kind,
        wallet=sig.wallet,
        creator=sig.creator,
        signal_ts=sig.ts,
        stage="24h" if final else "1h",
        price=sig.price,
        peak_10m=p[0],
        peak_30m=p[1],
        peak_1h=p[2],
        peak_4h=p[3] if final else None,
        peak_24h=p[4] if final else None,
        min_1h=sig.min_1h,
        labels=dict(sig.labels),
    )
