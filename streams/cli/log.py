"""``alphastream log dump``: the market log, in its order, as an events file for ``replay``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from streams.cli import app
from streams.cli.common import setting_option, settings_of

log_app = typer.Typer(help="The market log the sequencer writes (the canonical order).")
app.add_typer(log_app, name="log")


@log_app.command("dump")
def dump(
    ctx: typer.Context,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            envvar="ALPHASTREAM_LOG_DUMP_OUT",
            show_envvar=True,
            help="Events JSONL, in log order",
        ),
    ] = Path("var/market-log.jsonl"),
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    topic_prefix: str | None = setting_option("topic_prefix", "--topic-prefix"),
) -> None:
    """Write every event of the market log, in log order; replay it with `replay --log-order`
    to get exactly the features the workers served."""
    from streams.marketlog import dump_events, read_to_end
    from streams.topics import TopicNames

    settings = settings_of(ctx, kafka_bootstrap=bootstrap, topic_prefix=topic_prefix)
    topics = TopicNames.prefixed(settings.topic_prefix)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        n = dump_events(read_to_end(settings, topics.log), fh)
    typer.echo(f"{n:,} events from {topics.log} -> {out}")
