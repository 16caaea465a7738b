"""The one contract every store runs: in-memory, ClickHouse on chdb, and a ClickHouse server
when ALPHASTREAM_TEST_CLICKHOUSE_DSN is set."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterator

import pandas as pd
import pytest

from streams.devtools.synthetic.store import Dataset, make_dataset
from streams.events import TARGETS, Outcome, Signal
from streams.store import connect, migrate
from streams.store.base import Store, StoreRejectedError
from streams.store.clickhouse import ClickHouseStore
from streams.store.memory import MemoryStore

SERVER_DSN = os.environ.get("ALPHASTREAM_TEST_CLICKHOUSE_DSN")
FEATURES = [f"f{i}" for i in range(5)]


@pytest.fixture(
    params=[
        "memory",
        pytest.param("chdb", marks=pytest.mark.integration),
        pytest.param(
            "server",
            marks=[
                pytest.mark.integration,
                pytest.mark.skipif(
                    SERVER_DSN is None,
                    reason="set ALPHASTREAM_TEST_CLICKHOUSE_DSN=http://user:pass@host:8123 to run against a server",
                ),
            ],
        ),
    ]
)
def store(request: pytest.FixtureRequest, unique_name: str) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    dsn = request.getfixturevalue("chdb_dsn") if request.param == "chdb" else SERVER_DSN
    assert dsn is not None
    client = connect(dsn, database=unique_name)
    migrate(client)
    try:
        yield ClickHouseStore(client)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {unique_name}")
        client.close()


@pytest.fixture(scope="module")
def data() -> Dataset:
    return make_dataset(120, seed=11)


def latest_outcomes(data: Dataset) -> dict[str, Outcome]:
    return {o.signal_event_id: o for o in data.outcomes if o.stage == "24h"}


def test_round_trip_keeps_every_field(store: Store, data: Dataset) -> None:
    store.write(data.signals, data.outcomes)
    with_nulls = next(
        s for s in data.signals if None in s.features and s.scores["reach_2x_1h"] is None
    )
    for signal in (data.signals[0], data.signals[-1], with_nulls):
        assert store.get_signal(signal.event_id) == signal
    some = data.outcomes[-1]
    assert store.get_outcome(some.signal_event_id) == some
    assert store.get_signal("no-such-id") is None
    assert store.get_outcome("no-such-id") is None


def test_redelivered_rows_deduplicate(store: Store, data: Dataset) -> None:
    store.write(data.signals, data.outcomes)
    store.write(data.signals[:40], data.outcomes[:40])  # a re-delivery after a crash
    store.write(data.signals[30:60], [])
    assert store.signal_count() == len(data.signals)
    assert store.outcome_count() == len(latest_outcomes(data))


def test_latest_stage_wins_whatever_the_arrival_order(store: Store, data: Dataset) -> None:
    first, final = data.outcomes[0], data.outcomes[1]
    assert (first.stage, final.stage) == ("1h", "24h")
    store.write([], [final])
    store.write([], [first])  # a late re-delivery of the 1h stage must not win
    assert store.get_outcome(first.signal_event_id) == final
    other_first, other_final = data.outcomes[2], data.outcomes[3]
    store.write([], [other_first])
    assert store.get_outcome(other_first.signal_event_id) == other_first
    store.write([], [other_final])
    assert store.get_outcome(other_first.signal_event_id) == other_final


def test_unstorable_rows_are_rejected_as_data(store: Store, data: Dataset) -> None:
    far_future = dataclasses.replace(data.signals[0], ts=10**15)
    with pytest.raises(StoreRejectedError):
        store.write([far_future], [])
    assert store.signal_count() == 0


@pytest.mark.parametrize("family,kind", [("standard", "buy"), ("genesis", "genesis")])
def test_training_frame_joins_each_signal_with_its_latest_outcome(
    store: Store, data: Dataset, family: str, kind: str
) -> None:
    store.write(data.signals, data.outcomes)
    store.write(data.signals[:10], data.outcomes[:10])
    frame = store.training_frame(family, FEATURES)  # type: ignore[arg-type]
    outcomes = latest_outcomes(data)
    expected = sorted(
        (s for s in data.signals if s.kind == kind and s.event_id in outcomes),
        key=lambda s: (s.ts, s.event_id),
    )
    assert list(frame["event_id"]) == [s.event_id for s in expected]
    assert len(frame) > 0
    for row, signal in zip(frame.itertuples(index=False), expected, strict=True):
        _assert_row_matches(row._asdict(), signal, outcomes[signal.event_id])
    assert str(frame["ts"].dt.tz) == "UTC"
    assert str(frame["label_resolved_ts"].dt.tz) == "UTC"


def _assert_row_matches(row: dict[str, object], signal: Signal, outcome: Outcome) -> None:
    for name, value in zip(FEATURES, signal.features, strict=True):
        got = row[name]
        assert isinstance(got, float)
        assert math.isnan(got) if value is None else got == value
    for target in TARGETS:
        assert row[target] == int(outcome.labels[target])
        served = signal.scores[target]
        got_p = row[f"p_{target}"]
        assert isinstance(got_p, float)
        assert math.isnan(got_p) if served is None else got_p == served
    assert row["peak_24h"] == outcome.peak_24h
    assert row["stage"] == "24h"
    assert row["rule_score"] == signal.rule_score
    assert row["models"] == signal.models
    assert row["ts"] == pd.Timestamp(signal.ts, unit="ms", tz="UTC")
    assert row["label_resolved_ts"] == pd.Timestamp(outcome.ts, unit="ms", tz="UTC")


def test_training_frame_keeps_unresolved_signals_on_request(store: Store, data: Dataset) -> None:
    store.write(data.signals, data.outcomes)
    frame = store.training_frame("standard", FEATURES, resolved_only=False)
    buys = [s for s in data.signals if s.kind == "buy"]
    resolved = latest_outcomes(data)
    assert len(frame) == len(buys)
    unresolved = frame[~frame["event_id"].isin(list(resolved))]
    assert len(unresolved) == sum(1 for s in buys if s.event_id not in resolved) > 0
    assert unresolved["reach_2x_1h"].isna().all()
    assert frame.loc[frame["event_id"].isin(list(resolved)), "reach_2x_1h"].notna().all()


def test_training_frame_filters_by_feature_set_and_refuses_wrong_widths(
    store: Store, data: Dataset
) -> None:
    other = make_dataset(16, seed=3, n_features=3, feature_set="test-v0")
    renamed = [dataclasses.replace(s, event_id="old-" + s.event_id) for s in other.signals]
    renamed_out = [
        dataclasses.replace(
            o, signal_event_id="old-" + o.signal_event_id, event_id="old-" + o.event_id
        )
        for o in other.outcomes
    ]
    store.write([*data.signals, *renamed], [*data.outcomes, *renamed_out])
    frame = store.training_frame("standard", FEATURES, "test-v1")
    assert len(frame) > 0
    assert set(frame["feature_set"]) == {"test-v1"}
    with pytest.raises(ValueError, match="features"):
        store.training_frame("standard", FEATURES)
