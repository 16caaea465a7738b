"""One sequencer and one worker on real Apache Kafka: a simulated hour in, exactly one score per
buy out, one dead-letter per bad message, and served features identical to the offline replay
of the market log (and, the input being produced in order, to the replay of the events)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from streams.app import TopicNames, WorkerOptions, run_worker
from streams.app.faust_app import StreamWorker
from streams.devtools.harness import (
    Collector,
    bad_messages,
    feature_agreement,
    log_replay_features,
    new_producer,
    produce_events,
    produce_raw,
    replay_features,
    sequencer_running,
    sim_events,
)
from streams.events import TARGETS
from streams.events.decode import validate_output
from streams.kafka_admin import create_prefixed_topics
from streams.store import connect, migrate
from streams.store.clickhouse import ClickHouseStore
from streams.store.sink import KafkaSink, SinkConfig
from tests.conftest import SettingsFor, unique_id
from tests.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class Run:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.bad: list[tuple[str, bytes, bytes | None, str]] = []
        self.out: dict[str, list[dict[str, Any]]] = {}
        self.topics = TopicNames()
        self.expected_features: dict[str, list[float | None]] = {}
        self.log_features: dict[str, list[float | None]] = {}
        self.worker: StreamWorker | None = None
        self.completed = False
        self.replay_dir = Path()
        self.bootstrap = ""


@pytest.fixture(scope="module")
def single_run(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    tmp = tmp_path_factory.mktemp("stream-single")
    settings = settings_for(kafka_bootstrap, models_dir=tmp / "models", log_batch=128)
    prefix = unique_id("single") + "."
    run = Run()
    run.topics = topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    run.events = sim_events(seed=11, hours=1.25, launch_rate_per_day=1200)
    run.bad = bad_messages(topics, run.events)
    producer = new_producer(settings)
    half = len(run.events) // 2
    produce_events(producer, topics, run.events[:half], in_order=True)
    for topic, payload, key, _ in run.bad:  # poison in the middle of the stream
        produce_raw(producer, topic, payload, key)
    produce_events(producer, topics, run.events[half:], in_order=True)
    run.expected_features = replay_features(run.events, Path(tmp) / "replay")
    run.replay_dir = Path(tmp) / "replay" / "replay"
    run.bootstrap = kafka_bootstrap

    n_buys = sum(e["type"] == "wallet_buy" for e in run.events)
    collector = Collector(
        settings, [topics.scores, topics.signals, topics.dead_letter, topics.outcomes]
    )
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    holder: dict[str, StreamWorker] = {}

    def serve() -> None:
        async def main() -> None:
            holder["worker"] = await run_worker(settings, stop, WorkerOptions(topics=topics))

        loop.run_until_complete(main())

    thread = threading.Thread(target=serve, daemon=True)
    with sequencer_running(settings, topics):
        thread.start()
        run.completed = _wait_scored(collector, topics, n_buys, len(run.bad))
        loop.call_soon_threadsafe(stop.set)
        thread.join(60)
    collector.close()
    run.log_features = log_replay_features(settings, topics, Path(tmp) / "log-replay")
    run.out = collector.records
    run.worker = holder.get("worker")
    return run


def _wait_scored(collector: Collector, topics: TopicNames, n_buys: int, n_bad: int) -> bool:
    return collector.wait_for(
        lambda: (
            sum(1 for s in collector.records[topics.scores] if s["kind"] == "buy") >= n_buys
            and len(collector.records[topics.dead_letter]) >= n_bad
        ),
        timeout_s=120,
        settle_s=3.0,
    )


def test_every_buy_scored_exactly_once(single_run: Run) -> None:
    assert single_run.completed, "worker did not score every buy in time"
    topics = single_run.topics
    buy_ids = [e["event_id"] for e in single_run.events if e["type"] == "wallet_buy"]
    genesis_ids = {e["event_id"] for e in single_run.events if e["type"] == "token_genesis"}
    scores = single_run.out[topics.scores]
    by_kind = Counter(s["kind"] for s in scores)
    buy_scores = [s for s in scores if s["kind"] == "buy"]
    assert len(buy_scores) == len(buy_ids)
    assert sorted(s["source_event_id"] for s in buy_scores) == sorted(buy_ids)
    assert all(s["event_id"] == s["source_event_id"] + ":s" for s in scores)
    # the rest are closed genesis windows, each once and only for real genesis events
    genesis_scores = [
        s["source_event_id"].removesuffix(":g60") for s in scores if s["kind"] == "genesis"
    ]
    assert len(genesis_scores) == len(set(genesis_scores)) == by_kind["genesis"]
    assert set(genesis_scores) <= genesis_ids and genesis_scores, "no genesis window was scored"
    assert set(by_kind) <= {"buy", "genesis"}


def test_each_bad_message_dead_lettered_once(single_run: Run) -> None:
    letters = single_run.out[single_run.topics.dead_letter]
    assert len(letters) == len(single_run.bad)
    assert sorted(d["reason"] for d in letters) == sorted(reason for *_, reason in single_run.bad)
    for letter in letters:
        validate_output({k: v for k, v in letter.items() if k != "_kafka_ts_ms"}, "dead-letter")


def test_outputs_match_their_schemas(single_run: Run) -> None:
    topics = single_run.topics
    for topic, schema in (
        (topics.scores, "score"),
        (topics.signals, "signal"),
        (topics.outcomes, "outcome"),
    ):
        records = single_run.out[topic]
        assert records, f"nothing on {topic}"
        for record in records[:: max(1, len(records) // 50)]:
            validate_output({k: v for k, v in record.items() if k != "_kafka_ts_ms"}, schema)


def test_served_features_equal_offline_replay(single_run: Run) -> None:
    signals = single_run.out[single_run.topics.signals]
    equal, compared, differ = feature_agreement(signals, single_run.expected_features)
    buys = sum(1 for s in signals if s["kind"] == "buy")
    assert buys == sum(e["type"] == "wallet_buy" for e in single_run.events)
    assert compared == len(signals), "a served signal has no replay row"
    assert differ == [] and equal == compared
    # by construction: the replay of the very log the worker applied
    equal, compared, differ = feature_agreement(signals, single_run.log_features)
    assert compared == len(signals) and differ == [] and equal == compared


def test_outcomes_published_once_each(single_run: Run) -> None:
    outcomes = single_run.out[single_run.topics.outcomes]
    ids = [o["event_id"] for o in outcomes]
    assert ids and len(ids) == len(set(ids))
    last_ts = max(e["ts"] for e in single_run.events)
    assert all(o["ts"] <= last_ts for o in outcomes)  # resolved on event time only


def _replay_labels(replay_dir: Path) -> dict[str, tuple[int, ...]]:
    """signal event_id -> its resolved labels in the offline replay (unresolved rows left out)."""
    labels: dict[str, tuple[int, ...]] = {}
    for name in ("buys.parquet", "genesis.parquet"):
        table = pq.read_table(replay_dir / name, columns=["event_id", *TARGETS]).to_pydict()
        for i, event_id in enumerate(table["event_id"]):
            values = [table[t][i] for t in TARGETS]
            if None not in values:
                labels[event_id] = tuple(int(v) for v in values)
    return labels


def test_sink_stores_what_was_served_and_the_join_reproduces_replay_labels(
    single_run: Run, chdb_dsn: str, unique_name: str
) -> None:
    """Issue 6: the hour goes on through the sink; counts match after dedup and the
    signals-outcomes join in ClickHouse gives the offline replay's labels."""
    topics = single_run.topics
    served = {s["event_id"] for s in single_run.out[topics.signals]}
    resolved = {o["signal_event_id"] for o in single_run.out[topics.outcomes]}
    assert served and resolved <= served
    client = connect(chdb_dsn, database=unique_name)
    migrate(client)
    config = SinkConfig(
        signals_topic=topics.signals,
        outcomes_topic=topics.outcomes,
        dead_letter_topic=topics.dead_letter,
        group_id=unique_id("sink"),
        max_wait_s=0.5,
    )
    sink = KafkaSink(
        {"bootstrap.servers": single_run.bootstrap},
        lambda: ClickHouseStore(connect(chdb_dsn, database=unique_name)),
        config,
    )

    def stored() -> tuple[int, int]:
        signals = client.query("SELECT count() FROM signals FINAL").result_rows[0][0]
        outcomes = client.query("SELECT uniqExact(signal_event_id) FROM outcomes").result_rows[0][0]
        return int(signals), int(outcomes)

    wanted = (len(served), len(resolved))
    stop = threading.Event()
    thread = threading.Thread(target=sink.run, args=(stop,), daemon=True)
    thread.start()
    try:
        counts = poll_until(stored, until=lambda now: now == wanted, timeout_s=120, interval_s=0.5)
    finally:
        stop.set()
        thread.join(60)
    assert counts == wanted
    joined = client.query(
        "SELECT s.source_event_id, "
        + ", ".join(f"o.{t}" for t in TARGETS)
        + " FROM signals AS s FINAL INNER JOIN outcomes AS o FINAL ON o.signal_event_id = s.event_id"
    ).result_rows
    client.command(f"DROP DATABASE IF EXISTS {unique_name}")
    client.close()
    expected = _replay_labels(single_run.replay_dir)
    got = {row[0]: tuple(int(v) for v in row[1:]) for row in joined}
    assert len(got) == len(resolved)
    assert got.keys() <= expected.keys()
    assert {k: expected[k] for k in got} == got
