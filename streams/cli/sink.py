"""``alphastream sink``: consume signals + outcomes into ClickHouse (and serve SQL for an embedded store)."""

from __future__ import annotations

import signal
import threading

import typer
from prometheus_client import start_http_server

from streams.cli import app
from streams.cli.common import settings_of
from streams.store.service import run
from streams.store.sink import SinkConfig


@app.command("sink")
def sink(
    ctx: typer.Context,
    bootstrap: str = typer.Option(None, "--bootstrap", envvar="ALPHASTREAM_KAFKA_BOOTSTRAP", show_envvar=True),
    dsn: str = typer.Option(None, "--dsn", envvar="ALPHASTREAM_CLICKHOUSE_DSN", show_envvar=True),
    max_rows: int = typer.Option(5000, "--max-rows", envvar="ALPHASTREAM_SINK_MAX_ROWS", show_envvar=True,
                                 help="Flush a batch at this many messages"),
    max_wait_s: float = typer.Option(1.0, "--max-wait", envvar="ALPHASTREAM_SINK_MAX_WAIT_S", show_envvar=True,
                                     help="Flush a batch this many seconds after its first message"),
    metrics_port: int = typer.Option(0, "--metrics-port", envvar="ALPHASTREAM_SINK_METRICS_PORT",
                                     show_envvar=True, help="Serve Prometheus metrics on this port (0: off)"),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr", envvar="ALPHASTREAM_SINK_METRICS_ADDR",
                                     show_envvar=True, help="Address the metrics server binds (0.0.0.0 in a container)"),
) -> None:  # fmt: skip
    """Run the sink until Ctrl-C / SIGTERM (at-least-once: offsets commit after each stored batch)."""
    settings = settings_of(ctx, kafka_bootstrap=bootstrap, clickhouse_dsn=dsn)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if metrics_port:
        start_http_server(metrics_port, addr=metrics_addr)
    run(settings, stop, SinkConfig(max_rows=max_rows, max_wait_s=max_wait_s))
