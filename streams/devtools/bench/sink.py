"""Insert throughput through the sink's core (decode + validate + convert + batched insert) into chdb.

Kafka is left out on purpose: this measures what the sink adds per row, the broker's own
throughput is measured elsewhere.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from streams.devtools.synthetic.store import make_dataset
from streams.events import encode
from streams.store.batch import BatchWriter, RawMessage
from streams.store.clickhouse import ClickHouseStore
from streams.store.connect import connect
from streams.store.metrics import SinkMetrics
from streams.store.migrations import migrate

SIGNALS, OUTCOMES = "signals", "outcomes"


@dataclass(frozen=True, slots=True)
class InsertBench:
    rows: int  # messages pushed through the sink core (signals + outcome stages)
    signals: int
    batches: int
    batch_size: int
    seconds: float
    rows_per_s: float
    stored_signals: int


def _messages(n_signals: int, n_features: int, seed: int) -> list[RawMessage]:
    data = make_dataset(n_signals, seed=seed, n_features=n_features)
    out = [
        RawMessage(SIGNALS, 0, i, s.mint.encode(), encode(s)) for i, s in enumerate(data.signals)
    ]
    out += [
        RawMessage(OUTCOMES, 0, i, o.mint.encode(), encode(o)) for i, o in enumerate(data.outcomes)
    ]
    return out


def insert_throughput(
    n_signals: int = 50_000,
    batch_size: int = 5_000,
    dsn: str | None = None,
    n_features: int = 68,
    seed: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> InsertBench:
    """Rows/s into a scratch database (dropped afterwards) of ``dsn`` (default: a temp chdb dir)."""
    scratch = None if dsn else tempfile.TemporaryDirectory(prefix="alphastream-bench-")
    url = dsn or f"chdb://{scratch.name}/ch"  # type: ignore[union-attr]
    database = f"bench_{int(time.time() * 1000)}"
    client = connect(url, database=database)
    try:
        migrate(client)
        messages = _messages(n_signals, n_features, seed)
        store = ClickHouseStore(client)
        writer = BatchWriter(lambda: store, SIGNALS, OUTCOMES, SinkMetrics(CollectorRegistry()))
        batches = [messages[i : i + batch_size] for i in range(0, len(messages), batch_size)]
        started = time.perf_counter()
        for done, batch in enumerate(batches, 1):
            dead = writer.process(batch)
            if dead:
                raise RuntimeError(f"bench rows were dead-lettered: {dead[0][1].error}")
            if progress is not None:
                progress(done, len(batches))
        seconds = time.perf_counter() - started
        stored = store.signal_count()
        return InsertBench(
            len(messages),
            n_signals,
            len(batches),
            batch_size,
            seconds,
            len(messages) / seconds,
            stored,
        )
    finally:
        client.command(f"DROP DATABASE IF EXISTS {database}")
        client.close()
        if scratch is not None:
            scratch.cleanup()
