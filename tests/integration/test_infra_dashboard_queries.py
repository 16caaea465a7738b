"""Every ClickHouse query of the Grafana dashboards, rendered, runs on chdb against the real schema.

The data goes the way production data goes, minus Kafka: a simulated market (plus one token
bought out to graduation) through the worker's stream core with deployed synthetic models, and
the records it publishes on `signals` and `outcomes` through the sink's batch writer into chdb.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from clickhouse_connect.driver.client import Client
from prometheus_client import CollectorRegistry

from streams.app.handover import HandoverBuffer, ShardProgress
from streams.app.metrics import WorkerMetrics
from streams.app.replica import Replica
from streams.app.shards import ShardMap
from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.devtools.harness import log_records, sim_events
from streams.devtools.synthetic.models import synthetic_pair
from streams.events import TARGETS, InputEvent, decode_input
from streams.features.engine import FeatureEngine
from streams.scoring import ModelRegistry, Scorer
from streams.store import connect, migrate, refresh_summaries
from streams.store.batch import BatchWriter, RawMessage
from streams.store.clickhouse import ClickHouseStore
from streams.store.endpoint import READONLY
from streams.store.metrics import SinkMetrics
from streams.testing import Curve, canonical, make_buy, make_genesis
from streams.topics import TopicNames
from tests.grafana import CLICKHOUSE_TYPE, Query, dashboards, queries, render_sql, variables
from training.export import deploy_pair

pytestmark = pytest.mark.integration
TOPICS = TopicNames()

# The columns each panel's query must return: Grafana maps them by name (time = the x axis).
EXPECTED_COLUMNS = {
    ("sink", "Rows stored per minute"): ["time", "table", "rows"],
    ("worker", "Duplicate deliveries in the store"): ["time", "duplicate_signals"],
    ("market", "Hourly hit rate against mean predicted probability"): ["time", "hit_rate", "mean_p"],
    ("market", "Calibration by decile"): ["decile", "signals", "mean_p", "hit_rate"],
    ("market", "Signals per hour by scorer"): ["time", "source", "signals"],
    ("market", "Model versions in service"): ["model", "scored", "first_used", "last_used", "mean_p"],
    ("market", "Recent launches"): [
        "mint", "creator", "launched", "p_genesis", "wallets", "buys", "peak_1h", "fate",
    ],
    ("market", "Recent graduations"): [
        "mint", "graduated_at", "price_at_graduation", "buys_after", "best_p",
    ],
    ("market", "Top decile of the last hour"): [
        "ts", "mint", "wallet", "p", "percentile_1h", "source",
    ],
}  # fmt: skip
SQL_QUERIES = queries(CLICKHOUSE_TYPE)


@dataclass(frozen=True)
class Loaded:
    client: Client
    from_ms: int
    to_ms: int


def _graduating_token(start_ms: int) -> list[InputEvent]:
    """One launch bought out within minutes, then traded on the AMM (the simulator rarely does)."""
    curve, mint = Curve(), "GRADUATEDTESTMINT1111111111111111111111111"
    events: list[InputEvent] = [
        make_genesis(mint, start_ms + 60_000, creator="GRADCREATOR", curve=curve)
    ]
    for i in range(8):
        events.append(make_buy(curve, mint, f"GRADWALLET{i}", 20.0, start_ms + 90_000 + i * 30_000))
    assert curve.graduated
    return events


def _deploy_models(models_dir: Path) -> None:
    for family, names in (("standard", STANDARD_NAMES), ("genesis", GENESIS_NAMES)):
        for i, target in enumerate(TARGETS):
            pair = synthetic_pair(names, family=family, target=target, seed=i)
            deploy_pair(pair.onnx_bytes, pair.metadata, models_dir)


def _stream_records(events: list[InputEvent], models_dir: Path) -> list[tuple[str, bytes]]:
    """Run the worker's core over the events as one market log, owning every shard; its
    published records."""
    registry = ModelRegistry(
        models_dir, {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}, 300.0
    )
    replica = Replica(FeatureEngine(), Scorer(registry), feature_set="fs-dash", topics=TOPICS,
                      shards=ShardMap(1), buffer=HandoverBuffer(60.0, 1000), metrics=WorkerMetrics())  # fmt: skip
    replica.take_over({0: ShardProgress()}, 0.0)
    box = replica.apply(log_records(events), 1.0)
    return [(out.topic, out.value) for out in box.outputs]


@pytest.fixture(scope="module")
def loaded(chdb_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    raw = sim_events(seed=11, hours=1.5, launch_rate_per_day=600)
    events = canonical(
        [decode_input(orjson.dumps(e)) for e in raw] + _graduating_token(raw[0]["ts"])
    )
    models_dir = tmp_path_factory.mktemp("dash-models")
    _deploy_models(models_dir)
    records = _stream_records(events, models_dir)
    database = "grafana_dashboards"
    client = connect(chdb_dsn, database=database)
    migrate(client)
    writer = BatchWriter(lambda: ClickHouseStore(client), TOPICS.signals, TOPICS.outcomes,
                         SinkMetrics(CollectorRegistry()))  # fmt: skip
    messages = [
        RawMessage(topic, 0, i, None, value)
        for i, (topic, value) in enumerate(records)
        if topic in (TOPICS.signals, TOPICS.outcomes)
    ]
    assert not writer.process(messages), "the sink dead-lettered stream output"
    assert not writer.process(messages[:50]), "re-delivered"  # at-least-once: a redelivery
    refresh_summaries(client)
    span = client.query(
        "SELECT toUnixTimestamp64Milli(min(ts)), toUnixTimestamp64Milli(max(ts)) FROM signals"
    )
    from_ms, last_ms = span.result_rows[0]
    now_ms = int(client.query("SELECT toUnixTimestamp64Milli(now64(3))").result_rows[0][0])
    try:
        # the range covers the event times and the insert times (`inserted_at` is the wall clock)
        yield Loaded(client, int(from_ms), max(int(last_ms), now_ms) + 60_000)
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")
        client.close()


def test_every_clickhouse_panel_has_expected_columns() -> None:
    assert {(q.dashboard, q.panel) for q in SQL_QUERIES} == set(EXPECTED_COLUMNS)


def _cases() -> list[tuple[Query, dict[str, str]]]:
    """Each query once per value of the dashboard's custom variables (constants fixed)."""
    cases = []
    for query in SQL_QUERIES:
        board = dashboards()[query.dashboard]
        fixed = {n: v["query"] for n, v in variables(board).items() if v["type"] == "constant"}
        choices = [o["value"] for o in variables(board).get("target", {}).get("options", [])]
        for value in choices or [""]:
            cases.append((query, {**fixed, **({"target": value} if value else {})}))
    return cases


@pytest.mark.parametrize(
    ("query", "values"), _cases(),
    ids=[f"{q.dashboard}-{q.panel}-{v.get('target', '')}".replace(" ", "_") for q, v in _cases()],
)  # fmt: skip
def test_rendered_query_runs_on_chdb_and_returns_rows(
    loaded: Loaded, query: Query, values: dict[str, str]
) -> None:
    sql = render_sql(query.text, from_ms=loaded.from_ms, to_ms=loaded.to_ms, values=values)
    assert "$" not in sql
    result = loaded.client.query(sql, settings=READONLY)  # as Grafana's read-only user would
    assert list(result.column_names) == EXPECTED_COLUMNS[(query.dashboard, query.panel)]
    assert result.result_rows, f"{query.panel}: no rows for {values}"


def test_the_renderer_expands_macros_and_rejects_unknown_ones() -> None:
    sql = "SELECT 1 WHERE $__timeFilter(ts) AND x = '${v}' AND $__toTime > $__fromTime_ms"
    out = render_sql(sql, from_ms=1_000_500, to_ms=2_000_500, values={"v": "a"})
    assert out == (
        "SELECT 1 WHERE ts >= toDateTime(1000) AND ts <= toDateTime(2001) AND x = 'a'"
        " AND toDateTime(2001) > fromUnixTimestamp64Milli(1000500)"
    )
    with pytest.raises(ValueError, match="unsupported"):
        render_sql("$__conditionalAll(x, $v)", from_ms=0, to_ms=1, values={"v": "a"})
    with pytest.raises(KeyError):
        render_sql("${missing}", from_ms=0, to_ms=1, values={})
