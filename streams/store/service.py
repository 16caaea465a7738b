"""Run the sink in-process: ``run(settings, stop_event)`` (used by ``alphastream sink``, the worker, the demo).

In embedded mode this process becomes the single owner of the chdb directory: it applies
migrations, writes through the sink and serves read-only SQL on a loopback endpoint so other
processes (``alphastream sql``) can query while it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from streams.settings import Settings
from streams.store.base import Store
from streams.store.clickhouse import ClickHouseStore
from streams.store.connect import connect
from streams.store.dsn import parse_dsn
from streams.store.endpoint import QueryServer
from streams.store.metrics import SinkMetrics
from streams.store.migrations import migrate
from streams.store.sink import KafkaSink, SinkConfig


def clickhouse_factory(dsn: str) -> Callable[[], Store]:
    """A store factory for the sink: a fresh client each time the previous one failed."""
    return lambda: ClickHouseStore(connect(dsn))


def run(
    settings: Settings,
    stop: threading.Event,
    config: SinkConfig | None = None,
    metrics: SinkMetrics | None = None,
    serve_queries: bool = True,
    ready: threading.Event | None = None,
) -> None:
    """Migrate, then consume signals + outcomes into the store until ``stop`` is set."""
    dsn = settings.clickhouse_url()
    if parse_dsn(dsn).embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = connect(dsn)
    migrate(client)
    client.close()
    server = QueryServer(dsn).start() if serve_queries and parse_dsn(dsn).embedded else None
    try:
        sink = KafkaSink(
            settings.kafka_client_config(), clickhouse_factory(dsn), config or SinkConfig(), metrics
        )
        if ready is not None:
            ready.set()
        sink.run(stop)
    finally:
        if server is not None:
            server.stop()
