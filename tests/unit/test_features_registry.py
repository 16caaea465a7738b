"""The registry is complete and consistent; streams/features stays pure (no Kafka, no clock)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from streams.contracts.events import TARGETS
from streams.contracts.features import (
    FEATURE_SET_VERSION,
    GENESIS_FEATURES,
    GENESIS_NAMES,
    LABELS,
    STANDARD_FEATURES,
    STANDARD_NAMES,
)
from streams.features.docs import DEFAULT_PATH, render

FEATURES_DIR = Path(__file__).resolve().parents[2] / "streams" / "features"
REQUIRED_STANDARD = [
    "buy_sol",
    "tok_age_s",
    "tok_n_buys",
    "tok_n_unique_buyers",
    "tok_buys_60s",
    "tok_sol_volume_60s",
    "tok_price_mult_from_first",
    "tok_curve_progress",
    "tok_sell_buy_ratio_5m",
    "wal_n_resolved",
    "wal_win_rate_2x_1h",
    "cre_n_tokens",
    "cre_rug_rate",
    "cre_grad_rate",
    "cooc_cobuyers_in_token",
    "reg_hit_rate_2x_1h",
]
REQUIRED_GENESIS = [
    "gen_n_buys",
    "gen_n_unique_buyers",
    "gen_sol_volume",
    "gen_n_sniper_buys_slot0",
    "gen_bundle_size",
    "gen_creator_buy_sol",
    "gen_creator_sold",
    "gen_price_mult",
    "gen_curve_progress",
    "cre_n_tokens",
    "cre_rug_rate",
    "cre_grad_rate",
]


def test_counts_names_and_groups() -> None:
    assert len(STANDARD_FEATURES) == 68 and len(GENESIS_FEATURES) == 75
    assert len(set(STANDARD_NAMES)) == 68 and len(set(GENESIS_NAMES)) == 75
    assert set(REQUIRED_STANDARD) <= set(STANDARD_NAMES)
    assert set(REQUIRED_GENESIS) <= set(GENESIS_NAMES)
    assert {f.group for f in STANDARD_FEATURES} == {
        "buy", "token", "wallet", "creator", "cooccurrence", "regime",
    }  # fmt: skip
    for spec in (*STANDARD_FEATURES, *GENESIS_FEATURES):
        assert spec.definition and spec.unit and spec.missing, spec.name
    assert FEATURE_SET_VERSION.startswith("fs-")


def test_labels_match_the_outcome_contract() -> None:
    assert tuple(LABELS) == TARGETS
    assert all(label.definition and label.horizon_ms > 0 for label in LABELS.values())


def test_generated_docs_are_current() -> None:
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(), (
        "docs/features.md is stale: run python -m streams.features.docs"
    )


FORBIDDEN_MODULES = ("faust", "kafka", "aiokafka", "confluent_kafka", "time", "datetime", "mode")
CLOCK_ATTRS = {
    "now",
    "utcnow",
    "today",
    "time",
    "time_ns",
    "monotonic",
    "perf_counter",
    "process_time",
}


def purity_violations(source: str) -> list[str]:
    """Imports of Kafka/faust/clock modules and clock-looking calls in one module's source."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module] if node.module and node.level == 0 else []
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in CLOCK_ATTRS:
                problems.append(f"calls .{node.func.attr}() (line {node.lineno})")
            continue
        else:
            continue
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"imports {name} (line {node.lineno})")
    return problems


def test_the_purity_check_catches_violations() -> None:
    assert purity_violations("import time\nx = time.time()")
    assert purity_violations("from datetime import datetime\nd = datetime.now()")
    assert purity_violations("from confluent_kafka import Producer")
    assert purity_violations("import faust")
    assert not purity_violations("import math\nx = math.exp(1.0)")


@pytest.mark.parametrize("path", sorted(FEATURES_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_features_modules_import_no_kafka_and_read_no_clock(path: Path) -> None:
    assert purity_violations(path.read_text(encoding="utf-8")) == []
