"""``alphastream ingest SOURCE``: a real launchpad feed into the input topics (and dead-letter)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from prometheus_client import REGISTRY, start_http_server
from rich.console import Console

from streams.cli import app
from streams.cli.common import settings_of
from streams.ingest.metrics import IngestMetrics
from streams.ingest.run import (
    PUMPPORTAL,
    SOLANA_LOGS,
    SourceError,
    SourceOptions,
    build_source,
    connector_config,
    run_feed,
)
from streams.ingest.sinks import KafkaSink, SinkError
from streams.settings import Settings

ingest_app = typer.Typer(
    help="Connect to a real feed and produce its events to Kafka (reconnects, dedups, dead-letters)."
)
app.add_typer(ingest_app, name="ingest")


def feed_option(flag: str, env: str, text: str) -> Any:
    return typer.Option(flag, envvar=f"ALPHASTREAM_{env}", show_envvar=True, help=text)


Bootstrap = Annotated[
    str | None, feed_option("--bootstrap", "KAFKA_BOOTSTRAP", "Kafka bootstrap servers")
]
Prefix = Annotated[
    str,
    feed_option(
        "--topic-prefix", "INGEST_TOPIC_PREFIX", "Prefix of every topic name (isolated runs)"
    ),
]
MetricsPort = Annotated[
    int,
    feed_option("--metrics-port", "INGEST_METRICS_PORT", "Serve Prometheus metrics here (0: off)"),
]
Silence = Annotated[
    float | None,
    feed_option("--silence-s", "INGEST_SILENCE_S", "Reconnect after this long without a frame"),
]
BackoffCap = Annotated[
    float | None,
    feed_option("--backoff-cap-s", "INGEST_BACKOFF_CAP_S", "Largest reconnect delay ceiling"),
]
Idempotence = Annotated[
    bool | None,
    feed_option(
        "--idempotence/--no-idempotence",
        "INGEST_IDEMPOTENCE",
        "Idempotent producer (off for tansu)",
    ),
]


def _ingest(
    settings: Settings, source: str, options: SourceOptions, prefix: str, metrics_port: int
) -> None:
    console = Console(stderr=True)
    try:
        decoder, url = build_source(source, settings, options)
        sink = KafkaSink(settings, topic_prefix=prefix)
    except (SourceError, SinkError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    metrics = IngestMetrics(REGISTRY)
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1")
    try:
        end, _ = run_feed(decoder, sink, connector_config(settings, url), metrics=metrics)
    except SinkError as exc:
        console.print(f"[red]{source}: the broker did not take the events: {exc}[/red]")
        raise typer.Exit(1) from None
    totals = metrics.summary(decoder.source)
    console.print(f"{source}: {end}; events {totals.get('events', {})}, "
                  f"dead letters {totals.get('dead_letters', {})}, "
                  f"reconnects {totals.get('reconnects', {})}")  # fmt: skip


@ingest_app.command("solana-logs")
def solana_logs(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        feed_option(
            "--url", "SOLANA_WS_URL", "Solana JSON-RPC websocket, wss://... (holds the API key)"
        ),
    ] = None,
    bootstrap: Bootstrap = None,
    topic_prefix: Prefix = "",
    metrics_port: MetricsPort = 0,
    silence_s: Silence = None,
    backoff_cap_s: BackoffCap = None,
    idempotence: Idempotence = None,
) -> None:
    """logsSubscribe (mentions: the pump.fun program) -> token-genesis, wallet-buy/sell, migrations."""
    settings = settings_of(
        ctx, kafka_bootstrap=bootstrap, ingest_silence_s=silence_s,
        ingest_backoff_cap_s=backoff_cap_s, ingest_idempotence=idempotence,
    )  # fmt: skip
    _ingest(settings, SOLANA_LOGS, SourceOptions(url=url), topic_prefix, metrics_port)


@ingest_app.command("pumpportal")
def pumpportal(
    ctx: typer.Context,
    url: Annotated[
        str | None, feed_option("--url", "PUMPPORTAL_URL", "PumpPortal data websocket")
    ] = None,
    trade_mint: Annotated[
        list[str] | None,
        typer.Option(
            "--trade-mint",
            envvar="ALPHASTREAM_PUMPPORTAL_TRADE_MINTS",
            show_envvar=True,
            help="Also subscribe to this token's trades (needs "
            "ALPHASTREAM_PUMPPORTAL_API_KEY; repeatable, env: space-separated)",
        ),
    ] = None,
    trade_wallet: Annotated[
        list[str] | None,
        typer.Option(
            "--trade-wallet",
            envvar="ALPHASTREAM_PUMPPORTAL_TRADE_WALLETS",
            show_envvar=True,
            help="Also subscribe to this wallet's trades (needs "
            "ALPHASTREAM_PUMPPORTAL_API_KEY; repeatable, env: space-separated)",
        ),
    ] = None,
    bootstrap: Bootstrap = None,
    topic_prefix: Prefix = "",
    metrics_port: MetricsPort = 0,
    silence_s: Silence = None,
    backoff_cap_s: BackoffCap = None,
    idempotence: Idempotence = None,
) -> None:
    """Creations and migrations (no key needed); trades only with ALPHASTREAM_PUMPPORTAL_API_KEY."""
    settings = settings_of(
        ctx, kafka_bootstrap=bootstrap, ingest_silence_s=silence_s,
        ingest_backoff_cap_s=backoff_cap_s, ingest_idempotence=idempotence,
    )  # fmt: skip
    options = SourceOptions(
        url=url, trade_mints=tuple(trade_mint or ()), trade_wallets=tuple(trade_wallet or ())
    )
    _ingest(settings, PUMPPORTAL, options, topic_prefix, metrics_port)
