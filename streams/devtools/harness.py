"""Feed and observe a worker through a real broker: used by the stream tests and ``bench e2e``.

``produce_events`` writes simulator events (dicts) to the input topics keyed by mint, with the
Kafka timestamp set to the wall-clock produce time (so latency can be measured end to end).
``collect`` reads output topics from the beginning with a group-less consumer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from streams.kafka_produce import produce_blocking, warm_metadata
from streams.settings import Settings
from streams.topics import TopicNames

_TOPIC_OF_TYPE = {
    "token_genesis": "genesis",
    "wallet_buy": "buys",
    "wallet_sell": "sells",
    "token_migrated": "migrations",
}


def input_topic(topics: TopicNames, event_type: str) -> str:
    return str(getattr(topics, _TOPIC_OF_TYPE[event_type]))


def new_producer(settings: Settings) -> Producer:
    return Producer(
        {
            **settings.kafka_producer_config(),
            # no linger: each request carries every partition queued so far, so a CPU-starved
            # producer thread cannot append a later event on one partition long before an
            # earlier one on another (the stream's ordering bound tolerates settle_s of that)
            "linger.ms": 0,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def produce_events(
    producer: Producer,
    topics: TopicNames,
    events: Iterable[Mapping[str, Any]],
    *,
    rate_per_s: float = 0.0,
    on_sent: Callable[[Mapping[str, Any], float], None] | None = None,
    in_order: bool = False,
) -> int:
    """Produce events in order; ``rate_per_s`` > 0 paces them (wall clock). Returns the count.

    ``in_order``: wait for each event's delivery before the next, so the broker appends them in
    exactly this order across partitions. librdkafka sends one request per partition, and a
    producer thread starved of CPU was seen appending a partition ~0.9 s after later events of
    others — beyond the stream's settle time, which parity tests must not depend on."""
    warm_metadata(producer, topics.inputs)
    n = 0
    t0 = time.perf_counter()
    for event in events:
        if rate_per_s > 0:
            ahead = t0 + n / rate_per_s - time.perf_counter()
            if ahead > 0:
                producer.poll(0)
                time.sleep(ahead)
        sent_s = time.time()
        _produce(
            producer,
            input_topic(topics, str(event["type"])),
            orjson.dumps(event),
            str(event["mint"]).encode(),
            sent_s,
        )
        if on_sent is not None:
            on_sent(event, sent_s)
        if in_order:
            producer.flush(30)
        n += 1
        if n % 1000 == 0:
            producer.poll(0)
    producer.flush(60)
    return n


def produce_raw(producer: Producer, topic: str, payload: bytes, key: bytes | None) -> None:
    _produce(producer, topic, payload, key, time.time())
    producer.flush(30)


def _produce(
    producer: Producer, topic: str, value: bytes, key: bytes | None, sent_s: float
) -> None:
    produce_blocking(producer, topic, value, key=key, timestamp=int(sent_s * 1000))


def collect(
    settings: Settings,
    topics: Iterable[str],
    *,
    done: Callable[[dict[str, list[dict[str, Any]]]], bool],
    timeout_s: float = 120.0,
    with_timestamps: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Read ``topics`` from the beginning until ``done(records_by_topic)`` or the timeout.

    With ``with_timestamps`` each record gets ``_kafka_ts_ms`` (the broker/produce timestamp).
    """
    names = list(topics)
    consumer = Consumer(
        {**settings.kafka_client_config(), "group.id": f"collect-{time.time_ns()}", "enable.auto.commit": False,
         "enable.partition.eof": False}
    )  # fmt: skip
    try:
        meta = consumer.list_topics(timeout=10)
        consumer.assign(
            [TopicPartition(t, p, 0) for t in names for p in sorted(meta.topics[t].partitions)]
        )
        out: dict[str, list[dict[str, Any]]] = {t: [] for t in names}
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.2):
                err = m.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(str(err))
                    continue
                record = orjson.loads(m.value() or b"null")
                if with_timestamps:
                    record["_kafka_ts_ms"] = m.timestamp()[1]
                out[str(m.topic())].append(record)
            if done(out):
                break
        return out
    finally:
        consumer.close()


class Collector:
    """Incrementally read output topics from the beginning (group-less); records by topic."""

    def __init__(self, settings: Settings, topics: Iterable[str]) -> None:
        self.topics = list(topics)
        self.records: dict[str, list[dict[str, Any]]] = {t: [] for t in self.topics}
        self._consumer = Consumer(
            {**settings.kafka_client_config(), "group.id": f"collect-{time.time_ns()}",
             "enable.auto.commit": False}
        )  # fmt: skip
        meta = self._consumer.list_topics(timeout=10)
        self._consumer.assign(
            [
                TopicPartition(t, p, 0)
                for t in self.topics
                for p in sorted(meta.topics[t].partitions)
            ]
        )

    def poll(self, seconds: float = 0.5) -> int:
        """Read for about ``seconds``; returns how many records arrived."""
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for m in self._consumer.consume(2000, 0.1):
                if m.error() is not None:
                    continue
                record = orjson.loads(m.value() or b"null")
                record["_kafka_ts_ms"] = m.timestamp()[1]
                self.records[str(m.topic())].append(record)
                n += 1
        return n

    def has_scored(self, topic: str, event_ids: set[str]) -> bool:
        """Every one of ``event_ids`` has a score on ``topic`` (a scores topic)."""
        return event_ids <= {s["source_event_id"] for s in self.records[topic]}

    def wait_for(self, done: Callable[[], bool], timeout_s: float, settle_s: float = 0.0) -> bool:
        """Poll until ``done()``; then keep reading ``settle_s`` more (to catch extras)."""
        deadline = time.monotonic() + timeout_s
        ok = False
        while time.monotonic() < deadline:
            self.poll(0.3)
            if done():
                ok = True
                break
        if settle_s:
            self.poll(settle_s)
        return ok

    def close(self) -> None:
        self._consumer.close()


def sim_events(seed: int, hours: float, launch_rate_per_day: float) -> list[dict[str, Any]]:
    """A seeded simulated market (canonical order)."""
    from streams.sim import SimConfig, simulate

    return list(
        simulate(SimConfig(seed=seed, hours=hours, launch_rate_per_day=launch_rate_per_day))
    )


def bad_messages(
    topics: TopicNames, events: list[dict[str, Any]]
) -> list[tuple[str, bytes, bytes | None, str]]:
    """(topic, payload, key, expected reason) for one message per kind of bad input."""
    buy = next(e for e in events if e["type"] == "wallet_buy")
    key = str(buy["mint"]).encode()
    missing = {k: v for k, v in buy.items() if k != "wallet"}
    return [
        (topics.buys, b"{not json", key, "bad_json"),
        (topics.buys, b"\xff\xfe\x00garbage", key, "not_utf8"),
        (topics.sells, b"[1, 2, 3]", None, "not_object"),
        (topics.buys, orjson.dumps({**buy, "type": "wallet_teleport"}), key, "unknown_type"),
        (topics.genesis, orjson.dumps({**buy, "event_id": "bad-wrong-topic"}), key, "wrong_topic"),
        (topics.buys, orjson.dumps(missing), key, "missing_field"),
        (topics.buys, orjson.dumps({**buy, "sol_amount": "lots"}), key, "wrong_type"),
        (topics.buys, orjson.dumps({**buy, "extra": 1}), key, "unknown_field"),
        (topics.buys, b'{"pad": "' + b"x" * 70_000 + b'"}', key, "too_large"),
    ]


def replay_features(events: list[dict[str, Any]], work_dir: Any) -> dict[str, list[float | None]]:
    """event_id -> feature vector (None for NaN) from the offline replay of ``events``."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return _replayed_features(path, work, log_order=False)


def log_replay_features(
    settings: Settings, topics: TopicNames, work_dir: Any
) -> dict[str, list[float | None]]:
    """event_id -> feature vector from the offline replay of the market log the workers applied
    (``alphastream log dump`` + ``replay --log-order``): online == offline by construction."""
    from streams.marketlog import dump_events, read_to_end

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "market-log.jsonl"
    with path.open("wb") as out:
        dump_events(read_to_end(settings, topics.log), out)
    return _replayed_features(path, work, log_order=True)


def log_records(events: Iterable[Any]) -> list[Any]:
    """Input events (models or dicts) as an in-memory market log, in the given order."""
    from streams.app.replica import LogRecord
    from streams.contracts.log import KIND_EVENT, SourceRef
    from streams.events import encode

    records = []
    for i, event in enumerate(events):
        value = orjson.dumps(event) if isinstance(event, Mapping) else encode(event)
        obj = event if isinstance(event, Mapping) else {"type": event.type, "mint": event.mint,
                                                         "ts": event.ts}  # fmt: skip
        topic = _PLAN_TOPIC[str(obj["type"])]
        records.append(LogRecord(i, KIND_EVENT, str(obj["mint"]).encode(), value, int(obj["ts"]),
                                 SourceRef(topic, 0, i)))  # fmt: skip
    return records


_PLAN_TOPIC = {"token_genesis": "token-genesis", "wallet_buy": "wallet-buy",
               "wallet_sell": "wallet-sell", "token_migrated": "token-migrated"}  # fmt: skip


def _replayed_features(path: Path, work: Path, *, log_order: bool) -> dict[str, list[float | None]]:
    import pyarrow.parquet as pq

    from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
    from streams.replay import replay

    replay(path, work / "replay", log_order=log_order)
    out: dict[str, list[float | None]] = {}
    for name, cols in (("buys.parquet", STANDARD_NAMES), ("genesis.parquet", GENESIS_NAMES)):
        table = pq.read_table(work / "replay" / name, columns=["event_id", *cols]).to_pydict()
        for i, event_id in enumerate(table["event_id"]):
            out[event_id] = [_json_value(table[c][i]) for c in cols]
    return out


def _json_value(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return f if f == f and f not in (float("inf"), float("-inf")) else None


def feature_agreement(
    signals: list[dict[str, Any]], expected: Mapping[str, list[float | None]]
) -> tuple[int, int, list[str]]:
    """(equal, compared, ids that differ) between served signals and replay rows."""
    equal, compared, differ = 0, 0, []
    for s in signals:
        want = expected.get(s["source_event_id"])
        if want is None:
            continue
        compared += 1
        if s["features"] == want:
            equal += 1
        else:
            differ.append(s["source_event_id"])
    return equal, compared, differ


def group_members(settings: Settings, group_id: str) -> list[int]:
    """Partitions assigned to each member of a consumer group (empty list: no members yet)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(settings.kafka_client_config())
    try:
        desc = admin.describe_consumer_groups([group_id])[group_id].result(timeout=10)
    except Exception:
        return []
    return [len(m.assignment.topic_partitions) for m in desc.members]


def wait_group_settled(
    settings: Settings, group_id: str, members: int, timeout_s: float = 60.0
) -> bool:
    """Until the group has ``members`` members that each own some partitions."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sizes = group_members(settings, group_id)
        if len(sizes) == members and all(sizes):
            return True
        time.sleep(0.5)
    return False


@contextmanager
def sequencer_running(settings: Settings, topics: TopicNames) -> Iterator[None]:
    """A sequencer in a thread of this process for the duration of the block."""
    from streams.sequencer import run_sequencer

    stop = threading.Event()
    thread = threading.Thread(target=run_sequencer, args=(settings, topics, stop),
                              name="sequencer", daemon=True)  # fmt: skip
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
