"""``alphastream record SOURCE --out DIR``: a live feed to ``DIR/events.jsonl`` for replay/train."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.cli import app
from streams.cli.common import settings_of
from streams.cli.ingest import BackoffCap, Silence, feed_option
from streams.ingest.connector import redact_url
from streams.ingest.metrics import IngestMetrics
from streams.ingest.run import SourceError, SourceOptions, build_source, connector_config, run_feed
from streams.ingest.sinks import JsonlSink


@app.command("record")
def record(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="solana-logs or pumpportal")],
    out: Annotated[Path, feed_option("--out", "RECORD_OUT", "Directory for events.jsonl")],
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="ALPHASTREAM_RECORD_URL",
            show_envvar=True,
            help="Feed URL (default: ALPHASTREAM_SOLANA_WS_URL / ALPHASTREAM_PUMPPORTAL_URL)",
        ),
    ] = None,
    max_events: Annotated[
        int | None, feed_option("--max-events", "RECORD_MAX_EVENTS", "Stop after this many events")
    ] = None,
    max_seconds: Annotated[
        float | None,
        feed_option("--max-seconds", "RECORD_MAX_SECONDS", "Stop after this many seconds"),
    ] = None,
    silence_s: Silence = None,
    backoff_cap_s: BackoffCap = None,
) -> None:
    """Record validated events (sorted by ts, event_id) and dead letters; Ctrl-C ends cleanly."""
    console = Console(stderr=True)
    if max_events is None and max_seconds is None:
        console.print("[red]give --max-events and/or --max-seconds (a recording is bounded)[/red]")
        raise typer.Exit(2)
    settings = settings_of(ctx, ingest_silence_s=silence_s, ingest_backoff_cap_s=backoff_cap_s)
    try:
        decoder, feed_url = build_source(source, settings, SourceOptions(url=url))
    except SourceError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    sink = JsonlSink(out)
    metrics = IngestMetrics()
    started = dt.datetime.now(dt.UTC)
    end, _ = run_feed(
        decoder, sink, connector_config(settings, feed_url, max_events=max_events),
        metrics=metrics, max_seconds=max_seconds,
    )  # fmt: skip
    totals = metrics.summary(decoder.source)
    sink.meta(
        {"source": source, "url": redact_url(feed_url), "ended_by": end,
         "started_utc": started.isoformat(), "ended_utc": dt.datetime.now(dt.UTC).isoformat(),
         "counters": totals}
    )  # fmt: skip
    console.print(f"{sink.delivered:,} events -> {out / 'events.jsonl'} ({end}); "
                  f"dead letters {totals.get('dead_letters', {})}")  # fmt: skip
