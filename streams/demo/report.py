"""``report.html`` + PNGs of a demo run (matplotlib Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve

from streams.demo.analysis import RateSeries
from streams.demo.config import DemoSummary
from streams.plots import save_figure
from streams.reports import write_page
from training.calibration import reliability


@dataclass(frozen=True)
class ReportInputs:
    summary: DemoSummary
    latencies_ms: np.ndarray
    scores_rate: RateSeries
    buys_rate: RateSeries
    training_window_s: tuple[float, float] | None  # feed paused .. resumed, seconds since t0
    slices: Mapping[str, pd.DataFrame]  # "family/target" -> rule_score, model_score, label
    monitor_reports: Sequence[Path]


def write_report(inputs: ReportInputs, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [
        _plot_throughput(inputs, path.parent / "throughput.png"),
        _plot_latency(inputs.latencies_ms, path.parent / "latency.png"),
    ]
    if inputs.slices:
        images.append(_plot_pr(inputs.slices, path.parent / "pr_curves.png"))
        images.append(_plot_calibration(inputs.slices, path.parent / "calibration.png"))
    s = inputs.summary
    return write_page(
        path,
        "demo.html",
        title="alphastream demo",
        broker=s.broker,
        clickhouse=s.clickhouse,
        total_seconds=f"{s.total_seconds:.0f}",
        pipeline=pipeline_rows(s),
        latency_definition=s.latency_definition,
        training=_training_rows(s),
        quality=quality_rows(s),
        verdict=s.verdict,
        verdict_messages=s.verdict_messages,
        monitor_reports=[p.name for p in inputs.monitor_reports],
        plots=[p.name for p in images],
        phases=[(k, f"{v:.1f}") for k, v in s.phase_seconds.items()],
    )


def pipeline_rows(s: DemoSummary) -> list[tuple[str, str]]:
    lat = s.latency_ms
    rows = [
        ("input events published", f"{sum(s.events_published.values()):,}"),
        ("buys published / scored", f"{s.buys_published:,} / {s.buys_scored:,}"),
        ("genesis windows scored", f"{s.genesis_scored:,}"),
        ("duplicate scores (at-least-once redeliveries)", f"{s.duplicate_scores:,}"),
        ("signals / resolved signals in ClickHouse",
         f"{s.signals_in_clickhouse:,} / {s.outcomes_in_clickhouse:,}"),
        ("stream phase (wall s)", f"{s.stream_seconds:.1f}"),
        ("input events/s (sustained, paced)", f"{s.input_events_per_s:,.0f}"),
        ("scores/s", f"{s.scores_per_s:,.0f}"),
    ]  # fmt: skip
    if lat:
        rows.append(
            (
                "latency ms p50 / p95 / p99 / max",
                f"{lat['p50']:.0f} / {lat['p95']:.0f} / {lat['p99']:.0f} / {lat['max']:.0f}",
            )
        )
    rows += [
        ("models deployed", ", ".join(s.models_deployed) or "-"),
        ("hot reload (deploy -> served by every worker)", _secs(s.reload_seconds)),
        (
            "model-scored share after the reload",
            f"{s.model_scored_after_reload:,} / {s.scores_after_reload:,} "
            f"({100 * s.model_share_after_reload:.1f}%)",
        ),
    ]
    return rows


def quality_rows(s: DemoSummary) -> list[tuple[str, ...]]:
    return [
        (
            q.family,
            q.target,
            f"{q.rows:,}",
            f"{q.positives:,}",
            f"{q.base_rate:.4f}",
            f"{q.rule_pr_auc:.4f}",
            f"{q.model_pr_auc:.4f}",
            f"{q.rule_lift:.2f}",
            f"{q.model_lift:.2f}",
            f"{q.model_ece:.4f}",
        )
        for q in s.quality
    ]


def _training_rows(s: DemoSummary) -> list[tuple[str, ...]]:
    return [
        (
            label,
            f"{info.get('pr_auc', float('nan')):.4f}",
            "-" if info.get("rule_pr_auc") is None else f"{info['rule_pr_auc']:.4f}",
            f"{info.get('rows', 0):,}",
            f"{info.get('seconds', 0.0):.1f}",
        )
        for label, info in s.training.items()
    ]


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _plot_throughput(inputs: ReportInputs, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.plot(inputs.buys_rate.seconds, inputs.buys_rate.per_s, label="buys produced/s")
    ax.plot(inputs.scores_rate.seconds, inputs.scores_rate.per_s, label="scores/s")
    if inputs.training_window_s is not None:
        ax.axvspan(*inputs.training_window_s, color="#ddd", label="feed paused: train + deploy")
    ax.set_xlabel("seconds since the stream started")
    ax.set_title("throughput (5 s bins)")
    ax.legend(fontsize=8)
    return save_figure(fig, out)


def _plot_latency(latencies_ms: np.ndarray, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if latencies_ms.size:
        data = np.clip(latencies_ms, 1.0, None)
        ax.hist(data, bins=list(np.logspace(0, np.log10(data.max() + 1), 50)))
        ax.set_xscale("log")
        for q in (50, 95, 99):
            v = float(np.percentile(latencies_ms, q))
            ax.axvline(max(v, 1.0), linestyle=":", color="k")
            ax.text(max(v, 1.0), ax.get_ylim()[1] * 0.9, f"p{q}", fontsize=8)
    ax.set_xlabel("produce -> scored_at (ms)")
    ax.set_title("end-to-end latency per buy")
    return save_figure(fig, out)


def _plot_pr(slices: Mapping[str, pd.DataFrame], out: Path) -> Path:
    fig, axes = plt.subplots(1, len(slices), figsize=(5 * len(slices), 3.4), squeeze=False)
    for ax, (name, rows) in zip(axes[0], slices.items(), strict=True):
        y = rows["label"].to_numpy(dtype=np.float64)
        for column, scorer in (("rule_score", "rule"), ("model_score", "model")):
            if len(np.unique(y)) == 2:
                p, r, _ = precision_recall_curve(y, rows[column].to_numpy(dtype=np.float64))
                ax.plot(r, p, label=scorer)
        ax.axhline(float(y.mean()) if len(y) else 0.0, color="grey", linestyle=":", label="base")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_title(f"{name}: latest slice")
        ax.legend(fontsize=8)
    return save_figure(fig, out)


def _plot_calibration(slices: Mapping[str, pd.DataFrame], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(5, 4))
    top = 0.0
    for name, rows in slices.items():
        y = rows["label"].to_numpy(dtype=np.float64)
        rel = reliability(rows["model_score"].to_numpy(dtype=np.float64), y)
        ax.plot(rel.mean_predicted, rel.observed_rate, marker="o", label=f"{name} model")
        top = max(top, float(rel.mean_predicted.max()), float(rel.observed_rate.max()))
    ax.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    ax.set_xlabel("mean predicted (equal-frequency bins)")
    ax.set_ylabel("observed rate")
    ax.set_title("calibration on the latest slice")
    ax.legend(fontsize=8)
    return save_figure(fig, out)
