"""The store's pure parts: DSNs, migration files, payload -> row conversion, the batch writer."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.devtools.synthetic.store import make_dataset
from streams.events import DecodeError, Outcome, Signal, encode
from streams.store.base import StoreUnavailableError
from streams.store.batch import Backoff, BatchWriter, RawMessage, SinkStoppedError
from streams.store.dsn import parse_dsn
from streams.store.memory import MemoryStore
from streams.store.metrics import SinkMetrics
from streams.store.migrations import load_migrations
from streams.store.rows import decode_outcome, decode_signal, signal_row

DATA = make_dataset(24, seed=2)


def test_dsn_parsing_separates_database_and_endpoint_file() -> None:
    target = parse_dsn("chdb:///var/lib/as/clickhouse")
    assert (target.client_dsn, target.database) == ("chdb:///var/lib/as/clickhouse", "alphastream")
    assert target.endpoint_file == Path("/var/lib/as/clickhouse.endpoint")
    assert parse_dsn("chdb:///x/ch?database=lab").database == "lab"
    http = parse_dsn("http://u:p@db.example:8123/analytics")
    assert (http.client_dsn, http.database, http.endpoint_file) == (
        "http://u:p@db.example:8123",
        "analytics",
        None,
    )
    assert parse_dsn("https://h:8443", database="other").database == "other"
    with pytest.raises(ValueError, match="scheme"):
        parse_dsn("mysql://h/db")


def test_migrations_are_ordered_and_split_into_statements() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert migrations[0].name == "signals"
    for m in migrations:
        statements = m.statements()
        assert statements
        assert all("IF NOT EXISTS" in s for s in statements)  # re-runnable


def test_decoding_rejects_what_the_schema_rejects() -> None:
    assert decode_signal(encode(DATA.signals[3])) == DATA.signals[3]
    assert decode_outcome(encode(DATA.outcomes[0])) == DATA.outcomes[0]
    with pytest.raises(DecodeError) as bad_json:
        decode_signal(b"{nope")
    assert bad_json.value.reason == "bad_json"
    with pytest.raises(DecodeError) as wrong:
        decode_signal(encode(DATA.outcomes[0]))
    assert wrong.value.reason == "wrong_topic"
    extra = orjson.dumps({**orjson.loads(encode(DATA.signals[0])), "surprise": 1})
    with pytest.raises(DecodeError) as unknown:
        decode_signal(extra)
    assert unknown.value.reason == "unknown_field"
    with pytest.raises(DecodeError):
        signal_row(dataclasses.replace(DATA.signals[0], ts=10**16))


class FlakyStore(MemoryStore):
    """An in-memory store that is 'down' for its first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.writes: list[int] = []

    def write(self, signals: Sequence[Signal], outcomes: Sequence[Outcome]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise StoreUnavailableError("down")
        self.writes.append(len(signals) + len(outcomes))
        super().write(signals, outcomes)


def _messages() -> list[RawMessage]:
    msgs = [
        RawMessage("signals", 0, i, s.mint.encode(), encode(s)) for i, s in enumerate(DATA.signals)
    ]
    msgs += [
        RawMessage("outcomes", 0, i, o.mint.encode(), encode(o))
        for i, o in enumerate(DATA.outcomes)
    ]
    return msgs


def test_writer_retries_the_same_batch_with_backoff_until_the_store_is_back() -> None:
    store = FlakyStore(failures=3)
    metrics = SinkMetrics(CollectorRegistry())
    writer = BatchWriter(
        lambda: store, "signals", "outcomes", metrics, Backoff(initial_s=1, max_s=3)
    )
    waits: list[float] = []
    assert writer.process(_messages(), wait=waits.append) == []
    assert waits == [1, 2, 3]
    assert store.signal_count() == len(DATA.signals)
    assert metrics.value("insert_retries") == 3
    assert metrics.value("rows_inserted", table="signals") == len(DATA.signals)


def test_writer_stops_waiting_when_asked_and_stores_nothing() -> None:
    store = FlakyStore(failures=10**6)

    def stop(_seconds: float) -> None:
        raise SinkStoppedError

    writer = BatchWriter(lambda: store, "signals", "outcomes", SinkMetrics(CollectorRegistry()))
    with pytest.raises(SinkStoppedError):
        writer.process(_messages(), wait=stop)
    assert store.signal_count() == 0


def test_bad_rows_become_dead_letters_and_good_rows_are_stored() -> None:
    store = MemoryStore()
    metrics = SinkMetrics(CollectorRegistry())
    writer = BatchWriter(lambda: store, "signals", "outcomes", metrics)
    far = dataclasses.replace(DATA.signals[1], event_id="far", ts=10**16)
    msgs = [
        *_messages(),
        RawMessage("signals", 1, 0, b"k", b"\xff\xfe"),
        RawMessage("signals", 1, 1, None, encode(far)),
    ]
    dead = writer.process(msgs, wait=lambda _s: None)
    assert [(m.offset, d.reason) for m, d in dead] == [(0, "not_utf8"), (1, "bad_value")]
    assert dead[0][1].mint == "k" and dead[1][1].mint == "?"
    assert store.signal_count() == len(DATA.signals)
    assert store.get_signal("far") is None
    assert metrics.value("rows_in", topic="signals") == len(DATA.signals) + 2
