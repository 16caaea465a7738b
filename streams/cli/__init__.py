"""The ``alphastream`` command line. One module per command; settings are loaded once here."""

from __future__ import annotations

import importlib
import logging
import sys
import threading

import typer

from streams.interrupt import install_interrupt
from streams.settings import Settings

app = typer.Typer(
    name="alphastream",
    help="Real-time scorer for launchpad tokens. Every option falls back to an ALPHASTREAM_* env var.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _load_settings(ctx: typer.Context) -> None:
    """Load the frozen settings once (from ALPHASTREAM_* env vars) and hand them to commands."""
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = settings


# Command modules add themselves to ``app`` on import; this order is the order in --help.
COMMANDS = (
    "demo", "simulate", "worker", "replay", "train", "monitor",
    "db", "sink", "sql", "topics", "bench", "notify",
    "ingest", "record",
)  # fmt: skip


def _register() -> None:
    for name in COMMANDS:
        importlib.import_module(f"streams.cli.{name}")


def main() -> None:
    _register()
    interrupted = threading.Event()
    install_interrupt(interrupted)
    try:
        app()
    except Exception:
        if not interrupted.is_set():
            raise
        # Ctrl-C turned into another error inside a C extension (see streams/interrupt.py)
        typer.secho("interrupted", err=True, fg=typer.colors.YELLOW)
        sys.exit(130)
