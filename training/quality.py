"""Data-quality gate: stop a training run before it learns from broken data.

Checks (names usable with ``--allow``; ``--allow CHECK:subject`` overrides one subject only):
  duplicate_ids  - an event_id appears more than once
  all_missing    - a feature is NaN on every training row
  constant       - a feature has one value on >= 99.9% of its non-missing training rows
  leak           - one feature alone ranks the training labels with AUC > 0.98
  few_positives  - a slice has too few positive (or negative) labels to learn or measure from
  few_tokens     - a slice has too few distinct tokens (buys of one token are not independent,
                   so a handful of tokens cannot support a fit or a measurement)
NaN-heavy features are fine (some engineered features are legitimately sparse): only
all-missing is flagged.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.metrics import roc_auc_score

CHECKS: tuple[str, ...] = (
    "duplicate_ids", "all_missing", "constant", "leak", "few_positives", "few_tokens",
)  # fmt: skip


@dataclass(frozen=True)
class GateLimits:
    near_constant_share: float = 0.999
    leak_auc: float = 0.98
    leak_min_rows: int = 50  # fewer non-missing rows than this cannot convict a feature
    min_train_positives: int = 30
    min_eval_positives: int = 5  # per validation / calibration / test slice
    min_train_tokens: int = 50
    min_eval_tokens: int = 20


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    detail: str
    allowed: bool = False


@dataclass(frozen=True)
class GateReport:
    findings: tuple[Finding, ...]
    allow: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(f.allowed for f in self.findings)

    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if not f.allowed]

    def table(self, title: str = "data-quality gate") -> Table:
        table = Table("check", "subject", "detail", "status", title=title)
        for f in self.findings:
            status = "[yellow]allowed[/]" if f.allowed else "[red]BLOCKS[/]"
            table.add_row(f.check, f.subject, f.detail, status)
        if not self.findings:
            table.add_row("all", "-", "no findings", "[green]ok[/]")
        return table

    def render(self) -> str:
        console = Console(width=140, record=True, file=io.StringIO())
        console.print(self.table())
        return console.export_text()

    def as_dict(self) -> dict[str, object]:
        return {
            "passed": self.passed,
            "allow": list(self.allow),
            "findings": [f.__dict__ for f in self.findings],
        }


class QualityGateFailed(RuntimeError):
    def __init__(self, report: GateReport) -> None:
        names = sorted({f.check for f in report.blocking()})
        super().__init__(
            f"data-quality gate failed: {', '.join(names)} "
            f"(override with --allow CHECK or --allow CHECK:subject)"
        )
        self.report = report


def validate_allow(allow: Iterable[str]) -> tuple[str, ...]:
    items = tuple(allow)
    unknown = [a for a in items if a.split(":", 1)[0] not in CHECKS]
    if unknown:
        raise ValueError(f"unknown --allow check(s) {unknown}; known: {', '.join(CHECKS)}")
    return items


def run_gate(
    frame: pd.DataFrame,
    feature_names: Sequence[str],
    target: str,
    slices: dict[str, pd.DataFrame],
    allow: Iterable[str] = (),
    limits: GateLimits | None = None,
) -> GateReport:
    """Run every check; ``frame`` is all resolved rows, ``slices`` the split (train first)."""
    lim = limits or GateLimits()
    allowed = validate_allow(allow)
    train = slices["train"]
    raw: list[Finding] = [*_duplicates(frame)]
    x = train.loc[:, list(feature_names)].to_numpy(dtype=np.float64, na_value=np.nan)
    y = train[target].to_numpy(dtype=np.float64)
    for column, name in enumerate(feature_names):
        raw.extend(_feature_findings(name, x[:, column], y, lim))
    raw.extend(_positives(slices, target, lim))
    raw.extend(_tokens(slices, lim))
    findings = tuple(Finding(f.check, f.subject, f.detail, _is_allowed(f, allowed)) for f in raw)
    return GateReport(findings=findings, allow=allowed)


def _is_allowed(finding: Finding, allowed: tuple[str, ...]) -> bool:
    return finding.check in allowed or f"{finding.check}:{finding.subject}" in allowed


def _duplicates(frame: pd.DataFrame) -> list[Finding]:
    counts = frame["event_id"].value_counts()
    repeated = counts[counts > 1]
    if repeated.empty:
        return []
    examples = ", ".join(str(i) for i in repeated.index[:3])
    detail = f"{len(repeated)} event_id(s) repeated ({int(repeated.sum())} rows), e.g. {examples}"
    return [Finding("duplicate_ids", "event_id", detail)]


def _feature_findings(
    name: str, values: np.ndarray, y: np.ndarray, lim: GateLimits
) -> list[Finding]:
    present = ~np.isnan(values)
    n_present = int(present.sum())
    if n_present == 0:
        return [Finding("all_missing", name, f"NaN on all {len(values)} training rows")]
    _, counts = np.unique(values[present], return_counts=True)
    top_share = counts.max() / n_present
    if top_share >= lim.near_constant_share:
        detail = f"{len(counts)} distinct value(s); top value on {top_share:.2%} of present rows"
        return [Finding("constant", name, detail)]
    labels = y[present]
    if n_present < lim.leak_min_rows or len(np.unique(labels)) < 2:
        return []
    auc = float(roc_auc_score(labels, values[present]))
    separation = max(auc, 1.0 - auc)
    if separation > lim.leak_auc:
        detail = f"alone separates the labels: AUC {separation:.4f} on {n_present} rows"
        return [Finding("leak", name, detail)]
    return []


def _positives(slices: dict[str, pd.DataFrame], target: str, lim: GateLimits) -> list[Finding]:
    found: list[Finding] = []
    for name, rows in slices.items():
        need = lim.min_train_positives if name == "train" else lim.min_eval_positives
        positives = int((rows[target] == 1.0).sum())
        negatives = len(rows) - positives
        if min(positives, negatives) < need:
            detail = f"{positives} positive(s), {negatives} negative(s); need >= {need} of each"
            found.append(Finding("few_positives", name, detail))
    return found


def _tokens(slices: dict[str, pd.DataFrame], lim: GateLimits) -> list[Finding]:
    found: list[Finding] = []
    for name, rows in slices.items():
        need = lim.min_train_tokens if name == "train" else lim.min_eval_tokens
        tokens = int(rows["mint"].nunique())
        if tokens < need:
            detail = f"{tokens} distinct token(s) in {len(rows)} rows; need >= {need}"
            found.append(Finding("few_tokens", name, detail))
    return found
