"""``alphastream demo``: embedded broker + chdb, simulated market, scoring, training, hot reload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import app
from streams.cli.common import settings_of

_ENV = "ALPHASTREAM_DEMO_"


def _opt(flag: str, env: str, text: str) -> Any:
    return typer.Option(flag, envvar=_ENV + env, show_envvar=True, help=text)


@app.command("demo")
def demo(
    ctx: typer.Context,
    quick: Annotated[bool, _opt("--quick", "QUICK", "A smaller market (~2 minutes)")] = False,
    kafka: Annotated[
        str | None, _opt("--kafka", "KAFKA", "Use this Kafka bootstrap instead of embedded tansu")
    ] = None,
    clickhouse: Annotated[
        str | None,
        _opt("--clickhouse", "CLICKHOUSE", "Use this ClickHouse DSN instead of embedded chdb"),
    ] = None,
    work_dir: Annotated[
        Path, _opt("--work-dir", "WORK_DIR", "Demo state and report (wiped at start)")
    ] = Path("var/demo"),
    rate: Annotated[
        float | None,
        _opt(
            "--rate",
            "RATE",
            "Input events produced per wall-clock second; 0 = as fast as the pipeline keeps up "
            "(default 500, quick 0)",
        ),
    ] = None,
    workers: Annotated[int, _opt("--workers", "WORKERS", "Worker subprocesses")] = 1,
    seed: Annotated[int, _opt("--seed", "SEED", "Simulator seed")] = 1,
    hours: Annotated[
        float | None, _opt("--hours", "HOURS", "Simulated hours (default 48, quick 14)")
    ] = None,
    launch_rate: Annotated[
        float | None, _opt("--launch-rate", "LAUNCH_RATE", "Launches per simulated day")
    ] = None,
    train_after: Annotated[
        float | None,
        _opt("--train-after", "TRAIN_AFTER", "Simulated hours streamed before training"),
    ] = None,
    trials: Annotated[int | None, _opt("--trials", "TRIALS", "Optuna trials per model")] = None,
) -> None:
    """Run the whole job end to end and write DIR/report.html (exit 1 if a phase fails)."""
    from streams.demo import DemoOptions, PhaseFailed, run_demo

    console = Console()
    try:
        options = DemoOptions(
            quick=quick,
            kafka=kafka,
            clickhouse=clickhouse,
            work_dir=work_dir,
            rate_per_s=rate,
            workers=workers,
            seed=seed,
            hours=hours,
            launch_rate_per_day=launch_rate,
            train_after_hours=train_after,
            trials=trials,
        )
        options.plan()
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        summary = run_demo(settings_of(ctx), options, console)
    except PhaseFailed as exc:
        console.print(f"[bold red]demo failed:[/] {exc}")
        console.print(f"logs: {work_dir / 'logs'}; everything started was stopped")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: everything the demo started was stopped[/]")
        raise typer.Exit(130) from None
    _print_summary(console, summary)


def _print_summary(console: Console, summary: Any) -> None:
    from streams.demo.report import pipeline_rows

    console.rule("[bold]summary")
    table = Table("metric", "value")
    for name, value in pipeline_rows(summary):
        table.add_row(name, value)
    table.add_row("monitor verdict", summary.verdict)
    table.add_row("total time", f"{summary.total_seconds:.0f} s")
    console.print(table)
    console.print("rule vs model on the latest slice (model-scored after the reload, resolved):")
    for q in summary.quality:
        console.print(
            f"  {q.family}/{q.target}: {q.rows:,} rows, {q.positives:,} positive "
            f"(base {q.base_rate:.3f}); PR-AUC rule {q.rule_pr_auc:.3f} -> model "
            f"{q.model_pr_auc:.3f}; top-decile lift rule {q.rule_lift:.2f} -> model "
            f"{q.model_lift:.2f}; model ECE {q.model_ece:.3f}"
        )
    console.print(f"latency: {summary.latency_definition}")
    console.print(f"report: [bold]{summary.report}[/] (summary.json next to it)")
