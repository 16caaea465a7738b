"""``alphastream sink``: consume signals + outcomes into ClickHouse (and serve SQL for an embedded store)."""

from __future__ import annotations

import signal
import threading

import typer
from prometheus_client import start_http_server

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.store.service import run
from streams.store.sink import SinkConfig


@app.command("sink")
def sink(
    ctx: typer.Context,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    dsn: str | None = setting_option("clickhouse_dsn", "--dsn"),
    max_rows: int | None = setting_option("sink_max_rows", "--max-rows"),
    max_wait_s: float | None = setting_option("sink_max_wait_s", "--max-wait"),
    metrics_port: int | None = setting_option("sink_metrics_port", "--metrics-port"),
    metrics_addr: str | None = setting_option("sink_metrics_addr", "--metrics-addr"),
    topic_prefix: str | None = setting_option("topic_prefix", "--topic-prefix"),
) -> None:
    """Run the sink until Ctrl-C / SIGTERM (at-least-once: offsets commit after each stored batch)."""
    settings = settings_of(
        ctx,
        kafka_bootstrap=bootstrap,
        clickhouse_dsn=dsn,
        sink_max_rows=max_rows,
        sink_max_wait_s=max_wait_s,
        sink_metrics_port=metrics_port,
        sink_metrics_addr=metrics_addr,
        topic_prefix=topic_prefix,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if settings.sink_metrics_port:
        start_http_server(settings.sink_metrics_port, addr=settings.sink_metrics_addr)
    config = SinkConfig.for_prefix(
        settings.topic_prefix, max_rows=settings.sink_max_rows, max_wait_s=settings.sink_max_wait_s
    )
    run(settings, stop, config)
