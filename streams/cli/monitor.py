"""``alphastream monitor``: drift and quality per model version; exit 0 ok, 10 watch, 20 retrain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.contracts.events import TARGETS
from streams.settings import Settings

if TYPE_CHECKING:  # the monitor (scikit-learn, matplotlib, apprise: ~2.5 s) loads when it runs
    from streams.monitor.evaluate import ModelResult
    from streams.monitor.service import MonitorRun

DEFAULT_LOOKBACK_MS = 24 * 3_600_000
_STYLE = {"ok": "green", "watch": "yellow", "retrain": "bold red"}


def _option(flag: str, env: str, text: str) -> typer.models.OptionInfo:
    return typer.Option(flag, help=text, envvar=f"ALPHASTREAM_{env}", show_envvar=True)


_MODELS_DIR = setting_option("models_dir", "--models-dir")
_BOOTSTRAP = setting_option(
    "kafka_bootstrap", "--bootstrap", help="Kafka broker for alerts (skipped if unreachable)"
)
_DSN = setting_option("clickhouse_dsn", "--dsn")


@app.command("monitor")
def monitor(
    ctx: typer.Context,
    window: Annotated[
        str, _option("--window", "MONITOR_WINDOW", "Window length per table row: 30m, 1h, 1d")
    ] = "1h",
    since: Annotated[
        str | None,
        _option(
            "--since", "MONITOR_SINCE", "Start (ISO-8601 with zone); default 24h before --until"
        ),
    ] = None,
    until: Annotated[
        str | None, _option("--until", "MONITOR_UNTIL", "End (ISO-8601 with zone); default now")
    ] = None,
    target: Annotated[
        str, _option("--target", "MONITOR_TARGET", f"One of {', '.join(TARGETS)}")
    ] = "reach_2x_1h",
    models_dir: Path | None = _MODELS_DIR,
    report: Annotated[
        Path | None,
        _option("--report", "MONITOR_REPORT", "HTML report path (PNG plots next to it)"),
    ] = None,
    auto_retrain: Annotated[
        bool,
        typer.Option(
            "--auto-retrain",
            help="On retrain: train from ClickHouse and deploy",
            envvar="ALPHASTREAM_MONITOR_AUTO_RETRAIN",
            show_envvar=True,
        ),
    ] = False,
    trials: Annotated[
        int, _option("--trials", "MONITOR_RETRAIN_TRIALS", "Optuna trials for --auto-retrain")
    ] = 20,
    bootstrap: str | None = _BOOTSTRAP,
    dsn: str | None = _DSN,
) -> None:
    """Compare served scores and resolved outcomes with each model's training reference."""
    from streams.monitor.evaluate import worst_level
    from streams.monitor.report import write_report
    from streams.monitor.service import parse_duration_ms, parse_utc_ms, run_from_clickhouse
    from streams.monitor.verdict import Level

    settings = settings_of(
        ctx, models_dir=models_dir, kafka_bootstrap=bootstrap, clickhouse_dsn=dsn
    )
    if target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}")
    try:
        window_ms = parse_duration_ms(window)
        until_ms = parse_utc_ms(until) if until else int(time.time() * 1000)
        since_ms = parse_utc_ms(since) if since else until_ms - DEFAULT_LOOKBACK_MS
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if since_ms >= until_ms:
        raise typer.BadParameter("--since must be before --until")
    console = Console()
    with console.status("reading ClickHouse and computing metrics"):
        run = run_from_clickhouse(settings, target, since_ms, until_ms, window_ms)
    _print(console, run)
    level = worst_level(run.results)
    report_path = report or settings.data_dir / "reports" / f"monitor-{target}.html"
    write_report(run.results, target, report_path, until_ms)
    console.print(f"report: {report_path}")
    _alert(console, settings, run, until_ms)
    if auto_retrain and level is Level.RETRAIN:
        _retrain(console, settings, run, trials, report_path.parent)
    console.print(f"verdict: [{_STYLE[level.label]}]{level.label}[/] (exit {level.exit_code})")
    raise typer.Exit(level.exit_code)


def _print(console: Console, run: MonitorRun) -> None:
    if not run.results:
        console.print(f"no scored signals for {run.target} in the period")
    for result in run.results:
        _print_model(console, result)
    unseen = sorted(set(run.deployed) - {r.model for r in run.results})
    for label in unseen:
        console.print(f"deployed {label}: no scored signals in the period")


def _print_model(console: Console, result: ModelResult) -> None:
    from streams.monitor.report import TABLE_HEADERS, table_cells

    verdict = result.verdict.label
    title = f"{result.model or '(no model id)'}: [{_STYLE[verdict]}]{verdict}[/]"
    if not result.has_reference:
        title += " (not deployed here: no reference)"
    table = Table(*TABLE_HEADERS, title=title)
    for window in (*result.windows, result.period):
        cells = table_cells(window)
        if window is result.period:
            cells[0] = f"whole period {cells[0]}"
        table.add_row(*cells, style="bold" if window is result.period else None)
    console.print(table)
    for message in result.verdict.messages():
        console.print(f"  {message}")
    for note in result.verdict.notes:
        console.print(f"  [dim]note: {note}[/]")


def _alert(console: Console, settings: Settings, run: MonitorRun, now_ms: int) -> None:
    from streams.monitor.alerts import alerts_for, publish_alerts

    alerts = alerts_for(run.results, run.target, now_ms)
    if not alerts:
        return
    sent, problem = publish_alerts(settings, alerts)
    console.print(
        f"alerts: {sent}/{len(alerts)} published on 'alerts'" + (f" ({problem})" if problem else "")
    )


def _retrain(
    console: Console, settings: Settings, run: MonitorRun, trials: int, report_dir: Path
) -> None:
    from streams.monitor.service import retrain
    from streams.monitor.verdict import Level

    for result in run.results:
        deployed = run.deployed.get(result.model)
        if deployed is None or result.verdict.level is not Level.RETRAIN:
            continue
        with console.status(f"retraining {result.model} ({trials} trials)"):
            try:
                label, card = retrain(settings, deployed, trials, report_dir)
            except (
                Exception
            ) as exc:  # a failed retrain (gate, parity, data) leaves the model serving
                console.print(f"[red]retrain of {result.model} failed:[/] {exc}")
                continue
        console.print(f"retrained {result.model} -> deployed {label} (card {card})")
