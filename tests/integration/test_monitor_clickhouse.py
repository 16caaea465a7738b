"""The ClickHouse path of the monitor on the session's chdb store, rows written by streams.store."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from clickhouse_connect.driver.client import Client

from streams import store
from streams.events import Outcome, Signal
from streams.monitor.clickhouse import read_frame, scored_models
from streams.monitor.evaluate import evaluate
from streams.monitor.metrics import Bins, ModelReference
from streams.store.clickhouse import ClickHouseStore

pytestmark = pytest.mark.integration

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
TARGETS = ("reach_2x_1h", "reach_3x_30m", "reach_2x_10m", "is_dead_soon")


def _signal(i: int, model: str | None, p: float | None, width: int = 3) -> Signal:
    scores = {t: None for t in TARGETS} | {"reach_2x_1h": p}
    return Signal(
        schema_version=1,
        type="signal",
        event_id=f"s{i}",
        ts=T0 + i * 60_000,
        mint=f"m{i % 7}",
        source_event_id=f"b{i}",
        kind="buy",
        wallet=f"w{i}",
        creator="c",
        scored_at=T0 + i * 60_000 + 5,
        price=1.0,
        scores=scores,
        rule_score=0.5,
        source="model" if model else "rule",
        models={"reach_2x_1h": model} if model else {},
        percentile_1h=None,
        feature_set="fs1",
        features=[float(i), None, float(2 * i)][:width] + [0.0] * (width - 3),
        raw_scores=scores,
    )


def _outcome(s: Signal, stage: str, hit: bool, resolved_ms: int) -> Outcome:
    return Outcome(
        schema_version=1,
        type="outcome",
        event_id=f"{s.event_id}:o{stage}",
        ts=resolved_ms,
        mint=s.mint,
        signal_event_id=s.event_id,
        kind="buy",
        wallet=s.wallet,
        creator=s.creator,
        signal_ts=s.ts,
        stage=stage,
        price=1.0,
        peak_10m=1.0,
        peak_30m=1.0,
        peak_1h=2.5 if hit else 1.1,
        peak_4h=None,
        peak_24h=None,
        min_1h=0.5,
        labels={
            "reach_2x_1h": hit,
            "reach_3x_30m": False,
            "reach_2x_10m": False,
            "is_dead_soon": False,
        },
    )


@pytest.fixture
def client(chdb_dsn: str, unique_name: str) -> Iterator[Client]:
    ch = store.connect(chdb_dsn, database=unique_name)
    store.migrate(ch)
    yield ch
    ch.command(f"DROP DATABASE IF EXISTS {unique_name}")
    ch.close()


def test_reads_scores_labels_and_features_per_model_version(client: Client) -> None:
    signals = [_signal(i, "m@v1" if i < 60 else "m@v2", 0.1 + (i % 10) / 20) for i in range(120)]
    signals.append(_signal(500, None, None))  # rule-only: no model score, not monitored
    signals.append(_signal(121, "m@v2", 0.3, width=4))  # another feature width: features NaN
    outcomes = []
    for s in signals[:90]:  # the first 90 resolve at +1h, the first 30 of them again at +24h
        hit = int(s.event_id[1:]) % 3 == 0
        outcomes.append(_outcome(s, "1h", hit, s.ts + HOUR))
        if int(s.event_id[1:]) < 30:
            outcomes.append(_outcome(s, "24h", hit, s.ts + 24 * HOUR))
    db = ClickHouseStore(client)
    db.write(signals, outcomes)
    db.write(signals[:10], outcomes[:10])  # re-delivery must not double count

    until = T0 + 3 * HOUR
    assert scored_models(client, "reach_2x_1h", T0, until) == ["m@v1", "m@v2"]
    positions = {"f_a": 0, "f_c": 2}
    frame = read_frame(client, "reach_2x_1h", T0, until, {"m@v2": (positions, 3)})

    assert list(frame["model"].value_counts().sort_index().items()) == [("m@v1", 60), ("m@v2", 61)]
    resolved = frame.loc[frame["label"].notna()]
    assert len(resolved) == 90
    by_id = frame.set_index("event_id")
    assert by_id.loc["s3", "label"] == 1.0 and by_id.loc["s4", "label"] == 0.0
    # labels resolve at the 1h stage even when the 24h stage has merged in
    assert by_id.loc["s3", "resolved_ts"] == signals[3].ts + HOUR
    assert np.isnan(by_id.loc["s100", "label"]) and np.isnan(by_id.loc["s100", "resolved_ts"])
    assert by_id.loc["s70", "score"] == pytest.approx(0.1)
    assert (by_id.loc["s70", "f_a"], by_id.loc["s70", "f_c"]) == (70.0, 140.0)
    assert np.isnan(by_id.loc["s121", "f_a"])  # served with another vector width
    assert "f_a" in frame.columns and np.isnan(by_id.loc["s10", "f_a"])  # v1: no positions asked

    # as of a moment before most labels resolved, only those resolved by then count
    early = read_frame(client, "reach_2x_1h", T0, until, as_of_ms=T0 + HOUR + 30 * 60_000)
    assert int(early["label"].notna().sum()) == 31  # signals 0..30 resolved by 1h30m

    reference = ModelReference(score=Bins(edges=(0.2, 0.4), fractions=(0.2, 0.4, 0.4)))
    results = evaluate(frame, {"m@v2": reference}, T0, until, HOUR)
    assert [(r.model, r.has_reference) for r in results] == [("m@v1", False), ("m@v2", True)]
    v2 = results[1]
    assert v2.period.metrics.signals == 61 and v2.period.metrics.resolved == 30
    assert [w.metrics.signals for w in v2.windows] == [0, 60, 1]  # minutes 60-119 and 121
