"""The sink end to end: real Apache Kafka -> KafkaSink -> ClickHouse on chdb."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import CollectorRegistry

from streams.devtools.local.process import free_port
from streams.devtools.synthetic.store import Dataset, make_dataset
from streams.events import encode
from streams.store import connect, migrate
from streams.store.base import Store
from streams.store.batch import Backoff
from streams.store.clickhouse import ClickHouseStore
from streams.store.dsn import parse_dsn
from streams.store.endpoint import run_query
from streams.store.metrics import SinkMetrics
from streams.store.service import run
from streams.store.sink import KafkaSink, SinkConfig
from tests.conftest import SettingsFor
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
WAIT_S = 60.0


@pytest.fixture
def config(kafka_bootstrap: str, unique_name: str) -> SinkConfig:
    cfg = SinkConfig(
        signals_topic=f"{unique_name}-signals", outcomes_topic=f"{unique_name}-outcomes",
        dead_letter_topic=f"{unique_name}-dead", group_id=f"{unique_name}-sink",
        max_rows=40, max_wait_s=0.3, backoff=Backoff(initial_s=0.1, max_s=0.5),
    )  # fmt: skip
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    futures = admin.create_topics(
        [
            NewTopic(cfg.signals_topic, num_partitions=3, replication_factor=1),
            NewTopic(cfg.outcomes_topic, num_partitions=3, replication_factor=1),
            NewTopic(cfg.dead_letter_topic, num_partitions=1, replication_factor=1),
        ]
    )
    for fut in futures.values():
        fut.result(30)
    return cfg


@pytest.fixture
def database(chdb_dsn: str, unique_name: str) -> Iterator[str]:
    client = connect(chdb_dsn, database=unique_name)
    migrate(client)
    try:
        yield unique_name
    finally:
        client.command(f"DROP DATABASE IF EXISTS {unique_name}")
        client.close()


def _produce(
    bootstrap: str, config: SinkConfig, data: Dataset, extra: list[tuple[str, bytes]]
) -> int:
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = 0
    for signal in data.signals:
        producer.produce(config.signals_topic, encode(signal), key=signal.mint.encode())
        sent += 1
    for outcome in data.outcomes:
        producer.produce(config.outcomes_topic, encode(outcome), key=outcome.mint.encode())
        sent += 1
    for topic, payload in extra:
        producer.produce(topic, payload, key=b"bad-mint")
        sent += 1
    assert producer.flush(30) == 0
    return sent


def _committed(bootstrap: str, config: SinkConfig) -> dict[tuple[str, int], int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": config.group_id})
    try:
        parts = [
            TopicPartition(t, p)
            for t in (config.signals_topic, config.outcomes_topic)
            for p in range(3)
        ]
        return {(tp.topic, tp.partition): tp.offset for tp in probe.committed(parts, timeout=10)}
    except KafkaException:  # coordinator still loading / moving: ask again
        return {}
    finally:
        probe.close()


def _end_offsets(bootstrap: str, config: SinkConfig) -> dict[tuple[str, int], int]:
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": config.group_id + "-probe"})
    try:
        return {
            (t, p): probe.get_watermark_offsets(TopicPartition(t, p), timeout=10)[1]
            for t in (config.signals_topic, config.outcomes_topic)
            for p in range(3)
        }
    finally:
        probe.close()


def _caught_up(bootstrap: str, config: SinkConfig, ends: dict[tuple[str, int], int]) -> bool:
    """Committed offsets reached the end of every partition that holds messages."""
    committed = _committed(bootstrap, config)
    return bool(committed) and all(committed[k] == end for k, end in ends.items() if end > 0)


def _dead_letters(bootstrap: str, topic: str, expected: int) -> list[dict[str, object]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": topic + "-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    found: list[dict[str, object]] = []
    deadline = time.monotonic() + WAIT_S
    try:
        while len(found) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                found.append(orjson.loads(msg.value() or b""))
    finally:
        consumer.close()
    return found


class _Running:
    def __init__(self, sink: KafkaSink) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=sink.run, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_sink_stores_dedups_and_dead_letters(
    kafka_bootstrap: str, chdb_dsn: str, config: SinkConfig, database: str
) -> None:
    data = make_dataset(80, seed=21)
    resent = Dataset(data.signals[:15], data.outcomes[:15])  # re-delivered by an upstream retry
    bad = [
        (config.signals_topic, b'{"type": "signal", "event_id": '),  # truncated JSON
        (
            config.outcomes_topic,
            orjson.dumps({**orjson.loads(encode(data.outcomes[0])), "stage": "3d"}),
        ),
    ]
    sent = _produce(kafka_bootstrap, config, data, bad) + _produce(
        kafka_bootstrap, config, resent, []
    )
    metrics = SinkMetrics(CollectorRegistry())
    sink = KafkaSink(
        {"bootstrap.servers": kafka_bootstrap}, lambda: ClickHouseStore(connect(chdb_dsn, database=database)),
        config, metrics,
    )  # fmt: skip
    running = _Running(sink)
    try:
        ends = _end_offsets(kafka_bootstrap, config)
        wait_until(
            lambda: _caught_up(kafka_bootstrap, config, ends),
            timeout_s=WAIT_S,
            what="offsets committed to the end",
        )
    finally:
        running.close()
    store = ClickHouseStore(connect(chdb_dsn, database=database))
    assert store.signal_count() == len(data.signals)
    assert store.outcome_count() == len({o.signal_event_id for o in data.outcomes})
    assert store.get_signal(data.signals[7].event_id) == data.signals[7]
    rows_in = metrics.value("rows_in", topic=config.signals_topic) + metrics.value(
        "rows_in", topic=config.outcomes_topic
    )
    assert rows_in == sent
    inserted = metrics.value("rows_inserted", table="signals") + metrics.value(
        "rows_inserted", table="outcomes"
    )
    assert inserted == sent - len(bad)
    letters = _dead_letters(kafka_bootstrap, config.dead_letter_topic, 2)
    assert sorted((str(d["source_topic"]), str(d["reason"])) for d in letters) == sorted(
        [(config.signals_topic, "bad_json"), (config.outcomes_topic, "bad_value")]
    )
    assert all(d["mint"] == "bad-mint" for d in letters)
    assert metrics.value("dead_lettered", reason="bad_json") == 1
    assert metrics.value("dead_lettered", reason="bad_value") == 1


def test_sink_waits_out_a_dead_clickhouse_without_losing_or_committing(
    kafka_bootstrap: str, chdb_dsn: str, config: SinkConfig, database: str
) -> None:
    data = make_dataset(60, seed=33)
    sent = _produce(kafka_bootstrap, config, data, [])
    dead_dsn = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    restored = threading.Event()
    attempts: list[str] = []

    def factory() -> Store:
        attempts.append("chdb" if restored.is_set() else "dead")
        return ClickHouseStore(
            connect(chdb_dsn if restored.is_set() else dead_dsn, database=database)
        )

    metrics = SinkMetrics(CollectorRegistry())
    running = _Running(KafkaSink({"bootstrap.servers": kafka_bootstrap}, factory, config, metrics))
    try:
        wait_until(
            lambda: metrics.value("insert_retries") >= 4,
            timeout_s=WAIT_S,
            what="retries against the dead store",
        )
        committed = wait_until(
            lambda: _committed(kafka_bootstrap, config), timeout_s=WAIT_S, what="committed()"
        )
        assert all(offset < 0 for offset in committed.values()), "committed during outage"
        assert ClickHouseStore(connect(chdb_dsn, database=database)).signal_count() == 0
        assert (
            metrics.value("rows_in", topic=config.signals_topic) <= config.max_rows
        )  # paused: one batch only
        restored.set()
        ends = _end_offsets(kafka_bootstrap, config)
        wait_until(
            lambda: _caught_up(kafka_bootstrap, config, ends),
            timeout_s=WAIT_S,
            what="offsets committed after recovery",
        )
    finally:
        running.close()
    store = ClickHouseStore(connect(chdb_dsn, database=database))
    assert store.signal_count() == len(data.signals)
    assert store.outcome_count() == len({o.signal_event_id for o in data.outcomes})
    assert "dead" in attempts and attempts[-1] == "chdb"
    rows_in = metrics.value("rows_in", topic=config.signals_topic) + metrics.value(
        "rows_in", topic=config.outcomes_topic
    )
    assert rows_in == sent  # every message went through exactly one (retried) batch


def test_run_api_migrates_sinks_and_serves_sql_until_stopped(
    kafka_bootstrap: str,
    chdb_dsn: str,
    config: SinkConfig,
    unique_name: str,
    settings_for: SettingsFor,
) -> None:
    dsn = f"{chdb_dsn}?database={unique_name}"
    settings = settings_for(kafka_bootstrap, clickhouse_dsn=dsn)
    data = make_dataset(30, seed=8)
    _produce(kafka_bootstrap, config, data, [])
    stop, ready = threading.Event(), threading.Event()
    thread = threading.Thread(target=run, args=(settings, stop, config, SinkMetrics(CollectorRegistry())),
                              kwargs={"ready": ready}, daemon=True)  # fmt: skip
    thread.start()
    endpoint = parse_dsn(dsn).endpoint_file
    assert endpoint is not None
    try:
        assert ready.wait(WAIT_S)
        assert endpoint.exists()

        def stored() -> int:
            result, via = run_query(dsn, "SELECT count() FROM signals FINAL")
            assert via.startswith("endpoint")
            return int(result.rows[0][0])

        wait_until(
            lambda: stored() == len(data.signals), timeout_s=WAIT_S, what="signals stored by run()"
        )
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert not endpoint.exists()
    client = connect(dsn)
    client.command(f"DROP DATABASE IF EXISTS {unique_name}")
    client.close()
