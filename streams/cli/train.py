"""``alphastream train``: train, calibrate, export and deploy model pairs, and write model cards."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.contracts.events import TARGETS
from streams.contracts.types import FAMILIES
from streams.settings import Settings

if TYPE_CHECKING:  # training (LightGBM, scikit-learn, ONNX: ~1.5 s) loads when `train` runs
    from training.frame import TrainingFrame
    from training.pipeline import TrainOutcome

SOURCES = ("clickhouse", "replay")


class _ProgressReporter:
    """Shows the current stage and the Optuna trial count of the model being trained."""

    def __init__(self, progress: Progress, label: str, trials: int) -> None:
        self.progress = progress
        self.label = label
        self.task = progress.add_task(f"{label}: start", total=trials)
        self.warnings: list[str] = []  # kept for a run that stops before its summary

    def stage(self, text: str) -> None:
        if text.startswith("warning: "):
            self.warnings.append(text.removeprefix("warning: "))
        self.progress.update(self.task, description=f"{self.label}: {text}")

    def trial(self, done: int, total: int, best: float) -> None:
        self.progress.update(
            self.task,
            completed=min(done, total),
            description=f"{self.label}: trial {done} best valid PR-AUC {best:.4f}",
        )


def plan_runs(family: str | None, target: str, train_all: bool) -> list[tuple[str, str]]:
    """(family, target) pairs: --all trains every target of the family, or of both families
    when no --family is given; otherwise one target of --family (default standard)."""
    if train_all:
        families = [family] if family else list(FAMILIES)
        return [(f, t) for f in families for t in TARGETS]
    return [(family or "standard", target)]


def _load(settings: Settings, source: str, replay_dir: Path | None, family: str) -> TrainingFrame:
    from training.sources import load_clickhouse, load_replay

    if source == "replay":
        if replay_dir is None:
            raise typer.BadParameter(
                "--source replay needs the replay directory: --source replay DIR"
            )
        return load_replay(replay_dir, family)
    return load_clickhouse(settings, family)


_MODELS_DIR = setting_option("models_dir", "--models-dir", help="Where model pairs are deployed")


@app.command("train")
def train(
    ctx: typer.Context,
    replay_dir: Annotated[
        Path | None,
        typer.Argument(
            help="Replay output dir for --source replay (buys.parquet, genesis.parquet)"
        ),
    ] = None,
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help=f"One of {', '.join(TARGETS)}",
            envvar="ALPHASTREAM_TRAIN_TARGET",
            show_envvar=True,
        ),
    ] = "reach_2x_1h",
    family: Annotated[
        str | None,
        typer.Option(
            "--family",
            help="standard | genesis (default standard; both with --all)",
            envvar="ALPHASTREAM_TRAIN_FAMILY",
            show_envvar=True,
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--source",
            help="clickhouse | replay (then give DIR)",
            envvar="ALPHASTREAM_TRAIN_SOURCE",
            show_envvar=True,
        ),
    ] = "clickhouse",
    train_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Train every target (of --family, or of both families)",
            envvar="ALPHASTREAM_TRAIN_ALL",
            show_envvar=True,
        ),
    ] = False,
    trials: Annotated[
        int,
        typer.Option(
            "--trials",
            min=1,
            help="Optuna trials per model",
            envvar="ALPHASTREAM_TRAIN_TRIALS",
            show_envvar=True,
        ),
    ] = 30,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=1.0,
            help="Stop each search after this many seconds",
            envvar="ALPHASTREAM_TRAIN_TIMEOUT",
            show_envvar=True,
        ),
    ] = None,
    models_dir: Path | None = _MODELS_DIR,
    report_dir: Annotated[
        Path | None,
        typer.Option(
            "--report-dir",
            help="Model cards (default DATA_DIR/reports/train-<version>)",
            envvar="ALPHASTREAM_TRAIN_REPORT_DIR",
            show_envvar=True,
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="Simulator truth.jsonl: adds the oracle comparison to the card",
            envvar="ALPHASTREAM_TRAIN_TRUTH",
            show_envvar=True,
        ),
    ] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option(
            "--allow",
            help="Override a data-quality check (CHECK or CHECK:subject); repeatable",
            envvar="ALPHASTREAM_TRAIN_ALLOW",
            show_envvar=True,
        ),
    ] = None,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            min=1,
            max=2,
            help="LightGBM threads (1 is faster on a busy machine)",
            envvar="ALPHASTREAM_TRAIN_THREADS",
            show_envvar=True,
        ),
    ] = 2,
    seed: Annotated[
        int,
        typer.Option(
            "--seed",
            help="Seed of the search and the booster",
            envvar="ALPHASTREAM_TRAIN_SEED",
            show_envvar=True,
        ),
    ] = 7,
) -> None:
    """Train LightGBM models (Optuna search, Platt calibration), export to ONNX, deploy, write cards."""
    from training.frame import FrameError
    from training.pipeline import (
        CalibrationFailed,
        ParityFailed,
        TrainConfig,
        new_version,
        train_model,
    )
    from training.quality import QualityGateFailed, validate_allow
    from training.splits import SplitError

    settings = settings_of(ctx, models_dir=models_dir)
    console = Console()
    if not console.is_terminal:  # logs and CI: keep the summary table readable
        console = Console(width=160)
    if source not in SOURCES:
        raise typer.BadParameter(f"--source must be one of {', '.join(SOURCES)}")
    if family is not None and family not in FAMILIES:
        raise typer.BadParameter(f"--family must be one of {', '.join(FAMILIES)}")
    if not train_all and target not in TARGETS:
        raise typer.BadParameter(f"--target must be one of {', '.join(TARGETS)}")
    try:
        allowed = validate_allow(allow or [])
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    version = new_version()
    out_dir = report_dir or settings.data_dir / "reports" / f"train-{version}"
    runs = plan_runs(family, target, train_all)
    outcomes: list[tuple[str, str, TrainOutcome]] = []
    failures: list[tuple[str, str, str]] = []
    frames: dict[str, TrainingFrame] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        for fam, tgt in runs:
            if fam not in frames:
                try:
                    frames[fam] = _load(settings, source, replay_dir, fam)
                except (FrameError, OSError) as exc:
                    failures.extend((fam, t, f"load: {exc}") for f, t in runs if f == fam)
                    continue
            config = TrainConfig(
                target=tgt,
                models_dir=settings.models_dir,
                report_dir=out_dir,
                version=version,
                trials=trials,
                timeout_s=timeout,
                seed=seed,
                allow=allowed,
                truth_path=truth,
                num_threads=threads,
            )
            reporter = _ProgressReporter(progress, f"{fam}/{tgt}", trials)
            try:
                outcomes.append((fam, tgt, train_model(frames[fam], config, reporter)))
                reporter.stage("done")
            except QualityGateFailed as exc:
                console.print(exc.report.table(title=f"data-quality gate: {fam}/{tgt}"))
                failures.append((fam, tgt, _with_warnings(str(exc), reporter.warnings)))
            except (ParityFailed, CalibrationFailed, SplitError, FrameError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
                failures.append((fam, tgt, _with_warnings(reason, reporter.warnings)))
    _print_summary(console, outcomes, failures, out_dir)
    if failures:
        raise typer.Exit(code=2)


def _print_summary(
    console: Console,
    outcomes: list[tuple[str, str, TrainOutcome]],
    failures: list[tuple[str, str, str]],
    out_dir: Path,
) -> None:
    if outcomes:
        from training.card import write_index

        pages = [
            (f"{f}/{t}", o.card_path, f"PR-AUC {o.summary['pr_auc']:.4f}") for f, t, o in outcomes
        ]
        index = write_index(out_dir, pages)
        table = Table(
            "family",
            "target",
            "PR-AUC [95% token CI]",
            "token-weighted PR-AUC",
            "top-decile lift",
            "ECE after Platt",
            "ROC-AUC",
            "base rate",
            "top-decile hit",
            "rule PR-AUC",
            "oracle share",
            "ECE raw->platt",
            title="trained (test slice)",
        )
        for fam, tgt, o in outcomes:
            s = o.summary
            table.add_row(
                fam,
                tgt,
                _ci(s, "pr_auc"),
                _ci(s, "pr_auc_token_weighted"),
                _ci(s, "top_decile_lift"),
                _ci(s, "ece"),
                f"{s['roc_auc']:.4f}",
                f"{s['base_rate']:.4f}",
                f"{s['top_decile_hit_rate']:.4f}",
                _opt(s["rule_pr_auc"]),
                _opt(s["oracle_share"]),
                f"{s['ece_before']:.3f}->{s['ece_after']:.3f}",
            )
        console.print(table)
        for fam, tgt, o in outcomes:
            console.print(f"{fam}/{tgt}: reliability curve {o.summary['reliability_curve']}")
            for warning in o.summary["warnings"]:
                console.print(f"[yellow]warning[/] {fam}/{tgt}: {warning}")
        console.print(f"model cards: {index}")
    for fam, tgt, reason in failures:
        console.print(f"[red]not trained[/] {fam}/{tgt}: {reason}")


def _with_warnings(reason: str, warnings: list[str]) -> str:
    """A stopped run's reason, followed by what the run had warned about before it stopped."""
    return "; ".join([reason, *(f"warning: {w}" for w in warnings)])


def _ci(summary: dict[str, Any], key: str) -> str:
    """``value [low, high]`` from the run's token-bootstrap intervals."""
    got = summary["intervals"][key]
    return f"{got.value:.3f} [{got.low:.3f}, {got.high:.3f}]"


def _opt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
