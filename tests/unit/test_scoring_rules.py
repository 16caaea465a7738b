"""Rule score (by feature name, NaN-safe, bounded, monotone in its terms) and the Platt function."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.scoring import RULES, RuleScorer, platt, rule_score
from streams.scoring.rules import Centered, Flag, Ratio, Saturating, ShrunkRate

STANDARD_RULE_NAMES = tuple(sorted({n for t in RULES["standard"][1] for n in t.names()}))
GENESIS_RULE_NAMES = tuple(sorted({n for t in RULES["genesis"][1] for n in t.names()}))
# rule features scattered among other columns, so indices are resolved by name, not position
STANDARD_ROW = ("x0", *STANDARD_RULE_NAMES[::-1], "x1", "x2")
GENESIS_ROW = ("y0", *GENESIS_RULE_NAMES, "y1")


def rows(
    names: tuple[str, ...], values: Mapping[str, float] | None = None, n: int = 1
) -> np.ndarray:
    """n rows with every feature missing except those in ``values``."""
    X = np.full((n, len(names)), np.nan)
    for name, value in (values or {}).items():
        X[:, names.index(name)] = value
    return X


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_rule_uses_the_guaranteed_registry_names() -> None:
    assert set(STANDARD_RULE_NAMES) <= {
        "buy_sol", "tok_age_s", "tok_n_buys", "tok_n_unique_buyers", "tok_buys_60s",
        "tok_sol_volume_60s", "tok_price_mult_from_first", "tok_curve_progress",
        "tok_sell_buy_ratio_5m", "wal_n_resolved", "wal_win_rate_2x_1h", "cre_n_tokens",
        "cre_rug_rate", "cre_grad_rate", "cooc_cobuyers_in_token", "reg_hit_rate_2x_1h",
    }  # fmt: skip
    assert set(GENESIS_RULE_NAMES) <= {
        "gen_n_buys", "gen_n_unique_buyers", "gen_sol_volume", "gen_n_sniper_buys_slot0",
        "gen_bundle_size", "gen_creator_buy_sol", "gen_creator_sold", "gen_price_mult",
        "gen_curve_progress", "cre_n_tokens", "cre_rug_rate", "cre_grad_rate",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("family", "names"), [("standard", STANDARD_ROW), ("genesis", GENESIS_ROW)]
)
def test_all_missing_row_scores_the_bias(family: str, names: tuple[str, ...]) -> None:
    score = RuleScorer(family, names).score(rows(names, n=3))
    assert score == pytest.approx([sigmoid(RULES[family][0])] * 3)


def test_missing_rule_feature_is_an_error() -> None:
    with pytest.raises(KeyError, match="tok_buys_60s"):
        RuleScorer("standard", tuple(n for n in STANDARD_ROW if n != "tok_buys_60s"))


@pytest.mark.parametrize(
    ("feature", "low", "high", "context"),
    [
        ("tok_buys_60s", 0.0, 40.0, {}),
        ("tok_sol_volume_60s", 0.0, 30.0, {}),
        ("wal_win_rate_2x_1h", 0.0, 0.8, {"wal_n_resolved": 20.0}),
        ("cre_grad_rate", 0.0, 0.5, {"cre_n_tokens": 10.0}),
    ],
)
def test_standard_rule_increases_with_good_evidence(
    feature: str, low: float, high: float, context: dict[str, float]
) -> None:
    rule = RuleScorer("standard", STANDARD_ROW)
    worse = rule.score(rows(STANDARD_ROW, {**context, feature: low}))
    better = rule.score(rows(STANDARD_ROW, {**context, feature: high}))
    assert better[0] > worse[0]


@pytest.mark.parametrize(
    ("family", "names", "feature", "value", "context"),
    [
        ("standard", STANDARD_ROW, "cre_rug_rate", 1.0, {"cre_n_tokens": 10.0}),
        ("standard", STANDARD_ROW, "tok_sell_buy_ratio_5m", 3.0, {}),
        ("genesis", GENESIS_ROW, "gen_creator_sold", 1.0, {}),
        ("genesis", GENESIS_ROW, "gen_bundle_size", 8.0, {}),
    ],
)
def test_red_flags_lower_the_score(
    family: str, names: tuple[str, ...], feature: str, value: float, context: dict[str, float]
) -> None:
    rule = RuleScorer(family, names)
    base = rule.score(rows(names, context))[0]
    flagged = rule.score(rows(names, {**context, feature: value}))[0]
    assert flagged < base


def test_rates_without_evidence_count_for_nothing() -> None:
    rule = RuleScorer("standard", STANDARD_ROW)
    unresolved = rule.score(rows(STANDARD_ROW, {"wal_win_rate_2x_1h": 1.0, "wal_n_resolved": 0.0}))
    assert unresolved[0] == pytest.approx(sigmoid(RULES["standard"][0]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, -1e300, 0.5, 3.0, 1e-300]),
        min_size=len(STANDARD_ROW),
        max_size=len(STANDARD_ROW),
    )
)
def test_rule_is_bounded_and_finite_for_any_input(values: list[float]) -> None:
    score = RuleScorer("standard", STANDARD_ROW).score(np.array([values]))
    assert np.isfinite(score).all()
    assert 0.0 <= score[0] <= 1.0


def test_rule_score_uses_the_feature_registry_order() -> None:
    names = STANDARD_NAMES
    X = rows(names, {"tok_buys_60s": 30.0, "cre_rug_rate": 0.9, "cre_n_tokens": 5.0}, n=2)
    expected = RuleScorer("standard", names).score(X)
    assert rule_score("standard", X) == pytest.approx(expected)
    genesis = GENESIS_NAMES
    Xg = rows(genesis, {"gen_creator_sold": 1.0})
    assert rule_score("genesis", Xg)[0] < sigmoid(RULES["genesis"][0])


def reference_points(term: object, X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """One term's points by its documented formula, computed alone (no grouping, no gather)."""
    col = {n: X[:, names.index(n)] for n in names}
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        match term:
            case Saturating(feature=f, scale=s, weight=w, offset=o):
                points = w * (1.0 - np.exp(-np.maximum(col[f] - o, 0.0) / s))
            case Centered(feature=f, center=c, scale=s, weight=w):
                points = w * np.clip((col[f] - c) / s, -1.0, 1.0)
            case Ratio(numerator=a, denominator=b, weight=w):
                points = w * np.clip(col[a] / np.maximum(col[b], 1.0), 0.0, 1.0)
            case ShrunkRate(rate=r, count=c, prior=p, strength=k, weight=w):
                n = np.maximum(col[c], 0.0)
                points = w * (np.clip(col[r], 0.0, 1.0) - p) * n / (n + k)
            case Flag(feature=f, weight=w):
                points = np.where(col[f] > 0, w, 0.0)
    return np.where(np.isnan(points), 0.0, points)


def reference_score(family: str, X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    bias, terms = RULES[family]
    points = np.stack([reference_points(t, X, names) for t in terms], axis=1)
    return np.asarray(expit(bias + points.sum(axis=1)))


ODD_VALUES = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1e300, -1e300, 1e-300, 0.5, 1.0, 3.0]


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([("standard", STANDARD_ROW), ("genesis", GENESIS_ROW)]),
    st.integers(min_value=1, max_value=9),
    st.data(),
)
def test_the_rule_is_its_documented_formulas_to_the_bit_in_any_batch(
    case: tuple[str, tuple[str, ...]], n: int, data: st.DataObject
) -> None:
    """The grouped, gathered evaluation gives exactly the per-term formulas' score, and a row
    scores the same alone as in a batch (served one by one == replayed in bulk)."""
    family, names = case
    value = st.one_of(st.sampled_from(ODD_VALUES), st.floats(-1e3, 1e3), st.floats(0, 100))
    X = np.array(data.draw(st.lists(st.lists(value, min_size=len(names), max_size=len(names)),
                                    min_size=n, max_size=n)))  # fmt: skip
    rule = RuleScorer(family, names)
    batch = rule.score(X)
    alone = np.concatenate([rule.score(X[i : i + 1]) for i in range(n)])
    expected = reference_score(family, X, names)
    assert batch.tobytes() == expected.tobytes()
    assert alone.tobytes() == expected.tobytes()
    points = np.stack([reference_points(t, X, names) for t in RULES[family][1]], axis=1)
    np.testing.assert_array_equal(rule.contributions(X), points)


def test_platt_formula_and_extremes() -> None:
    raw = np.array([0.0, 0.25, 1.0])
    assert platt(raw, 2.0, -1.0) == pytest.approx(1 / (1 + np.exp(-(2.0 * raw - 1.0))))
    assert platt(0.5, 0.0, 0.0) == pytest.approx(0.5)
    extreme = platt(np.array([-1e6, 1e6]), 1.0, 0.0)  # no overflow warning (warnings are errors)
    assert extreme.tolist() == [0.0, 1.0]
    assert platt(np.array([0.1, 0.2]), 1.0, 0.0).dtype == np.float64


def test_platt_on_the_logit_is_identity_at_one_zero_and_finite_at_the_ends() -> None:
    raw = np.array([0.0, 0.01, 0.3, 0.99, 1.0])
    calibrated = platt(raw, 1.0, 0.0, "logit")
    np.testing.assert_allclose(calibrated[1:-1], raw[1:-1], rtol=1e-12)
    assert np.isfinite(calibrated).all()
    assert 0.0 < calibrated[0] < 1e-6 and 1.0 - 1e-6 < calibrated[-1] < 1.0
