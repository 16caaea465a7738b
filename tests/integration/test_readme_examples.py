"""The README's trader example is the tested file ``examples/trader.py``, and it does what it says."""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from types import ModuleType

import orjson
from confluent_kafka import Producer

from streams.events import Score
from streams.events.decode import encode, validate_output
from streams.kafka_admin import create_topics
from tests.conftest import SettingsFor, unique_id

ROOT = Path(__file__).resolve().parents[2]
TRADER = ROOT / "examples" / "trader.py"


def _load_trader() -> ModuleType:
    spec = importlib.util.spec_from_file_location("trader_example", TRADER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _score(mint: str, kind: str, p: float | None, dead: float | None, rule: float) -> Score:
    return Score(
        schema_version=1,
        type="score",
        event_id=unique_id("s"),
        ts=int(time.time() * 1000),
        mint=mint,
        source_event_id=unique_id("e"),
        kind=kind,
        wallet="W" if kind == "buy" else None,
        creator="C",
        scored_at=int(time.time() * 1000),
        price=3e-8,
        scores={"reach_2x_1h": p, "reach_3x_30m": None, "reach_2x_10m": None, "is_dead_soon": dead},
        rule_score=rule,
        source="model" if p is not None else "rule",
        models={},
        percentile_1h=0.95,
        feature_set="fs-1",
    )


def test_readme_shows_the_trader_example_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert TRADER.read_text() in blocks
    assert len(TRADER.read_text().splitlines()) <= 40


def test_trader_example_buys_on_threshold_and_respects_the_dead_soon_veto(
    tansu_bootstrap: str, settings_for: SettingsFor
) -> None:
    create_topics(settings_for(tansu_bootstrap))
    scores = [
        _score("MintGood", "buy", 0.60, 0.10, 0.2),  # acts
        _score("MintVetoed", "buy", 0.70, 0.90, 0.2),  # dead-soon veto
        _score("MintGenesis", "genesis", 0.90, 0.05, 0.9),  # not a buy signal
        _score("MintRuleOnly", "buy", None, None, 0.45),  # no model yet: rule score stands in
        _score("MintWeak", "buy", 0.05, 0.10, 0.9),  # below threshold
    ]
    producer = Producer({"bootstrap.servers": tansu_bootstrap})
    for s in scores:
        validate_output(orjson.loads(encode(s)), "score")
        producer.produce("scores", key=s.mint.encode(), value=encode(s))
    assert producer.flush(10) == 0
    trader = _load_trader()
    actions = trader.run(tansu_bootstrap, max_messages=len(scores), deadline_s=60.0)
    assert sorted(a["buy"] for a in actions) == ["MintGood", "MintRuleOnly"]
