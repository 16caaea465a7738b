"""The foundation against real servers: Apache Kafka (KRaft), chdb through clickhouse-connect.

The broker helpers here are reused by ``test_tansu.py`` so both brokers pass the same checks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import clickhouse_connect
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from streams.events import INPUT_TYPES, Buy, Genesis, InputEvent, Sell, decode_input, encode
from streams.kafka_admin import create_topics, list_topics
from streams.settings import Settings
from streams.topics import TOPIC_PLAN

pytestmark = pytest.mark.integration

SettingsFor = Callable[..., Settings]
KAFKA_SESSION_TIMEOUT_MS = 10_000


# ---- helpers shared with test_tansu.py ------------------------------------------------------


def sample_events(ts_ms: int | None = None) -> list[InputEvent]:
    """One valid event of each input type, with ids unique to this call."""
    ts = ts_ms if ts_ms is not None else int(time.time() * 1000)
    tag = uuid.uuid4().hex[:12]
    mint = f"Mint{tag}pump"
    genesis = Genesis(
        schema_version=1,
        type="token_genesis",
        event_id=f"g-{tag}",
        ts=ts,
        mint=mint,
        creator=f"Creator{tag}",
        name="Integration Dog",
        symbol="IDOG",
        virtual_sol_reserves=30.0,
        virtual_token_reserves=1_073_000_000.0,
        real_token_reserves=793_100_000.0,
        slot=300_000_000,
        signature=None,
    )
    trade = {
        "schema_version": 1,
        "ts": ts + 1,
        "mint": mint,
        "wallet": f"Wallet{tag}",
        "venue": "curve",
        "slot": None,
        "signature": f"sig{tag}",
    }
    buy = Buy(
        type="wallet_buy",
        event_id=f"b-{tag}",
        sol_amount=1.5,
        token_amount=51_000_000.0,
        virtual_sol_reserves=31.5,
        virtual_token_reserves=1_022_000_000.0,
        real_token_reserves=742_100_000.0,
        **trade,  # type: ignore[arg-type]
    )
    sell = Sell(
        type="wallet_sell",
        event_id=f"s-{tag}",
        sol_amount=0.7,
        token_amount=23_000_000.0,
        virtual_sol_reserves=30.8,
        virtual_token_reserves=1_045_000_000.0,
        real_token_reserves=765_100_000.0,
        **{**trade, "ts": ts + 2},  # type: ignore[arg-type]
    )
    return [genesis, buy, sell]


def topic_of(event: InputEvent) -> str:
    return INPUT_TYPES[event.type][1]


def produce(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]) -> None:
    """Produce (topic, key, value) records and fail on any delivery error."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            errors.append(err)

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    for topic, key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} messages not delivered"
    assert not errors, errors


def consume_ids(
    bootstrap: str, topics: list[str], wanted_ids: set[str], timeout_s: float = 30.0
) -> dict[str, tuple[str, bytes, InputEvent]]:
    """Read the topics from the start until every wanted event id was seen.

    Returns event_id -> (topic, key, decoded event). Other tests' events are skipped.
    """
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"foundation-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    found: dict[str, tuple[str, bytes, InputEvent]] = {}
    try:
        consumer.subscribe(topics)
        deadline = time.monotonic() + timeout_s
        while wanted_ids - found.keys() and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                raise KafkaException(msg.error())
            topic, key, value = msg.topic(), msg.key(), msg.value()
            assert topic is not None and key is not None and value is not None
            event = decode_input(value, topic=topic)
            if event.event_id in wanted_ids:
                found[event.event_id] = (topic, key, event)
    finally:
        consumer.close()
    return found


def check_events_roundtrip(bootstrap: str) -> None:
    """Produce one valid event per input type (key = mint) and read back equal events."""
    events = sample_events()
    produce(bootstrap, [(topic_of(e), e.mint.encode(), encode(e)) for e in events])
    found = consume_ids(bootstrap, [topic_of(e) for e in events], {e.event_id for e in events})
    assert set(found) == {e.event_id for e in events}
    for event in events:
        topic, key, decoded = found[event.event_id]
        assert topic == topic_of(event)
        assert key == event.mint.encode()
        assert decoded == event
        assert type(decoded) is type(event)


async def aiokafka_group_roundtrip(
    bootstrap: str, topic: str, count: int, session_timeout_ms: int
) -> tuple[list[bytes], int]:
    """Produce ``count`` values with aiokafka, read them back with one aiokafka group member.

    Returns (values read in order, committed offset), the way a faust worker consumes.
    """
    values = [f"group-{i}-{uuid.uuid4().hex[:6]}".encode() for i in range(count)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, enable_idempotence=False)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value, key=b"k", partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"aiokafka-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=session_timeout_ms // 3,
    )
    await consumer.start()
    read: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(read) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    read.extend(r.value for r in records if r.value is not None)
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    assert read == values
    return read, int(committed or 0)


def create_test_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the futures
    new = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([new], operation_timeout=30)[name].result(timeout=30)


# ---- Apache Kafka ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_settings(kafka_bootstrap: str, settings_for: SettingsFor) -> Settings:
    return settings_for(kafka_bootstrap, partitions=3)


@pytest.mark.kafka
def test_topic_plan_is_created_with_partitions_and_configs(kafka_settings: Settings) -> None:
    created = create_topics(kafka_settings)
    plan = {spec.name: spec for spec in TOPIC_PLAN}
    assert plan.keys() <= list_topics(kafka_settings)
    assert create_topics(kafka_settings) == []  # idempotent

    admin = AdminClient(kafka_settings.kafka_client_config())
    meta = admin.list_topics(timeout=10)
    for name in created:  # topics another test created first may use other partition counts
        spec = plan[name]
        assert len(meta.topics[name].partitions) == (spec.partitions or kafka_settings.partitions)
    assert len(meta.topics["dead-letter"].partitions) == 1

    resources = [ConfigResource(ResourceType.TOPIC, name) for name in plan]
    for resource, future in admin.describe_configs(resources).items():
        configs = future.result(timeout=10)
        spec = plan[resource.name]
        assert configs["cleanup.policy"].value == spec.cleanup_policy
        assert configs["retention.ms"].value == str(spec.retention_ms)


@pytest.mark.kafka
def test_one_event_of_each_input_type_roundtrips(kafka_settings: Settings) -> None:
    create_topics(kafka_settings)
    check_events_roundtrip(kafka_settings.kafka_bootstrap)


@pytest.mark.kafka
def test_broker_does_not_auto_create_unknown_topics(kafka_bootstrap: str) -> None:
    unknown = f"not-in-plan-{uuid.uuid4().hex[:8]}"
    errors: list[KafkaError | None] = []
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.timeout.ms": 3000})
    producer.produce(unknown, b"x", on_delivery=lambda err, _msg: errors.append(err))
    producer.flush(10)
    # The delivery fails (no such topic) instead of the broker creating it.
    assert [err.code() if err else None for err in errors] in (
        [KafkaError.UNKNOWN_TOPIC_OR_PART],
        [KafkaError._MSG_TIMED_OUT],
    ), errors
    assert (
        unknown
        not in AdminClient({"bootstrap.servers": kafka_bootstrap}).list_topics(timeout=10).topics
    )


@pytest.mark.kafka
def test_aiokafka_consumer_group_reads_and_commits(kafka_bootstrap: str) -> None:
    topic = f"group-check-{uuid.uuid4().hex[:8]}"
    create_test_topic(kafka_bootstrap, topic)
    read, committed = asyncio.run(
        aiokafka_group_roundtrip(kafka_bootstrap, topic, 5, KAFKA_SESSION_TIMEOUT_MS)
    )
    assert len(read) == 5
    assert committed == 5


# ---- chdb -----------------------------------------------------------------------------------


def test_clickhouse_connect_writes_and_reads_a_row_on_chdb(chdb_dsn: str, unique_name: str) -> None:
    client = clickhouse_connect.get_client(dsn=chdb_dsn)
    database = f"foundation_{unique_name}"
    client.command(f"CREATE DATABASE IF NOT EXISTS {database}")
    try:
        client.command(
            f"CREATE TABLE {database}.rows (mint String, ts DateTime64(3, 'UTC'), price Float64) "
            "ENGINE = MergeTree ORDER BY (mint, ts)"
        )
        when = datetime.now(UTC).replace(microsecond=123_000)
        client.insert(
            f"{database}.rows",
            [["MintA", when, 4.2e-8]],
            column_names=["mint", "ts", "price"],
        )
        rows = client.query(
            f"SELECT mint, toUnixTimestamp64Milli(ts), price FROM {database}.rows"
        ).result_rows
        assert rows == [("MintA", int(when.timestamp() * 1000), 4.2e-8)]
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")
