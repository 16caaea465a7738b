"""Feature formulas for one signal.

Buy signals are the hot path: ``standard_features`` writes the values straight into a list in
registry order (one ``np.array`` per row, no dict per buy); the ``_*_NAMES`` tuples next to each
block say which value is which and are checked against the registry at import. Genesis signals
(one per token) return ``{feature name: value}`` and the engine orders them by the registry, so a
missing or extra name fails loudly. Any change of a value is caught by the golden test
(``tests/unit/test_features_golden.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from streams.contracts.features import STANDARD_NAMES
from streams.features.context import FeatureContext
from streams.features.curve import INITIAL_REAL_TOKENS, TOTAL_SUPPLY, curve_progress
from streams.features.state import (
    CoocState,
    CreatorState,
    RegimeState,
    TokenState,
    WalletState,
    evict_regime,
)

if TYPE_CHECKING:
    from streams.contracts.events import Buy, Sell

NAN = float("nan")
Trade = list[Any]  # [ts, wallet, sol, is_buy, price, slot]
_DAY_MS = 86_400_000
_exp = math.exp


_CREATOR_NAMES = (
    "cre_n_tokens", "cre_n_resolved", "cre_rug_rate", "cre_grad_rate", "cre_mean_peak_mult",
    "cre_secs_since_prev_launch",
)  # fmt: skip
_NO_CREATOR = (NAN,) * len(_CREATOR_NAMES)


def _creator_values(tok: TokenState, creator: CreatorState | None) -> tuple[float, ...]:
    """cre_* features over the creator's *other* tokens (this token's own fate is removed)."""
    if creator is None or tok.t0 is None:
        return _NO_CREATOR
    own_resolved = 0 if tok.fate_pending else 1
    n_res = creator.n_resolved - own_resolved
    prev = tok.cre_prev_launch_ts
    if n_res > 0:
        n_rug = creator.n_rug - own_resolved * tok.fate_rug
        n_grad = creator.n_grad - own_resolved * tok.fate_grad
        sum_peak = creator.sum_peak - own_resolved * tok.fate_peak
        rates = (n_rug / n_res, n_grad / n_res, sum_peak / n_res)
    else:
        rates = (NAN, NAN, NAN)
    return (
        float(creator.n_tokens - 1),
        float(n_res),
        *rates,
        (tok.t0 - prev) / 1000.0 if prev is not None else NAN,
    )


def _creator_block(tok: TokenState, creator: CreatorState | None, ts: int) -> dict[str, float]:
    return dict(zip(_CREATOR_NAMES, _creator_values(tok, creator), strict=True))


_REGIME_NAMES = (
    "reg_hit_rate_2x_1h", "reg_dead_rate_1h", "reg_n_resolved_1h", "reg_buys_60s",
    "reg_sol_volume_60s", "reg_launches_10m", "reg_active_tokens",
)  # fmt: skip


def _regime_values(ctx: FeatureContext, regime: RegimeState, ts: int) -> tuple[float, ...]:
    evict_regime(regime, ts)
    n_res = len(regime.resolved)
    return (
        regime.res_hit / n_res if n_res else NAN,
        regime.res_dead / n_res if n_res else NAN,
        float(n_res),
        float(regime.buys_n),
        regime.buys_sol,
        float(len(regime.launches)),
        float(len(ctx.tokens)),
    )


def _regime_block(ctx: FeatureContext, regime: RegimeState, ts: int) -> dict[str, float]:
    return dict(zip(_REGIME_NAMES, _regime_values(ctx, regime, ts), strict=True))


_COOC_NAMES = (
    "cooc_n_partners", "cooc_cobuyers_in_token", "cooc_weight_in_token", "cooc_max_partner_weight",
)  # fmt: skip


def _cooc_values(
    ctx: FeatureContext, tok: TokenState, cooc: CoocState | None, ts: int
) -> tuple[float, float, float, float]:
    if cooc is None:
        return (0.0, 0.0, 0.0, 0.0)
    weights = cooc.partners
    if not weights:
        return (0.0, 0.0, 0.0, 0.0)
    min_weight = ctx.cooc_min_weight
    scale = _exp(-(ts - cooc.ref_ts) * ctx.cooc_decay)  # one reference time per table
    n_partners = in_token = 0
    weight_in = top = 0.0
    buyers = tok.wallets
    for partner, weight in weights.items():
        w = weight * scale
        if w > top:
            top = w
        if w >= min_weight:
            n_partners += 1
        if partner in buyers and buyers[partner][0] > 0:
            weight_in += w
            if w >= min_weight:
                in_token += 1
    return (float(n_partners), float(in_token), weight_in, top)


_MAIN_NAMES = (
    "buy_sol", "buy_token_share", "buy_price_impact", "buy_sol_vs_tok_mean", "buy_is_amm",
    "buy_is_creator", "buy_is_first_in_token", "buy_hour_utc", "buy_slots_since_creation",
    "tok_age_s", "tok_n_buys", "tok_n_sells", "tok_n_unique_buyers", "tok_n_holders",
    "tok_buys_60s", "tok_sol_volume_60s", "tok_buys_5m", "tok_sol_volume_5m",
    "tok_sell_buy_ratio_5m", "tok_sol_volume_total", "tok_sell_sol_total", "tok_max_buy_sol",
    "tok_price_mult_from_first", "tok_price_mult_from_launch", "tok_price_mult_from_max",
    "tok_price_change_60s", "tok_price_change_5m", "tok_curve_progress", "tok_is_graduated",
    "tok_secs_since_prev_trade", "tok_creator_buy_sol", "tok_creator_sold", "tok_sniper_buys",
    "tok_bundle_size", "tok_wallet_prev_buys", "tok_smart_buyers",
    "wal_n_buys", "wal_n_sells", "wal_n_tokens", "wal_sol_spent", "wal_mean_buy_sol",
    "wal_age_s", "wal_secs_since_last_buy", "wal_buy_rate_1h", "wal_n_resolved",
    "wal_win_rate_2x_1h", "wal_win_rate_3x_30m", "wal_dead_rate", "wal_mean_log_peak_1h",
    "wal_n_created", "wal_mean_entry_age_s",
)  # fmt: skip
# the row is main values, then the creator, co-buyer and regime blocks, in registry order
if (*_MAIN_NAMES, *_CREATOR_NAMES, *_COOC_NAMES, *_REGIME_NAMES) != STANDARD_NAMES:
    raise ImportError("standard_features is out of step with the registry's STANDARD_NAMES")


def standard_features(
    ctx: FeatureContext, ev: Buy | Sell, ts: int, tok: TokenState, wallet: WalletState,
    creator: CreatorState | None, cooc: CoocState | None, price: float, prev_price: float | None,
    prev_trade_ts: int | None, prev_buys: int, first_in_token: bool,
) -> np.ndarray:  # fmt: skip
    """Features of one buy at ``ts`` (registry order): token state includes this buy, wallet state
    excludes it."""
    sol = ev.sol_amount
    t0 = tok.t0
    earlier_buys = tok.n_buys - 1
    n_res = wallet.n_resolved
    has_creator = tok.creator is not None
    slot0 = tok.genesis_slot
    has_slot0 = slot0 is not None
    w5m_sol = tok.w5m_sol
    first_price = tok.first_price or 0.0
    launch_price = tok.launch_price or 0.0
    max_price = tok.max_price
    # prices at ts - 60 s / ts - 5 min: the trade before the window,
    # else the launch price when the window starts at the first trade and t0 is before the cut
    base, w60, w5m = tok.base, tok.w60, tok.w5m
    launch = tok.launch_price
    p60 = p5m = NAN
    if w60 > base:
        p60 = tok.p_px[w60 - 1 - base]
    elif w60 == 0 and launch is not None and t0 is not None and t0 <= ts - 60_000:
        p60 = launch
    if w5m > base:
        p5m = tok.p_px[w5m - 1 - base]
    elif w5m == 0 and launch is not None and t0 is not None and t0 <= ts - 300_000:
        p5m = launch
    last_buy_ts = wallet.last_buy_ts
    n_buys = wallet.n_buys
    entry_age_n = wallet.entry_age_n
    if tok.graduated:
        progress = 1.0
    else:  # curve_progress, inlined
        progress = 1.0 - tok.real_tokens / INITIAL_REAL_TOKENS
        progress = 0.0 if progress < 0.0 else (1.0 if progress > 1.0 else progress)
    if earlier_buys:
        mean_before = (tok.buy_sol_total - sol) / earlier_buys
        vs_mean = sol / mean_before if mean_before else NAN
    else:
        vs_mean = NAN
    if n_res:
        wallet_history = (
            wallet.wins_2x / n_res, wallet.wins_3x / n_res, wallet.n_dead / n_res,
            wallet.sum_log_peak / n_res,
        )  # fmt: skip
    else:
        wallet_history = (NAN, NAN, NAN, NAN)
    row = [
        sol,
        ev.token_amount / TOTAL_SUPPLY,
        price / prev_price - 1.0 if prev_price else NAN,
        vs_mean,
        1.0 if ev.venue == "amm" else 0.0,
        float(ev.wallet == tok.creator) if has_creator else NAN,
        float(first_in_token),
        float((ts % _DAY_MS) // 3_600_000),
        float(ev.slot - slot0) if ev.slot is not None and slot0 is not None else NAN,
        (ts - t0) / 1000.0 if t0 is not None else NAN,
        float(tok.n_buys),
        float(tok.n_sells),
        float(tok.n_buyers),
        float(tok.holders),
        float(tok.w60_n),
        tok.w60_sol,
        float(tok.w5m_n),
        w5m_sol,
        tok.w5m_sell / w5m_sol if w5m_sol > 0 else NAN,
        tok.buy_sol_total,
        tok.sell_sol_total,
        tok.max_buy_sol,
        price / first_price if first_price else NAN,
        price / launch_price if launch_price else NAN,
        price / max_price if max_price else NAN,
        price / p60 if p60 else NAN,
        price / p5m if p5m else NAN,
        progress,
        float(tok.graduated),
        (ts - prev_trade_ts) / 1000.0 if prev_trade_ts is not None else NAN,
        tok.creator_buy_sol if has_creator else NAN,
        float(tok.creator_sold) if has_creator else NAN,
        float(tok.sniper_buys) if has_slot0 else NAN,
        float(len(tok.bundle_wallets)) if has_slot0 else NAN,
        float(prev_buys),
        float(tok.smart_buyers),
        float(n_buys),
        float(wallet.n_sells),
        float(wallet.n_tokens),
        wallet.sol_spent,
        wallet.sol_spent / n_buys if n_buys else NAN,
        (ts - wallet.first_ts) / 1000.0,
        (ts - last_buy_ts) / 1000.0 if last_buy_ts is not None else NAN,
        wallet.rate * _exp(-(ts - wallet.rate_ts) * ctx.rate_decay),
        float(n_res),
        *wallet_history,
        float(wallet.n_created),
        wallet.entry_age_sum / entry_age_n if entry_age_n else NAN,
        *_creator_values(tok, creator),
        *_cooc_values(ctx, tok, cooc, ts),
        *_regime_values(ctx, ctx.regime, ts),
    ]
    return np.array(row, dtype=np.float64)


def genesis_features(
    ctx: FeatureContext, tok: TokenState, ts: int, creator: CreatorState | None, price: float
) -> dict[str, float]:
    """Features of the genesis signal at ``ts`` = t0 + 60 s, from the token's first-minute trades."""
    assert tok.t0 is not None and tok.launch_price is not None
    t0 = tok.t0
    launch = tok.launch_price
    early = tok.early
    buys = [t for t in early if t[3]]
    sells = [t for t in early if not t[3]]
    buy_sols = sorted(t[2] for t in buys)
    sol_volume = sum(t[2] for t in buys)  # in event order (deterministic float sum)
    sell_sol = sum(t[2] for t in sells)
    per_buyer: dict[str, list[float]] = {}
    for t in buys:
        acc = per_buyer.setdefault(t[1], [0.0, 0.0])
        acc[0] += 1
        acc[1] += t[2]
    n_buys = len(buys)
    values: dict[str, float] = {
        "gen_n_buys": float(n_buys),
        "gen_n_sells": float(len(sells)),
        "gen_n_unique_buyers": float(len(per_buyer)),
        "gen_n_unique_sellers": float(len({t[1] for t in sells})),
        "gen_n_holders": float(tok.holders),
        "gen_repeat_buyers": float(sum(1 for acc in per_buyer.values() if acc[0] >= 2)),
        "gen_sol_volume": sol_volume,
        "gen_sell_sol": sell_sol,
        "gen_net_sol_flow": sol_volume - sell_sol,
        "gen_sell_buy_ratio": sell_sol / sol_volume if n_buys else NAN,
        "gen_max_buy_sol": buy_sols[-1] if n_buys else NAN,
        "gen_mean_buy_sol": sol_volume / n_buys if n_buys else NAN,
        "gen_median_buy_sol": _median(buy_sols),
        "gen_small_buys_share": sum(1 for s in buy_sols if s < 0.1) / n_buys if n_buys else NAN,
        "gen_top_buyer_share": max(acc[1] for acc in per_buyer.values()) / sol_volume
        if n_buys
        else NAN,
        "gen_creator_buy_sol": sum(t[2] for t in buys if t[1] == tok.creator),
        "gen_creator_sold": float(any(t[1] == tok.creator for t in sells)),
        "gen_price_mult": price / launch,
        "gen_peak_mult": max([launch, *(t[4] for t in early)]) / launch,
        "gen_drawdown_from_peak": price / max([launch, *(t[4] for t in early)]),
        "gen_curve_progress": curve_progress(tok.real_tokens, tok.graduated),
        "gen_log_return_std": _log_return_std(launch, early),
        "gen_first_buy_delay_s": (buys[0][0] - t0) / 1000.0 if n_buys else NAN,
        "gen_last_trade_age_s": (ts - early[-1][0]) / 1000.0 if early else NAN,
        "gen_name_len": float(len(tok.name)) if tok.name is not None else NAN,
        "gen_symbol_len": float(len(tok.symbol)) if tok.symbol is not None else NAN,
        "gen_buyer_sol_hhi": sum((acc[1] / sol_volume) ** 2 for acc in per_buyer.values())
        if n_buys and sol_volume > 0
        else NAN,
        "gen_launch_hour_utc": float((t0 % _DAY_MS) // 3_600_000),
        "gen_holders_per_buyer": tok.holders / len(per_buyer) if per_buyer else NAN,
    }
    values.update(_slot_block(tok, buys, early))
    values.update(_bins_block(t0, launch, early, buys))
    values.update(_buyers_block(ctx, tok, list(per_buyer), ts))
    values.update(_genesis_creator_block(ctx, tok, creator, ts))
    values.update(_regime_block(ctx, ctx.regime, ts))
    values["reg_graduations_1h"] = float(len(ctx.regime.grads))
    return values


def _log_return_std(launch: float, early: list[Trade]) -> float:
    if len(early) < 2:
        return NAN
    prices = np.array([launch, *(t[4] for t in early)], dtype=np.float64)
    return float(np.std(np.diff(np.log(prices))))


def _median(sorted_values: list[float]) -> float:
    n = len(sorted_values)
    if not n:
        return NAN
    mid = n // 2
    return sorted_values[mid] if n % 2 else (sorted_values[mid - 1] + sorted_values[mid]) / 2.0


def _slot_block(tok: TokenState, buys: list[Trade], early: list[Trade]) -> dict[str, float]:
    slot0 = tok.genesis_slot
    if slot0 is None:
        return {"gen_n_sniper_buys_slot0": NAN, "gen_bundle_size": NAN, "gen_slot_span": NAN}
    snipers = sum(1 for t in buys if t[5] is not None and t[5] <= slot0 + 1 and t[1] != tok.creator)
    bundle = {t[1] for t in buys if t[5] == slot0}
    slots = [t[5] for t in early if t[5] is not None]
    return {
        "gen_n_sniper_buys_slot0": float(snipers),
        "gen_bundle_size": float(len(bundle)),
        "gen_slot_span": float(max(slots) - slot0) if slots else NAN,
    }


def _bins_block(t0: int, launch: float, early: list[Trade], buys: list[Trade]) -> dict[str, float]:
    counts = [0.0] * 6
    sols = [0.0] * 6
    for t in buys:
        b = min(max((t[0] - t0) // 10_000, 0), 5)
        counts[b] += 1
        sols[b] += t[2]
    out: dict[str, float] = {}
    for b in range(6):
        out[f"gen_buys_{10 * b}_{10 * (b + 1)}s"] = counts[b]
        out[f"gen_sol_{10 * b}_{10 * (b + 1)}s"] = sols[b]
    price = launch
    marks = iter(range(1, 6))
    mark: int | None = next(marks)
    for t in early:
        while mark is not None and t[0] > t0 + 10_000 * mark:
            out[f"gen_price_mult_{10 * mark}s"] = price / launch
            mark = next(marks, None)
        price = t[4]
    while mark is not None:
        out[f"gen_price_mult_{10 * mark}s"] = price / launch
        mark = next(marks, None)
    return out


def _buyers_block(
    ctx: FeatureContext, tok: TokenState, buyers: list[str], ts: int
) -> dict[str, float]:
    wallets = ctx.wallets
    token_wallets = tok.wallets
    rates: list[float] = []
    dead: list[float] = []
    smart = 0
    new_wallets = 0
    n_buys_sum = 0.0
    age_sum = 0.0
    for address in buyers:
        w = wallets.get(address)
        if w is None:
            continue
        n_buys_sum += w.n_buys
        age_sum += (ts - w.first_ts) / 1000.0
        entry = token_wallets.get(address)
        if entry is not None and entry[3]:
            new_wallets += 1
        if w.n_resolved:
            rates.append(w.wins_2x / w.n_resolved)
            dead.append(w.n_dead / w.n_resolved)
            if w.n_resolved >= ctx.smart_min_resolved and rates[-1] >= ctx.smart_min_win_rate:
                smart += 1
    n = len(buyers)
    pairs, best = _cobuyer_pairs(ctx, buyers, ts)
    return {
        "gen_buyers_with_history": float(len(rates)),
        "gen_buyers_mean_win_rate": sum(rates) / len(rates) if rates else NAN,
        "gen_buyers_max_win_rate": max(rates) if rates else NAN,
        "gen_buyers_mean_dead_rate": sum(dead) / len(dead) if dead else NAN,
        "gen_smart_buyers": float(smart),
        "gen_buyers_mean_n_buys": n_buys_sum / n if n else NAN,
        "gen_buyers_new_wallets": float(new_wallets),
        "gen_buyers_mean_age_s": age_sum / n if n else NAN,
        "gen_cobuyer_pairs": float(pairs),
        "gen_max_cobuyers_of_one": float(best),
    }


def _cobuyer_pairs(ctx: FeatureContext, buyers: list[str], ts: int) -> tuple[int, int]:
    present = set(buyers)
    decay = ctx.cooc_decay
    min_weight = ctx.cooc_min_weight
    pairs = 0
    best = 0
    for address in buyers:
        table = ctx.cooc.get(address)
        if table is None:
            continue
        scale = _exp(-(ts - table.ref_ts) * decay)
        weights = table.partners
        mine = 0
        if len(buyers) < len(weights):  # walk the smaller side (a count: order does not matter)
            for buyer in buyers:
                weight = weights.get(buyer)
                if weight is not None and weight * scale >= min_weight:
                    mine += 1
        else:
            for partner, weight in weights.items():
                if partner in present and weight * scale >= min_weight:
                    mine += 1
        pairs += mine
        best = max(best, mine)
    return pairs // 2, best


def _genesis_creator_block(
    ctx: FeatureContext, tok: TokenState, creator: CreatorState | None, ts: int
) -> dict[str, float]:
    out = _creator_block(tok, creator, ts)
    wallet = ctx.wallets.get(tok.creator) if tok.creator is not None else None
    out["cre_wallet_n_buys"] = float(wallet.n_buys) if wallet is not None else 0.0
    out["cre_wallet_win_rate"] = wallet.win_rate() if wallet is not None else NAN
    return out
