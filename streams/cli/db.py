"""``alphastream db``: apply ClickHouse migrations, refresh summaries, serve an embedded store."""

from __future__ import annotations

import signal
import threading

import typer
from rich.console import Console

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.store import connect, migrate, refresh_summaries
from streams.store.dsn import parse_dsn
from streams.store.endpoint import QueryServer
from streams.store.migrations import applied_versions, load_migrations

db_app = typer.Typer(help="ClickHouse store: migrations, summaries, query endpoint.")
app.add_typer(db_app, name="db")

DsnOption = setting_option("clickhouse_dsn", "--dsn")


@db_app.command("init")
def init(ctx: typer.Context, dsn: str | None = DsnOption) -> None:
    """Create the database and apply pending migrations (idempotent)."""
    settings = settings_of(ctx, clickhouse_dsn=dsn)
    url = settings.clickhouse_url()
    if parse_dsn(url).embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    client = connect(url)
    try:
        applied = migrate(client)
        total = len(applied_versions(client))
    finally:
        client.close()
    names = ", ".join(f"{m.version:03d}_{m.name}" for m in applied) or "none"
    Console().print(
        f"applied {len(applied)} migration(s): {names}; {total}/{len(load_migrations())} recorded"
    )


@db_app.command("refresh")
def refresh(ctx: typer.Context, dsn: str | None = DsnOption) -> None:
    """Recompute the tokens / wallets / creators summaries now (they also refresh every minute)."""
    client = connect(settings_of(ctx, clickhouse_dsn=dsn).clickhouse_url())
    try:
        refresh_summaries(client)
    finally:
        client.close()
    Console().print("summaries refreshed")


@db_app.command("serve")
def serve(ctx: typer.Context, dsn: str | None = DsnOption) -> None:
    """Own an embedded store and serve read-only SQL to `alphastream sql` until Ctrl-C / SIGTERM."""
    url = settings_of(ctx, clickhouse_dsn=dsn).clickhouse_url()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    client = connect(url)
    migrate(client)
    client.close()
    with QueryServer(url) as server:
        Console().print(f"serving {url} on 127.0.0.1:{server.port} ({server.endpoint_file})")
        stop.wait()
