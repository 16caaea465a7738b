"""``alphastream replay EVENTS.jsonl --out DIR``: events file -> features + labels as Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

from streams.cli import app
from streams.replay import replay as run_replay


@app.command("replay")
def replay(
    events: Annotated[Path, typer.Argument(help="Input events JSONL (one event per line)")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", envvar="ALPHASTREAM_REPLAY_OUT", show_envvar=True,
            help="Output directory (buys/genesis Parquet, outcomes, dead letters, meta)",
        ),
    ] = Path("var/replay"),
    log_order: Annotated[
        bool,
        typer.Option(
            "--log-order", envvar="ALPHASTREAM_REPLAY_LOG_ORDER", show_envvar=True, help="EVENTS is a market-log dump (`alphastream log dump`): replay it "
            "in its own order (the order the workers applied), never re-sorted",
        ),
    ] = False,
) -> None:  # fmt: skip
    """Replay an events file through the point-in-time feature engine into training tables."""
    console = Console()
    total = events.stat().st_size
    with Progress(
        TextColumn("replay"), BarColumn(), DownloadColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("replay", total=total)
        summary = run_replay(events, out, progress=lambda done: bar.update(task, completed=done),
                             log_order=log_order)  # fmt: skip
    console.print(
        f"{summary.events:,} events ({summary.bad_lines:,} bad lines dead-lettered): "
        f"{summary.buy_signals:,} buy rows, {summary.genesis_signals:,} genesis rows, "
        f"{summary.outcomes:,} outcomes -> {out}"
    )
    console.print(
        f"{summary.events_per_s:,.0f} events/s end to end (parse + engine + write), "
        f"{summary.engine_events_per_s:,.0f} events/s in the engine"
    )
