"""The ``alphastream`` command line. One module per command; settings are loaded once here."""

from __future__ import annotations

import logging

import typer

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


def _register() -> None:
    # Each command module adds itself to ``app``; import order is the order in --help.
    from streams.cli import topics  # noqa: F401
    from streams.cli import simulate  # noqa: F401
    from streams.cli import simulate  # noqa: F401
    from streams.cli import train  # noqa: F401
    from streams.cli import worker  # noqa: F401
    from streams.cli import monitor  # noqa: F401
    from streams.cli import db  # noqa: F401
    from streams.cli import sink  # noqa: F401
    from streams.cli import sql  # noqa: F401
    from streams.cli import demo  # noqa: F401
    from streams.cli import replay  # noqa: F401
    from streams.cli import bench  # noqa: F401


def main() -> None:
    _register()
    app()
