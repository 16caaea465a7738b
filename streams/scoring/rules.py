"""The transparent rule score: a hand-set logistic score over named features, always in [0, 1].

score = sigmoid(bias + sum of term contributions). Every term maps one or two named features to
a bounded number of "logit points"; a missing (NaN) input contributes 0, so a row with nothing
known scores sigmoid(bias). The terms and weights are listed in docs/scoring.md. Feature
indices are resolved by name once per feature list; evaluation is vectorised over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np
from scipy.special import expit

from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES

Num = np.ndarray | float


@dataclass(frozen=True, slots=True)
class Saturating:
    """weight * (1 - exp(-max(x - offset, 0) / scale)): grows with x, capped at |weight|."""

    feature: str
    scale: float
    weight: float
    offset: float = 0.0

    PARAMS: ClassVar[tuple[str, ...]] = ("scale", "weight", "offset")

    def names(self) -> tuple[str, ...]:
        return (self.feature,)

    @staticmethod
    def formula(x: np.ndarray, *, scale: Num, weight: Num, offset: Num) -> np.ndarray:
        return weight * (1.0 - np.exp(-np.maximum(x - offset, 0.0) / scale))


@dataclass(frozen=True, slots=True)
class Centered:
    """weight * clip((x - center) / scale, -1, 1): above center adds, below subtracts."""

    feature: str
    center: float
    scale: float
    weight: float

    PARAMS: ClassVar[tuple[str, ...]] = ("center", "scale", "weight")

    def names(self) -> tuple[str, ...]:
        return (self.feature,)

    @staticmethod
    def formula(x: np.ndarray, *, center: Num, scale: Num, weight: Num) -> np.ndarray:
        return weight * np.minimum(np.maximum((x - center) / scale, -1.0), 1.0)


@dataclass(frozen=True, slots=True)
class Ratio:
    """weight * clip(numerator / max(denominator, 1), 0, 1), e.g. unique buyers per buy."""

    numerator: str
    denominator: str
    weight: float

    PARAMS: ClassVar[tuple[str, ...]] = ("weight",)

    def names(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    @staticmethod
    def formula(num: np.ndarray, den: np.ndarray, *, weight: Num) -> np.ndarray:
        return weight * np.minimum(np.maximum(num / np.maximum(den, 1.0), 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class ShrunkRate:
    """weight * (rate - prior) * n / (n + strength): a rate trusted only as evidence n grows."""

    rate: str
    count: str
    prior: float
    strength: float
    weight: float

    PARAMS: ClassVar[tuple[str, ...]] = ("prior", "strength", "weight")

    def names(self) -> tuple[str, ...]:
        return (self.rate, self.count)

    @staticmethod
    def formula(
        rate: np.ndarray, n: np.ndarray, *, prior: Num, strength: Num, weight: Num
    ) -> np.ndarray:
        n = np.maximum(n, 0.0)
        return weight * (np.minimum(np.maximum(rate, 0.0), 1.0) - prior) * n / (n + strength)


@dataclass(frozen=True, slots=True)
class Flag:
    """weight when x > 0 (e.g. the creator already sold); NaN compares False, so 0."""

    feature: str
    weight: float

    PARAMS: ClassVar[tuple[str, ...]] = ("weight",)

    def names(self) -> tuple[str, ...]:
        return (self.feature,)

    @staticmethod
    def formula(x: np.ndarray, *, weight: Num) -> np.ndarray:
        return np.where(x > 0, weight, 0.0)


Term = Saturating | Centered | Ratio | ShrunkRate | Flag

_CREATOR_TERMS: tuple[Term, ...] = (
    ShrunkRate("cre_rug_rate", "cre_n_tokens", prior=0.5, strength=2.0, weight=-2.0),
    ShrunkRate("cre_grad_rate", "cre_n_tokens", prior=0.05, strength=2.0, weight=3.0),
)

RULES: dict[str, tuple[float, tuple[Term, ...]]] = {
    # family -> (bias, terms)
    "standard": (
        -1.5,
        (
            Saturating("tok_buys_60s", scale=15.0, weight=1.0),
            Saturating("tok_sol_volume_60s", scale=10.0, weight=0.8),
            Ratio("tok_n_unique_buyers", "tok_n_buys", weight=0.8),
            Saturating("tok_sell_buy_ratio_5m", scale=1.0, weight=-1.0),
            Saturating("tok_price_mult_from_first", scale=5.0, weight=-0.6, offset=3.0),
            Centered("tok_curve_progress", center=0.5, scale=0.5, weight=0.4),
            Saturating("tok_age_s", scale=1800.0, weight=-0.5),
            Saturating("buy_sol", scale=2.0, weight=0.3),
            ShrunkRate("wal_win_rate_2x_1h", "wal_n_resolved", prior=0.2, strength=5.0, weight=3.0),
            Saturating("cooc_cobuyers_in_token", scale=3.0, weight=0.6),
            Centered("reg_hit_rate_2x_1h", center=0.15, scale=0.15, weight=0.5),
            *_CREATOR_TERMS,
        ),
    ),
    "genesis": (
        -1.5,
        (
            Saturating("gen_n_buys", scale=20.0, weight=0.8),
            Ratio("gen_n_unique_buyers", "gen_n_buys", weight=0.6),
            Saturating("gen_sol_volume", scale=10.0, weight=0.8),
            Saturating("gen_n_sniper_buys_slot0", scale=3.0, weight=-0.8),
            Saturating("gen_bundle_size", scale=3.0, weight=-0.8),
            Saturating("gen_creator_buy_sol", scale=2.0, weight=0.2),
            Flag("gen_creator_sold", weight=-1.5),
            Saturating("gen_price_mult", scale=2.0, weight=0.6, offset=1.0),
            Centered("gen_curve_progress", center=0.5, scale=0.5, weight=0.4),
            *_CREATOR_TERMS,
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class _TermGroup:
    """All k terms of one kind, evaluated together on the gathered feature values."""

    formula: Callable[..., np.ndarray]
    inputs: tuple[slice, ...]  # per formula input: where its k values sit in the gathered row
    params: dict[str, np.ndarray]  # [k] each

    def points(self, gathered: np.ndarray) -> np.ndarray:
        return self.formula(*(gathered[..., cut] for cut in self.inputs), **self.params)


class RuleScorer:
    """The rule of one family bound to one ordered feature list (indices resolved once).

    Every call gathers the rule's inputs with one ``take``, evaluates each kind of term in one
    set of ufuncs and puts the points back in term order. A single row is evaluated as 1-D
    arrays: the serving loop scores one or a few rows per step, and numpy's per-call cost on
    tiny arrays is mostly broadcasting, which same-shape 1-D operands skip.
    """

    def __init__(self, family: str, feature_names: Sequence[str]) -> None:
        if family not in RULES:
            raise KeyError(f"no rule for family {family!r}")
        self.bias, self.terms = RULES[family]
        position = {name: i for i, name in enumerate(feature_names)}
        missing = sorted({n for t in self.terms for n in t.names() if n not in position})
        if missing:
            raise KeyError(f"rule features missing from the {family} feature list: {missing}")
        self.n_features = len(feature_names)
        kinds = list(dict.fromkeys(type(t) for t in self.terms))
        members = [[j for j, t in enumerate(self.terms) if type(t) is kind] for kind in kinds]
        columns: list[int] = []
        self._groups = [_group(kind, [self.terms[j] for j in js], position, columns)
                        for kind, js in zip(kinds, members, strict=True)]  # fmt: skip
        self._columns = np.array(columns, dtype=np.intp)
        # points come out grouped by kind; this puts them back in ``terms`` order
        self._term_order = np.argsort(np.concatenate(members), kind="stable")

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """[n, n_terms] logit points per term (in ``terms`` order), 0 where an input is missing."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"expected [n, {self.n_features}], got {X.shape}")
        if X.shape[0] == 1:
            return self._points(X[0].take(self._columns))[np.newaxis]
        return self._points(X.take(self._columns, axis=1))

    def score(self, X: np.ndarray) -> np.ndarray:
        # the logistic function, as platt(z, 1, 0) computes it
        return np.asarray(expit(self.bias + self.contributions(X).sum(axis=1)), dtype=np.float64)

    def _points(self, gathered: np.ndarray) -> np.ndarray:
        # inf/inf in ratios gives NaN; NaN (a missing input) counts as neutral 0 points.
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            grouped = np.concatenate([group.points(gathered) for group in self._groups], axis=-1)
        points = grouped.take(self._term_order, axis=-1)
        np.copyto(points, 0.0, where=np.isnan(points))
        return points


def _group(
    kind: type, members: Sequence[Term], position: dict[str, int], columns: list[int]
) -> _TermGroup:
    """The group of ``members`` (all of ``kind``); appends their input columns to ``columns``."""
    inputs = []
    for i in range(len(members[0].names())):
        inputs.append(slice(len(columns), len(columns) + len(members)))
        columns.extend(position[t.names()[i]] for t in members)
    params = {p: np.array([getattr(t, p) for t in members]) for p in kind.PARAMS}  # type: ignore[attr-defined]
    return _TermGroup(kind.formula, tuple(inputs), params)  # type: ignore[attr-defined]


@lru_cache(maxsize=4)
def _registry_rule(family: str) -> RuleScorer:
    names = {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}[family]
    return RuleScorer(family, tuple(names))


def rule_score(family: str, X: np.ndarray) -> np.ndarray:
    """Rule score in [0, 1] for rows in the feature registry's order of ``family``."""
    return _registry_rule(family).score(X)
