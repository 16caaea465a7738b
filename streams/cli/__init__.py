"""The ``alphastream`` command line. One module per command; settings are loaded once here."""

from __future__ import annotations

import importlib
import logging
import sys
import threading

import typer

from streams.cli import extras
from streams.cli.common import load_settings
from streams.interrupt import install_interrupt

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
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx.obj = settings


# Command modules add themselves to ``app`` on import; this order is the order in --help.
COMMANDS = (
    "demo", "simulate", "worker", "sequencer", "replay", "train", "monitor",
    "db", "sink", "sql", "topics", "bench", "notify",
    "ingest", "record", "log",
)  # fmt: skip


def _register(command: str | None = None) -> None:
    """Import the command modules: only ``command``'s when it is one of them (``alphastream
    worker`` must not load training's LightGBM, scikit-learn and SciPy: ~3 s of CPU at every
    start, and the runtime never imports training), else all of them (for --help)."""
    for name in (command,) if command in COMMANDS else COMMANDS:
        extra = extras.COMMAND_EXTRA.get(name, "")
        missing = extras.missing_modules(extra)
        if missing:  # an optional extra is not installed: the command says which
            extras.placeholder(app, name, missing[0], extra)
            continue
        try:
            importlib.import_module(f"streams.cli.{name}")
        except ModuleNotFoundError as exc:
            needed = extras.missing_extra(name, exc)
            if needed is None:
                raise
            extras.placeholder(app, name, extras.module_of(exc), needed)


def _invoked_command() -> str:
    """The command named on the command line (the first argument that is not an option)."""
    return next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")


def main() -> None:
    _register(_invoked_command())
    interrupted = threading.Event()
    install_interrupt(interrupted)
    try:
        app()
    except ModuleNotFoundError as exc:  # a lazily imported optional dependency is missing
        command = _invoked_command()
        extra = extras.missing_extra(command, exc)
        if extra is None:
            raise
        extras.exit_missing(command, extras.module_of(exc), extra)
    except Exception:
        if not interrupted.is_set():
            raise
        # Ctrl-C turned into another error inside a C extension (see streams/interrupt.py)
        typer.secho("interrupted", err=True, fg=typer.colors.YELLOW)
        sys.exit(130)
