"""The feature and label registry: the single source of truth for model feature order.

Every model input row is ``[value(name) for name in STANDARD_NAMES]`` (buy signals) or
``GENESIS_NAMES`` (one genesis signal per token at launch + 60 s). Values are float64; NaN means
missing, and each spec says when a feature is missing. ``docs/features.md`` is generated from
this module (``python -m streams.features.docs``). Changing names or order means bumping
``FEATURE_SET_VERSION``.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.contracts.events import TARGETS

FEATURE_SET_VERSION = "fs-1"


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    name: str
    definition: str
    unit: str
    missing: str  # when the value is NaN ("never" when always present)
    group: str


@dataclass(frozen=True, slots=True)
class LabelSpec:
    name: str
    definition: str
    horizon_ms: int  # the label is final once the watermark passes signal_ts + horizon_ms


NEVER = "never"
NO_GENESIS = "token genesis not seen"
NO_RESOLVED = "no resolved outcome yet"

_STANDARD: tuple[tuple[str, str, str, str, str], ...] = (
    # (name, definition, unit, missing, group)
    ("buy_sol", "SOL paid by this buy (fee included)", "SOL", NEVER, "buy"),
    ("buy_token_share", "tokens received / 1e9 total supply", "fraction", NEVER, "buy"),
    (
        "buy_price_impact",
        "price after this buy / price before it - 1",
        "ratio",
        "first trade of a token seen without genesis",
        "buy",
    ),
    (
        "buy_sol_vs_tok_mean",
        "buy_sol / mean SOL of the token's earlier buys",
        "ratio",
        "no earlier buy of the token",
        "buy",
    ),
    (
        "buy_is_amm",
        "1 when the buy happened on the post-graduation AMM, else 0",
        "0/1",
        NEVER,
        "buy",
    ),
    ("buy_is_creator", "1 when the buyer is the token's creator", "0/1", NO_GENESIS, "buy"),
    (
        "buy_is_first_in_token",
        "1 when this is the wallet's first buy of this token",
        "0/1",
        NEVER,
        "buy",
    ),
    ("buy_hour_utc", "hour of day of the event time, UTC", "h", NEVER, "buy"),
    (
        "buy_slots_since_creation",
        "slot of this buy - slot of the genesis",
        "slots",
        "slot missing on the buy or the genesis",
        "buy",
    ),
    ("tok_age_s", "seconds since the token's genesis", "s", NO_GENESIS, "token"),
    ("tok_n_buys", "buys of this token so far, this one included", "count", NEVER, "token"),
    ("tok_n_sells", "sells of this token so far", "count", NEVER, "token"),
    (
        "tok_n_unique_buyers",
        "distinct wallets that bought this token so far, this buyer included",
        "count",
        NEVER,
        "token",
    ),
    (
        "tok_n_holders",
        "wallets whose net token balance from seen trades is positive",
        "count",
        NEVER,
        "token",
    ),
    (
        "tok_buys_60s",
        "buys of this token in (t-60 s, t], this one included",
        "count",
        NEVER,
        "token",
    ),
    ("tok_sol_volume_60s", "SOL of the token's buys in (t-60 s, t]", "SOL", NEVER, "token"),
    ("tok_buys_5m", "buys of this token in (t-5 min, t]", "count", NEVER, "token"),
    ("tok_sol_volume_5m", "SOL of the token's buys in (t-5 min, t]", "SOL", NEVER, "token"),
    (
        "tok_sell_buy_ratio_5m",
        "SOL of sells / SOL of buys of the token in (t-5 min, t]",
        "ratio",
        NEVER,
        "token",
    ),
    ("tok_sol_volume_total", "SOL of all buys of this token so far", "SOL", NEVER, "token"),
    ("tok_sell_sol_total", "SOL received by all sells of this token so far", "SOL", NEVER, "token"),
    ("tok_max_buy_sol", "largest single buy of the token so far", "SOL", NEVER, "token"),
    (
        "tok_price_mult_from_first",
        "price now / price after the token's first seen trade",
        "ratio",
        NEVER,
        "token",
    ),
    (
        "tok_price_mult_from_launch",
        "price now / genesis price (virtual reserves ratio)",
        "ratio",
        NO_GENESIS,
        "token",
    ),
    (
        "tok_price_mult_from_max",
        "price now / highest post-trade price so far",
        "ratio",
        NEVER,
        "token",
    ),
    (
        "tok_price_change_60s",
        "price now / price at t-60 s (last trade at or before t-60 s, else launch price)",
        "ratio",
        "no price known at t-60 s",
        "token",
    ),
    (
        "tok_price_change_5m",
        "price now / price at t-5 min (as tok_price_change_60s)",
        "ratio",
        "no price known at t-5 min",
        "token",
    ),
    (
        "tok_curve_progress",
        "fraction of the 793.1M real curve tokens sold: 1 - real_token_reserves / 793.1M, clipped to [0, 1]; 1 after graduation",
        "fraction",
        NEVER,
        "token",
    ),
    (
        "tok_is_graduated",
        "1 once a trade of the token had venue amm or real_token_reserves 0",
        "0/1",
        NEVER,
        "token",
    ),
    (
        "tok_secs_since_prev_trade",
        "seconds since the token's previous trade",
        "s",
        "first trade of the token",
        "token",
    ),
    (
        "tok_creator_buy_sol",
        "SOL the creator spent buying this token so far",
        "SOL",
        NO_GENESIS,
        "token",
    ),
    ("tok_creator_sold", "1 once the creator sold any of this token", "0/1", NO_GENESIS, "token"),
    (
        "tok_sniper_buys",
        "non-creator buys in the creation slot or the next one",
        "count",
        "genesis slot missing",
        "token",
    ),
    (
        "tok_bundle_size",
        "distinct wallets that bought in the creation slot",
        "count",
        "genesis slot missing",
        "token",
    ),
    ("tok_wallet_prev_buys", "this wallet's earlier buys of this token", "count", NEVER, "token"),
    (
        "tok_smart_buyers",
        "earlier distinct buyers whose wallet had >= 3 resolved signals and a 2x win rate >= 0.5 when they first bought",
        "count",
        NEVER,
        "token",
    ),
    ("wal_n_buys", "this wallet's earlier buys (all tokens)", "count", NEVER, "wallet"),
    ("wal_n_sells", "this wallet's earlier sells (all tokens)", "count", NEVER, "wallet"),
    (
        "wal_n_tokens",
        "distinct tokens this wallet bought before (first buys; evicted tokens may count twice)",
        "count",
        NEVER,
        "wallet",
    ),
    ("wal_sol_spent", "SOL this wallet spent on earlier buys", "SOL", NEVER, "wallet"),
    (
        "wal_mean_buy_sol",
        "mean SOL of this wallet's earlier buys",
        "SOL",
        "no earlier buy",
        "wallet",
    ),
    ("wal_age_s", "seconds since this wallet's first seen trade", "s", NEVER, "wallet"),
    (
        "wal_secs_since_last_buy",
        "seconds since this wallet's previous buy",
        "s",
        "no earlier buy",
        "wallet",
    ),
    (
        "wal_buy_rate_1h",
        "exponentially decayed count of this wallet's earlier buys, half-life 1 h",
        "count",
        NEVER,
        "wallet",
    ),
    (
        "wal_n_resolved",
        "this wallet's earlier buy signals whose 1h outcome resolved before t",
        "count",
        NEVER,
        "wallet",
    ),
    (
        "wal_win_rate_2x_1h",
        "share of those resolved signals with reach_2x_1h",
        "fraction",
        NO_RESOLVED,
        "wallet",
    ),
    (
        "wal_win_rate_3x_30m",
        "share of those resolved signals with reach_3x_30m",
        "fraction",
        NO_RESOLVED,
        "wallet",
    ),
    (
        "wal_dead_rate",
        "share of those resolved signals with is_dead_soon",
        "fraction",
        NO_RESOLVED,
        "wallet",
    ),
    (
        "wal_mean_log_peak_1h",
        "mean ln(peak_1h) over those resolved signals",
        "ln ratio",
        NO_RESOLVED,
        "wallet",
    ),
    ("wal_n_created", "tokens this wallet launched as a creator so far", "count", NEVER, "wallet"),
    (
        "wal_mean_entry_age_s",
        "mean token age at this wallet's earlier buys (buys of tokens with known genesis)",
        "s",
        "no such earlier buy",
        "wallet",
    ),
    (
        "cre_n_tokens",
        "other tokens this token's creator launched at or before t",
        "count",
        NO_GENESIS,
        "creator",
    ),
    (
        "cre_n_resolved",
        "of the creator's other tokens, those whose fate resolved before t",
        "count",
        NO_GENESIS,
        "creator",
    ),
    (
        "cre_rug_rate",
        "share of the resolved ones that were rugs (see token fate)",
        "fraction",
        "no genesis, or no resolved other token",
        "creator",
    ),
    (
        "cre_grad_rate",
        "share of the resolved ones that graduated within the fate horizon",
        "fraction",
        "no genesis, or no resolved other token",
        "creator",
    ),
    (
        "cre_mean_peak_mult",
        "mean of max price in the fate horizon / launch price over the resolved ones",
        "ratio",
        "no genesis, or no resolved other token",
        "creator",
    ),
    (
        "cre_secs_since_prev_launch",
        "seconds between this token's genesis and the creator's previous launch",
        "s",
        "no genesis or no previous launch",
        "creator",
    ),
    (
        "cooc_n_partners",
        "this wallet's frequent co-buyers (decayed co-buy weight >= 1.5)",
        "count",
        NEVER,
        "cooccurrence",
    ),
    (
        "cooc_cobuyers_in_token",
        "how many of this wallet's frequent co-buyers already bought this token",
        "count",
        NEVER,
        "cooccurrence",
    ),
    (
        "cooc_weight_in_token",
        "summed decayed co-buy weight of this wallet's partners that already bought this token",
        "weight",
        NEVER,
        "cooccurrence",
    ),
    (
        "cooc_max_partner_weight",
        "largest decayed co-buy weight among this wallet's partners",
        "weight",
        NEVER,
        "cooccurrence",
    ),
    (
        "reg_hit_rate_2x_1h",
        "market-wide share of buy signals whose 1h outcome resolved in [t-1 h, t) that reached 2x",
        "fraction",
        "no buy signal resolved in the window",
        "regime",
    ),
    (
        "reg_dead_rate_1h",
        "market-wide share of those resolved buy signals with is_dead_soon",
        "fraction",
        "no buy signal resolved in the window",
        "regime",
    ),
    (
        "reg_n_resolved_1h",
        "buy signals whose 1h outcome resolved in [t-1 h, t)",
        "count",
        NEVER,
        "regime",
    ),
    ("reg_buys_60s", "market-wide buys in (t-60 s, t]", "count", NEVER, "regime"),
    ("reg_sol_volume_60s", "market-wide buy SOL in (t-60 s, t]", "SOL", NEVER, "regime"),
    ("reg_launches_10m", "market-wide token launches in (t-10 min, t]", "count", NEVER, "regime"),
    ("reg_active_tokens", "tokens tracked by the engine (not evicted)", "count", NEVER, "regime"),
)

_GEN_BINS = tuple(range(6))  # six 10-second bins of the first minute

_GENESIS: tuple[tuple[str, str, str, str, str], ...] = (
    ("gen_n_buys", "buys in the first 60 s, [t0, t0+60 s]", "count", NEVER, "genesis"),
    ("gen_n_sells", "sells in the first 60 s", "count", NEVER, "genesis"),
    ("gen_n_unique_buyers", "distinct buyers in the first 60 s", "count", NEVER, "genesis"),
    ("gen_n_unique_sellers", "distinct sellers in the first 60 s", "count", NEVER, "genesis"),
    (
        "gen_n_holders",
        "wallets with a positive net token balance at t0+60 s",
        "count",
        NEVER,
        "genesis",
    ),
    (
        "gen_repeat_buyers",
        "wallets with 2 or more buys in the first 60 s",
        "count",
        NEVER,
        "genesis",
    ),
    ("gen_sol_volume", "SOL of buys in the first 60 s", "SOL", NEVER, "genesis"),
    ("gen_sell_sol", "SOL received by sells in the first 60 s", "SOL", NEVER, "genesis"),
    ("gen_net_sol_flow", "gen_sol_volume - gen_sell_sol", "SOL", NEVER, "genesis"),
    ("gen_sell_buy_ratio", "gen_sell_sol / gen_sol_volume", "ratio", "no buy", "genesis"),
    ("gen_max_buy_sol", "largest single buy in the first 60 s", "SOL", "no buy", "genesis"),
    ("gen_mean_buy_sol", "mean buy SOL in the first 60 s", "SOL", "no buy", "genesis"),
    ("gen_median_buy_sol", "median buy SOL in the first 60 s", "SOL", "no buy", "genesis"),
    (
        "gen_small_buys_share",
        "share of first-minute buys below 0.1 SOL",
        "fraction",
        "no buy",
        "genesis",
    ),
    (
        "gen_top_buyer_share",
        "largest wallet's total buy SOL / gen_sol_volume",
        "fraction",
        "no buy",
        "genesis",
    ),
    (
        "gen_n_sniper_buys_slot0",
        "non-creator buys in the creation slot or the next one",
        "count",
        "genesis slot missing",
        "genesis",
    ),
    (
        "gen_bundle_size",
        "distinct wallets buying in the creation slot",
        "count",
        "genesis slot missing",
        "genesis",
    ),
    (
        "gen_slot_span",
        "highest trade slot in the first 60 s - creation slot",
        "slots",
        "genesis slot missing or no trade with a slot",
        "genesis",
    ),
    (
        "gen_creator_buy_sol",
        "SOL the creator spent buying in the first 60 s",
        "SOL",
        NEVER,
        "genesis",
    ),
    ("gen_creator_sold", "1 when the creator sold in the first 60 s", "0/1", NEVER, "genesis"),
    ("gen_price_mult", "price at t0+60 s / launch price", "ratio", NEVER, "genesis"),
    *(
        (
            f"gen_price_mult_{10 * (b + 1)}s",
            f"price at t0+{10 * (b + 1)} s / launch price",
            "ratio",
            NEVER,
            "genesis",
        )
        for b in _GEN_BINS[:-1]
    ),
    (
        "gen_peak_mult",
        "highest price in the first 60 s / launch price (>= 1)",
        "ratio",
        NEVER,
        "genesis",
    ),
    (
        "gen_drawdown_from_peak",
        "price at t0+60 s / highest price in the first 60 s",
        "ratio",
        NEVER,
        "genesis",
    ),
    (
        "gen_curve_progress",
        "curve progress at t0+60 s (as tok_curve_progress)",
        "fraction",
        NEVER,
        "genesis",
    ),
    (
        "gen_log_return_std",
        "standard deviation of ln(price ratio) between consecutive first-minute prices (launch price first)",
        "ln ratio",
        "fewer than 2 trades",
        "genesis",
    ),
    ("gen_first_buy_delay_s", "seconds from genesis to the first buy", "s", "no buy", "genesis"),
    (
        "gen_last_trade_age_s",
        "seconds from the last first-minute trade to t0+60 s",
        "s",
        "no trade",
        "genesis",
    ),
    *(
        (
            f"gen_buys_{10 * b}_{10 * (b + 1)}s",
            f"buys in [t0+{10 * b} s, t0+{10 * (b + 1)} s) (last bin closed)",
            "count",
            NEVER,
            "genesis",
        )
        for b in _GEN_BINS
    ),
    *(
        (
            f"gen_sol_{10 * b}_{10 * (b + 1)}s",
            f"buy SOL in [t0+{10 * b} s, t0+{10 * (b + 1)} s) (last bin closed)",
            "SOL",
            NEVER,
            "genesis",
        )
        for b in _GEN_BINS
    ),
    (
        "gen_name_len",
        "characters in the token name",
        "count",
        "the feed did not carry the name (v2 genesis with null name)",
        "genesis",
    ),
    (
        "gen_symbol_len",
        "characters in the token symbol",
        "count",
        "the feed did not carry the symbol (v2 genesis with null symbol)",
        "genesis",
    ),
    (
        "gen_buyer_sol_hhi",
        "Herfindahl index of the first-minute buyers' shares of buy SOL",
        "0..1",
        "no buy",
        "genesis",
    ),
    ("gen_launch_hour_utc", "hour of day of the genesis, UTC", "h", NEVER, "genesis"),
    (
        "gen_holders_per_buyer",
        "gen_n_holders / gen_n_unique_buyers",
        "ratio",
        "no buyer",
        "genesis",
    ),
    (
        "gen_buyers_with_history",
        "first-minute buyers with >= 1 resolved signal at t0+60 s",
        "count",
        NEVER,
        "wallet",
    ),
    (
        "gen_buyers_mean_win_rate",
        "mean wal_win_rate_2x_1h over those buyers",
        "fraction",
        "no buyer with history",
        "wallet",
    ),
    (
        "gen_buyers_max_win_rate",
        "max wal_win_rate_2x_1h over those buyers",
        "fraction",
        "no buyer with history",
        "wallet",
    ),
    (
        "gen_buyers_mean_dead_rate",
        "mean wal_dead_rate over those buyers",
        "fraction",
        "no buyer with history",
        "wallet",
    ),
    (
        "gen_smart_buyers",
        "first-minute buyers with >= 3 resolved signals and win rate >= 0.5",
        "count",
        NEVER,
        "wallet",
    ),
    (
        "gen_buyers_mean_n_buys",
        "mean count of all buys so far of the first-minute buyers",
        "count",
        "no buyer",
        "wallet",
    ),
    (
        "gen_buyers_new_wallets",
        "first-minute buyers first seen in this token",
        "count",
        NEVER,
        "wallet",
    ),
    (
        "gen_buyers_mean_age_s",
        "mean wallet age (since first seen) of the first-minute buyers at t0+60 s",
        "s",
        "no buyer",
        "wallet",
    ),
    (
        "gen_cobuyer_pairs",
        "pairs of first-minute buyers that are frequent co-buyers of each other",
        "count",
        NEVER,
        "cooccurrence",
    ),
    (
        "gen_max_cobuyers_of_one",
        "max over first-minute buyers of their frequent co-buyers among the others",
        "count",
        NEVER,
        "cooccurrence",
    ),
    (
        "cre_n_tokens",
        "other tokens the creator launched at or before t0+60 s",
        "count",
        NEVER,
        "creator",
    ),
    (
        "cre_n_resolved",
        "of those, tokens whose fate resolved before t0+60 s",
        "count",
        NEVER,
        "creator",
    ),
    (
        "cre_rug_rate",
        "share of the resolved ones that were rugs",
        "fraction",
        "no resolved other token",
        "creator",
    ),
    (
        "cre_grad_rate",
        "share of the resolved ones that graduated within the fate horizon",
        "fraction",
        "no resolved other token",
        "creator",
    ),
    (
        "cre_mean_peak_mult",
        "mean of max price in the fate horizon / launch price over the resolved ones",
        "ratio",
        "no resolved other token",
        "creator",
    ),
    (
        "cre_secs_since_prev_launch",
        "seconds between this genesis and the creator's previous launch",
        "s",
        "no previous launch",
        "creator",
    ),
    (
        "cre_wallet_n_buys",
        "buys the creator wallet made as a trader so far",
        "count",
        NEVER,
        "creator",
    ),
    (
        "cre_wallet_win_rate",
        "the creator wallet's wal_win_rate_2x_1h",
        "fraction",
        NO_RESOLVED,
        "creator",
    ),
    (
        "reg_hit_rate_2x_1h",
        "as the standard feature, at t0+60 s",
        "fraction",
        "no buy signal resolved in the window",
        "regime",
    ),
    (
        "reg_dead_rate_1h",
        "as the standard feature, at t0+60 s",
        "fraction",
        "no buy signal resolved in the window",
        "regime",
    ),
    ("reg_n_resolved_1h", "as the standard feature, at t0+60 s", "count", NEVER, "regime"),
    ("reg_buys_60s", "as the standard feature, at t0+60 s", "count", NEVER, "regime"),
    ("reg_sol_volume_60s", "as the standard feature, at t0+60 s", "SOL", NEVER, "regime"),
    ("reg_launches_10m", "as the standard feature, at t0+60 s", "count", NEVER, "regime"),
    ("reg_active_tokens", "as the standard feature, at t0+60 s", "count", NEVER, "regime"),
    ("reg_graduations_1h", "market-wide graduations in (t-1 h, t]", "count", NEVER, "regime"),
)

STANDARD_FEATURES: tuple[FeatureSpec, ...] = tuple(FeatureSpec(*row) for row in _STANDARD)
GENESIS_FEATURES: tuple[FeatureSpec, ...] = tuple(FeatureSpec(*row) for row in _GENESIS)
STANDARD_NAMES: tuple[str, ...] = tuple(f.name for f in STANDARD_FEATURES)
GENESIS_NAMES: tuple[str, ...] = tuple(f.name for f in GENESIS_FEATURES)
STANDARD_INDEX: dict[str, int] = {n: i for i, n in enumerate(STANDARD_NAMES)}
GENESIS_INDEX: dict[str, int] = {n: i for i, n in enumerate(GENESIS_NAMES)}

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

LABELS: dict[str, LabelSpec] = {
    "reach_2x_1h": LabelSpec(
        "reach_2x_1h",
        "peak_1h >= 2: the highest post-trade price of the token in (signal_ts, signal_ts + 1 h] "
        "is at least 2x the signal price",
        HOUR_MS,
    ),
    "reach_3x_30m": LabelSpec(
        "reach_3x_30m",
        "peak_30m >= 3: highest price in (signal_ts, signal_ts + 30 min] >= 3x the signal price",
        HOUR_MS,
    ),
    "reach_2x_10m": LabelSpec(
        "reach_2x_10m",
        "peak_10m >= 2: highest price in (signal_ts, signal_ts + 10 min] >= 2x the signal price",
        HOUR_MS,
    ),
    "is_dead_soon": LabelSpec(
        "is_dead_soon",
        "min_1h < 0.5 (some price in (signal_ts, signal_ts + 1 h] is below half the signal price) "
        "or nobody buys the token for the 30 minutes after the signal (no buy after the signal "
        "with ts <= signal_ts + 30 min)",
        HOUR_MS,
    ),
}
assert tuple(LABELS) == TARGETS

# Outcome horizons (ms): peaks are max(price) / signal price over (signal_ts, signal_ts + h],
# where the signal price itself counts (the price is a step function), so peaks are >= 1 and
# min_1h <= 1.
PEAK_HORIZONS_MS: dict[str, int] = {
    "peak_10m": 10 * MINUTE_MS,
    "peak_30m": 30 * MINUTE_MS,
    "peak_1h": HOUR_MS,
    "peak_4h": 4 * HOUR_MS,
    "peak_24h": 24 * HOUR_MS,
}
STAGE_1H_MS = HOUR_MS
STAGE_24H_MS = 24 * HOUR_MS
DEAD_QUIET_MS = 30 * MINUTE_MS  # no buy in (signal, signal_ts + 30 min] -> dead
