"""HTML report with PNG plots (matplotlib Agg): calibration and PSI over time, hit rate by decile."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from streams.monitor.evaluate import ModelResult, WindowResult
from streams.monitor.verdict import Thresholds
from streams.plots import save_figure
from streams.reports import write_page

# the verdict colours of the plots (the page takes the same from report.css)
_COLOURS = {"ok": "#1a7f37", "watch": "#9a6700", "retrain": "#cf222e"}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%MZ")


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:.{digits}f}"


def write_report(
    results: Sequence[ModelResult],
    target: str,
    path: Path,
    generated_ms: int,
    thresholds: Thresholds | None = None,
) -> Path:
    """Write ``path`` (HTML) and its PNGs next to it; returns the HTML path."""
    t = thresholds or Thresholds()
    path.parent.mkdir(parents=True, exist_ok=True)
    sections = []
    for result in results:
        slug = _slug(f"{path.stem}_{result.model or 'unknown'}")
        images = [
            _plot_calibration(result, path.parent / f"{slug}_calibration.png"),
            _plot_psi(result, path.parent / f"{slug}_psi.png", t),
            _plot_deciles(result, path.parent / f"{slug}_deciles.png"),
        ]
        sections.append(_section(result, [p.name for p in images]))
    return write_page(
        path,
        "monitor.html",
        title=f"alphastream monitor: {target}",
        generated=iso(generated_ms),
        headers=TABLE_HEADERS,
        sections=sections,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:120]


def _section(result: ModelResult, images: list[str]) -> dict[str, Any]:
    """What the template shows for one model: verdict, reasons, the window table, the plots."""
    return {
        "model": result.model or "(no model id)",
        "verdict": result.verdict.label,
        "reasons": list(result.verdict.messages()),
        "has_reference": result.has_reference,
        "rows": [table_cells(w) for w in (*result.windows, result.period)],
        "images": images,
    }


TABLE_HEADERS = (
    "window", "signals", "resolved", "mean p", "hit rate", "ECE", "Brier", "PR-AUC",
    "score PSI", "max feature PSI", "top-decile hit", "verdict",
)  # fmt: skip


def table_cells(w: WindowResult) -> list[str]:
    """One row of the per-window table (shared by the HTML report and the console table)."""
    m = w.metrics
    worst = m.max_feature_psi
    top = m.top_decile
    top_text = "-"
    if top is not None and top.n:
        expected = f" / {fmt(top.expected)}" if top.expected is not None else ""
        top_text = f"{fmt(top.rate)} (n {top.n}){expected}"
    return [
        f"{iso(w.start_ms)} .. {iso(w.end_ms)}",
        str(m.signals),
        str(m.resolved),
        fmt(m.mean_predicted),
        fmt(m.hit_rate),
        fmt(m.ece),
        fmt(m.brier),
        fmt(m.pr_auc),
        fmt(m.score_psi),
        f"{worst[0]} {fmt(worst[1])}" if worst else "-",
        top_text,
        w.verdict.label,
    ]


def _times(result: ModelResult) -> Any:
    """Window starts as matplotlib date numbers (the axes are then formatted as dates)."""
    return mdates.date2num([datetime.fromtimestamp(w.start_ms / 1000, UTC) for w in result.windows])


def _series(result: ModelResult, attr: str) -> list[float]:
    values: list[Any] = [getattr(w.metrics, attr) for w in result.windows]
    return [float("nan") if v is None else float(v) for v in values]


def _plot_calibration(result: ModelResult, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    times = _times(result)
    ax.plot(times, _series(result, "mean_predicted"), marker="o", label="mean predicted")
    ax.plot(times, _series(result, "hit_rate"), marker="o", label="realised hit rate")
    ax.plot(times, _series(result, "ece"), linestyle="--", label="ECE")
    ax.set_title("calibration over time (resolved signals)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.xaxis_date()
    fig.autofmt_xdate()
    return save_figure(fig, out)


def _plot_psi(result: ModelResult, out: Path, t: Thresholds) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    times = _times(result)
    worst = [
        w.metrics.max_feature_psi[1] if w.metrics.max_feature_psi else float("nan")
        for w in result.windows
    ]
    ax.plot(times, _series(result, "score_psi"), marker="o", label="score PSI")
    ax.plot(times, worst, marker="s", label="max top-feature PSI")
    ax.axhline(t.score_psi_watch, color=_COLOURS["watch"], linestyle=":", label="watch")
    ax.axhline(t.score_psi_retrain, color=_COLOURS["retrain"], linestyle=":", label="retrain")
    ax.set_title("PSI over time vs the training reference")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.xaxis_date()
    fig.autofmt_xdate()
    return save_figure(fig, out)


def _plot_deciles(result: ModelResult, out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bins = result.by_score_bin
    xs = list(range(1, len(bins) + 1))
    predicted = [float("nan") if p is None else p for _, p, _ in bins]
    realised = [float("nan") if r is None else r for _, _, r in bins]
    ax.bar([x - 0.2 for x in xs], predicted, width=0.4, label="mean predicted")
    ax.bar([x + 0.2 for x in xs], realised, width=0.4, label="realised hit rate")
    ax.set_xlabel("score bin (reference deciles, low to high)")
    ax.set_title("hit rate by score decile (whole period)")
    ax.legend(fontsize=8)
    return save_figure(fig, out)
