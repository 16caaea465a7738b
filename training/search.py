"""LightGBM binary classifier tuned by a seeded Optuna TPE search on validation PR-AUC.

Native missing values, ``scale_pos_weight`` from the training slice's class ratio, early stopping on
validation average precision, trees and leaves capped so a model scores fast in the stream.
The previous best parameters (from the deployed metadata) are enqueued as the first trial.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import optuna

MAX_TREES = 400
EARLY_STOPPING_ROUNDS = 30
MAX_THREADS = 2  # the scorer and the stream share the machine

# name -> (kind, low, high, log)
SEARCH_SPACE: dict[str, tuple[str, float, float, bool]] = {
    "num_leaves": ("int", 7, 63, False),
    "learning_rate": ("float", 0.01, 0.3, True),
    "min_child_samples": ("int", 5, 200, True),
    "feature_fraction": ("float", 0.5, 1.0, False),
    "bagging_fraction": ("float", 0.5, 1.0, False),
    "bagging_freq": ("int", 0, 7, False),
    "lambda_l1": ("float", 1e-8, 10.0, True),
    "lambda_l2": ("float", 1e-8, 10.0, True),
}


@dataclass(frozen=True)
class Slice:
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class SearchResult:
    booster: lgb.Booster
    params: dict[str, Any]  # the full LightGBM parameters of the chosen model
    search_params: dict[str, Any]  # the tuned subset (what the next search enqueues)
    best_iteration: int
    valid_pr_auc: float
    trials: int
    warm_started: bool


def base_params(y_train: np.ndarray, seed: int, num_threads: int = MAX_THREADS) -> dict[str, Any]:
    positives = float(np.sum(y_train == 1))
    negatives = float(len(y_train) - positives)
    return {
        "objective": "binary",
        "metric": "average_precision",
        "scale_pos_weight": negatives / max(positives, 1.0),
        "num_threads": max(1, min(num_threads, MAX_THREADS)),
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
        "max_depth": -1,
    }


def fit_booster(
    train: Slice, valid: Slice, params: Mapping[str, Any], feature_names: list[str]
) -> tuple[lgb.Booster, float]:
    """Train with early stopping on validation AP; returns the booster and its best AP."""
    train_set = lgb.Dataset(train.x, label=train.y, feature_name=feature_names, free_raw_data=True)
    valid_set = lgb.Dataset(valid.x, label=valid.y, reference=train_set)
    booster = lgb.train(
        dict(params),
        train_set,
        num_boost_round=MAX_TREES,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )
    score = float(booster.best_score["valid"]["average_precision"])
    return booster, score


def warm_start_params(previous: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The tuned subset of previously stored params that fits the current search space."""
    if not previous:
        return None
    chosen: dict[str, Any] = {}
    for name, (kind, low, high, _) in SEARCH_SPACE.items():
        value = previous.get(name)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if not (low <= value <= high) or (kind == "int" and float(value) != int(value)):
            return None
        chosen[name] = int(value) if kind == "int" else float(value)
    return chosen


def run_search(
    train: Slice,
    valid: Slice,
    feature_names: list[str],
    trials: int,
    timeout_s: float | None = None,
    seed: int = 7,
    previous_best: Mapping[str, Any] | None = None,
    on_trial: Callable[[int, float], None] | None = None,
    num_threads: int = MAX_THREADS,
) -> SearchResult:
    """Seeded TPE search; keeps the booster of the best trial."""
    optuna.logging.set_verbosity(logging.WARNING)
    base = base_params(train.y, seed, num_threads)
    best_so_far: dict[int, lgb.Booster] = {}  # only the leading trial's booster is kept

    def objective(trial: optuna.Trial) -> float:
        params = {**base, **_suggest(trial)}
        booster, score = fit_booster(train, valid, params, feature_names)
        score = score if math.isfinite(score) else 0.0
        trial.set_user_attr("best_iteration", int(booster.best_iteration or MAX_TREES))
        leader = trial.study.best_value if _has_complete(trial.study) else -math.inf
        if score > leader or not best_so_far:
            best_so_far.clear()
            best_so_far[trial.number] = _truncated(booster)
        return score

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    warm = warm_start_params(previous_best)
    if warm is not None:
        study.enqueue_trial(warm)
    callbacks = []
    if on_trial is not None:
        report = on_trial
        callbacks.append(lambda s, t: report(t.number + 1, float(s.best_value)))
    study.optimize(objective, n_trials=max(1, trials), timeout=timeout_s, callbacks=callbacks)
    best = study.best_trial
    chosen = best_so_far[best.number]
    return SearchResult(
        booster=chosen,
        params={**base, **best.params},
        search_params=dict(best.params),
        best_iteration=int(best.user_attrs["best_iteration"]),
        valid_pr_auc=float(best.value if best.value is not None else 0.0),
        trials=len(study.trials),
        warm_started=warm is not None,
    )


def _has_complete(study: optuna.Study) -> bool:
    return any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)


def _truncated(booster: lgb.Booster) -> lgb.Booster:
    """Drop the trees grown after the best iteration, so export and predict agree by design."""
    keep = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=keep))


def _suggest(trial: optuna.Trial) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    for name, (kind, low, high, log) in SEARCH_SPACE.items():
        if kind == "int":
            chosen[name] = trial.suggest_int(name, int(low), int(high), log=log)
        else:
            chosen[name] = trial.suggest_float(name, low, high, log=log)
    return chosen
