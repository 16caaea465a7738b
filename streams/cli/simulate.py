"""``alphastream simulate``: write a seeded market to files and/or publish it to Kafka."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.sim import SimConfig, load_regime
from streams.sim import simulate as run_market
from streams.sim.config import DEFAULT_LAUNCH_RATE, DEFAULT_START, parse_utc
from streams.sim.publish import Publisher
from streams.sim.report import Calibrator, report_rows
from streams.sim.writer import RunWriter

_ENV = "ALPHASTREAM_SIM_"


def _opt(flag: str, env: str, text: str) -> Any:
    """A typer option that shows its ALPHASTREAM_SIM_* env var."""
    return typer.Option(flag, envvar=_ENV + env, show_envvar=True, help=text)


@app.command("simulate")
def simulate(
    ctx: typer.Context,
    seed: Annotated[int, _opt("--seed", "SEED", "Random seed")] = 1,
    hours: Annotated[float, _opt("--hours", "HOURS", "Simulated hours of launches")] = 1.0,
    out: Annotated[
        Path | None, _opt("--out", "OUT", "Directory for events.jsonl and truth.jsonl")
    ] = None,
    start: Annotated[str, _opt("--start", "START", "Simulated start, ISO-8601 UTC")] = (
        DEFAULT_START
    ),
    regime: Annotated[
        Path | None, _opt("--regime", "REGIME", 'JSON list of {"at": ISO, "set": {knob: value}}')
    ] = None,
    launch_rate: Annotated[
        float, _opt("--launch-rate", "LAUNCH_RATE", "Launches per simulated day")
    ] = DEFAULT_LAUNCH_RATE,
    kafka: Annotated[bool, _opt("--kafka", "KAFKA", "Publish events to the input topics")] = False,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    speed: Annotated[
        float, _opt("--speed", "SPEED", "Publish at X times real time; 0 = as fast as possible")
    ] = 0.0,
    report: Annotated[bool, _opt("--report", "REPORT", "Print the calibration report")] = False,
) -> None:
    """Simulate a launchpad market: events (canonical order) and the hidden truth, separately."""
    if out is None and not kafka and not report:
        raise typer.BadParameter("give --out DIR, --kafka and/or --report")
    config = SimConfig(
        seed=seed,
        start=parse_utc(start),
        hours=hours,
        launch_rate_per_day=launch_rate,
        regime=load_regime(regime) if regime else (),
    )
    console = Console()
    settings = settings_of(ctx, kafka_bootstrap=bootstrap)
    publisher = Publisher(settings.kafka_client_config(), speed) if kafka else None
    writer = RunWriter(out) if out is not None else None
    sinks: list[Callable[[dict[str, Any]], None]] = []
    if writer is not None:
        sinks.append(writer.event)
    if publisher is not None:
        sinks.append(publisher.send)
    calibrator = Calibrator() if report else None
    if calibrator is not None:
        sinks.append(calibrator.add)
    started = time.monotonic()
    n = _drive(config, sinks, writer.truth if writer else None)
    if writer is not None:
        writer.close()
        console.print(
            f"wrote {writer.summary.events:,} events to {writer.summary.events_path} "
            f"and the truth to {writer.summary.truth_path}"
        )
    if publisher is not None:
        left = publisher.flush()
        _print_publish_summary(console, publisher, left, time.monotonic() - started)
    console.print(f"{n:,} events in {time.monotonic() - started:.1f}s")
    if calibrator is not None:
        _print_report(console, calibrator.result(), hours / 24.0)


def _drive(
    config: SimConfig,
    sinks: list[Callable[[dict[str, Any]], None]],
    truth: Callable[[dict[str, Any]], None] | None,
) -> int:
    """Run the market into every sink with a progress bar over simulated time."""
    span = config.end_ms - config.start_ms
    columns = (
        TextColumn("[bold]simulate"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TextColumn("{task.fields[events]:,} events"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    n = 0
    with Progress(*columns) as progress:
        task = progress.add_task("sim", total=span, events=0)
        for event in run_market(config, truth):
            for sink in sinks:
                sink(event)
            n += 1
            if n % 5_000 == 0:
                progress.update(task, completed=event["ts"] - config.start_ms, events=n)
        progress.update(task, completed=span, events=n)
    return n


def _print_publish_summary(console: Console, pub: Publisher, left: int, seconds: float) -> None:
    table = Table("event type", "published")
    for kind, count in sorted(pub.sent.items()):
        table.add_row(kind, f"{count:,}")
    total = sum(pub.sent.values())
    table.add_row("total", f"{total:,} ({total / max(seconds, 1e-9):,.0f}/s)")
    console.print(table)
    if left or pub.errors:
        console.print(f"[red]{left} undelivered, {pub.errors} delivery errors[/red]")


def _print_report(console: Console, measured: dict[str, float], days: float) -> None:
    table = Table("metric", "simulated", "reference")
    for row in report_rows(measured, days):
        table.add_row(row.metric, row.value, row.reference)
    console.print(table)
