"""Model card: one HTML page per trained model plus its PNG figures (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: cards are rendered in CI and on servers

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from streams.plots import save_figure
from streams.reports import write_page
from training.calibration import Reliability
from training.evaluate import decile_table


@dataclass(frozen=True)
class CardInputs:
    title: str
    stem: str  # file prefix, e.g. standard__reach_2x_1h
    y_test: np.ndarray
    raw_test: np.ndarray
    calibrated_test: np.ndarray
    rule_test: np.ndarray | None
    gains: np.ndarray
    feature_names: Sequence[str]
    before: Reliability
    after: Reliability
    sections: Mapping[str, Mapping[str, Any]]  # heading -> key/value table
    preformatted: Mapping[str, str] = field(default_factory=dict)  # heading -> text block


def write_card(inputs: CardInputs, out_dir: Path) -> Path:
    """Render the figures and the HTML page; returns the HTML path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "PR and ROC curves (test slice)": _curves(inputs, out_dir),
        "Reliability before / after Platt (test slice)": _reliability(inputs, out_dir),
        "Feature importance (gain)": _importance(inputs, out_dir),
        "Precision and lift by score decile (test slice)": _deciles(inputs, out_dir),
    }
    return write_page(
        out_dir / f"{inputs.stem}.html",
        "card.html",
        title=inputs.title,
        sections=[
            (heading, [(str(k), _cell(v)) for k, v in rows.items()])
            for heading, rows in inputs.sections.items()
        ],
        figures=list(figures.items()),
        preformatted=list(inputs.preformatted.items()),
    )


def write_index(out_dir: Path, pages: Sequence[tuple[str, Path, str]]) -> Path:
    """A run index linking every model card: (title, page, one-line summary)."""
    return write_page(
        out_dir / "index.html",
        "card_index.html",
        title="training run",
        run=out_dir.name,
        pages=[(title, page.name, summary) for title, page, summary in pages],
    )


def _scores(inputs: CardInputs) -> list[tuple[str, np.ndarray]]:
    shown = [("model (calibrated)", inputs.calibrated_test)]
    if inputs.rule_test is not None:
        shown.append(("rule score", inputs.rule_test))
    return shown


def _curves(inputs: CardInputs, out_dir: Path) -> str:
    fig, (ax_pr, ax_roc) = plt.subplots(1, 2, figsize=(10, 4.2))
    base = float(np.mean(inputs.y_test))
    for label, scores in _scores(inputs):
        keep = np.isfinite(scores)
        precision, recall, _ = precision_recall_curve(inputs.y_test[keep], scores[keep])
        ax_pr.plot(recall, precision, label=label)
        fpr, tpr, _ = roc_curve(inputs.y_test[keep], scores[keep])
        ax_roc.plot(fpr, tpr, label=label)
    ax_pr.axhline(base, color="grey", linestyle="--", label=f"base rate {base:.3f}")
    ax_roc.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    ax_pr.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    ax_roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax_pr.legend(fontsize=8)
    ax_roc.legend(fontsize=8)
    return _save(fig, out_dir, f"{inputs.stem}_curves.png")


def _reliability(inputs: CardInputs, out_dir: Path) -> str:
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect")
    for label, rel in (("raw", inputs.before), ("Platt", inputs.after)):
        ax.plot(
            rel.mean_predicted, rel.observed_rate, marker="o", label=f"{label} (ECE {rel.ece:.3f})"
        )
    ax.set(
        xlabel="mean predicted", ylabel="observed rate", title="reliability (equal-frequency bins)"
    )
    ax.legend(fontsize=8)
    return _save(fig, out_dir, f"{inputs.stem}_reliability.png")


def _importance(inputs: CardInputs, out_dir: Path) -> str:
    order = np.argsort(-inputs.gains, kind="stable")[:20][::-1]
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.3 * len(order) + 1)))
    ax.barh([inputs.feature_names[i] for i in order], inputs.gains[order])
    ax.set(xlabel="total gain", title="top features by gain")
    ax.tick_params(axis="y", labelsize=8)
    return _save(fig, out_dir, f"{inputs.stem}_importance.png")


def _deciles(inputs: CardInputs, out_dir: Path) -> str:
    fig, (ax_hit, ax_lift) = plt.subplots(1, 2, figsize=(10, 4))
    base = float(np.mean(inputs.y_test))
    width = 0.4
    for offset, (label, scores) in enumerate(_scores(inputs)):
        rows = decile_table(scores, inputs.y_test)
        ranks = np.array([r["decile"] for r in rows]) + (offset - 0.5) * width
        ax_hit.bar(ranks, [r["hit_rate"] for r in rows], width=width, label=label)
        ax_lift.bar(ranks, [r["lift"] for r in rows], width=width, label=label)
    ax_hit.axhline(base, color="grey", linestyle="--", label=f"base rate {base:.3f}")
    ax_lift.axhline(1.0, color="grey", linestyle="--", label="no lift")
    ax_hit.set(xlabel="score decile (1 = top)", ylabel="precision (hit rate)", title="precision")
    ax_lift.set(xlabel="score decile (1 = top)", ylabel="lift over base rate", title="lift")
    ax_hit.legend(fontsize=8)
    ax_lift.legend(fontsize=8)
    return _save(fig, out_dir, f"{inputs.stem}_deciles.png")


def _save(fig: Any, out_dir: Path, name: str) -> str:
    save_figure(fig, out_dir / name)
    return name


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
