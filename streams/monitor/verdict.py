"""Turn window metrics into ``ok | watch | retrain`` with the reasons. Pure.

Each rule looks at one metric and is skipped when the metric is unavailable (too few signals or
resolved labels, or no reference in the model metadata). The verdict is the worst rule level.
Defaults (all overridable through ``Thresholds``) are documented in docs/monitor.md.

Two kinds of evidence: distribution shift (score and feature PSI, missing shares) says the inputs
look different from the training reference, which market-wide features do every day (daily
launch cycle, growing creator and wallet histories); by default it escalates only to ``watch``.
Every rule compares with the reference net of both samples' sampling error: PSI above its
small-sample noise floor, the missing-share change in standard errors, the top-decile shortfall
against the combined intervals of the window and of the test-slice expectation. ``retrain`` needs
evidence that the predictions are wrong now, measured on resolved labels against its sampling
error: a significant calibration gap or ECE excess, or a top-decile hit rate significantly below
the model's expectation.

Asymmetry for veto models (``VETO_TARGETS``, e.g. ``is_dead_soon``): a veto that under-predicts
its event lets bad tokens through, the costly direction, so a realised rate *above* the
prediction reaches ``retrain`` at a smaller relative gap and a lower significance than one below
it (``veto_under_*``); over-prediction keeps the standard thresholds.

Cold start (a version with no training reference, e.g. a new market or a sidecar not yet
deployed): the shift rules and the expectation rules have nothing to compare with and are skipped;
the calibration rules, which compare predictions with realised outcomes, still judge once enough
labels resolved. ``Verdict.notes`` says which of these applied.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import IntEnum

from streams.monitor.metrics import (
    HitRate,
    ModelReference,
    PsiTest,
    WindowMetrics,
    wilson_rate_interval,
)

VETO_TARGETS = frozenset({"is_dead_soon"})


def is_veto_label(model_label: str) -> bool:
    """Is ``family__target__version@version`` (or a bare model id) a veto model?"""
    parts = model_label.split("@", 1)[0].split("__")
    return len(parts) >= 2 and parts[1] in VETO_TARGETS


class Level(IntEnum):
    OK = 0
    WATCH = 1
    RETRAIN = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def exit_code(self) -> int:
        """CLI exit code: 0 ok, 10 watch, 20 retrain."""
        return 10 * int(self)


@dataclass(frozen=True)
class Thresholds:
    score_psi_watch: float = 0.10
    score_psi_retrain: float = 0.25
    feature_psi_watch: float = 0.10
    feature_psi_retrain: float = 0.25
    # PSI is shift, not error: it is capped at this level (raise to RETRAIN for the old rule).
    psi_max_level: Level = Level.WATCH
    # PSI counts only when its two-sample homogeneity test (effective n) is this significant:
    # ~10 monitored features re-checked every run, so a strict per-feature level.
    psi_max_p: float = 0.001
    # Missing share (e.g. creators without history): |z| at least this (clustered, both
    # samples' error) and a material change in share; shift, so watch at most.
    missing_z_watch: float = 3.0
    missing_change_watch: float = 0.10
    ece_watch: float = 0.05  # ECE in excess of its sampling-noise floor
    ece_retrain: float = 0.10
    # Calibration in the large: |realised - predicted hits| / predicted hits, judged only when
    # significant (|z| >= calibration_min_z, z inflated by the same-token design effect).
    # Relative, because the hourly base rate swings several-fold on a bursty market.
    calibration_gap_watch: float = 0.20
    calibration_gap_retrain: float = 0.40
    calibration_min_z: float = 3.0
    # Veto models under-predicting their event (realised > predicted): stricter on both counts.
    veto_under_gap_watch: float = 0.10
    veto_under_gap_retrain: float = 0.20
    veto_under_min_z: float = 2.0
    top_decile_min_n: int = 30
    # The shortfall (expected - rate) beyond the combined Wilson half-widths (Newcombe) of the
    # window (effective n) and of the test-slice expectation, at this z: z = 3 (~0.1% false
    # alarms per check) for retrain because the monitor re-checks every window.
    top_decile_retrain_z: float = 3.0
    top_decile_watch_z: float = 2.0  # watch: significant at this z ...
    top_decile_watch_ratio: float = 0.8  # ... and the point estimate below 80% of the expectation
    pr_auc_drop_watch: float = 0.10  # absolute drop vs the metadata's test-slice PR-AUC
    pr_auc_drop_retrain: float = 0.20
    # ... and exceed this many standard errors (z = 3: re-checked every hour, ~0.1% per check)
    pr_auc_min_z: float = 3.0
    # PR-AUC moves with the base rate (prevalence) and has no interval here: watch only.
    pr_auc_max_level: Level = Level.WATCH


@dataclass(frozen=True)
class Reason:
    rule: str
    level: Level
    message: str


@dataclass(frozen=True)
class Verdict:
    level: Level
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)  # what could not be judged, and why

    @property
    def label(self) -> str:
        return self.level.label

    def messages(self) -> list[str]:
        return [f"[{r.level.label}] {r.rule}: {r.message}" for r in self.reasons]


def judge(
    metrics: WindowMetrics, reference: ModelReference, thresholds: Thresholds | None = None
) -> Verdict:
    t = thresholds or Thresholds()
    reasons = [
        r
        for r in (
            score_psi_rule(metrics, t),
            feature_psi_rule(metrics, t),
            missing_share_rule(metrics, t),
            ece_rule(metrics, t),
            calibration_gap_rule(metrics, t, reference.veto),
            top_decile_rule(metrics, t),
            pr_auc_rule(metrics, reference, t),
        )
        if r is not None
    ]
    level = max((r.level for r in reasons), default=Level.OK)
    ordered = tuple(sorted(reasons, key=lambda r: -r.level))
    return Verdict(level=level, reasons=ordered, notes=cold_start_notes(metrics, reference))


def cold_start_notes(m: WindowMetrics, reference: ModelReference) -> tuple[str, ...]:
    """Which rules had nothing to judge: no training reference, or too few resolved labels."""
    notes = []
    if reference.score is None and not reference.features:
        notes.append("cold start: no training reference, shift rules skipped")
    if reference.expected_top_decile_hit_rate is None and reference.pr_auc is None:
        notes.append("no test-slice expectations: top-decile and PR-AUC rules skipped")
    if m.ece is None:
        notes.append(f"only {m.resolved} resolved labels: calibration not judged yet")
    return tuple(notes)


def _graded(value: float, watch: float, retrain: float) -> Level:
    if value >= retrain:
        return Level.RETRAIN
    return Level.WATCH if value >= watch else Level.OK


def _significant(test: PsiTest | None, t: Thresholds) -> bool:
    return test is None or test.p_value <= t.psi_max_p


def _test_text(test: PsiTest | None) -> str:
    if test is None:
        return ""
    return (
        f", noise floor {test.noise:.3f}, p {test.p_value:.2g}, effective n {test.n_effective:.0f}"
    )


def score_psi_rule(m: WindowMetrics, t: Thresholds) -> Reason | None:
    excess = m.score_psi_excess
    if excess is None or m.score_psi is None or not _significant(m.score_psi_test, t):
        return None
    level = min(_graded(excess, t.score_psi_watch, t.score_psi_retrain), t.psi_max_level)
    if level is Level.OK:
        return None
    return Reason(
        "score_psi",
        level,
        f"score PSI {m.score_psi:.3f} ({excess:.3f} above noise{_test_text(m.score_psi_test)}; "
        f"watch >= {t.score_psi_watch})",
    )


def feature_psi_rule(m: WindowMetrics, t: Thresholds) -> Reason | None:
    """The worst feature among those whose PSI is both material (above noise) and significant."""
    drifted = {
        k: v
        for k, v in m.feature_psi_excess.items()
        if v >= t.feature_psi_watch and _significant(m.feature_psi_test.get(k), t)
    }
    if not drifted:
        return None
    name = max(drifted, key=lambda k: drifted[k])
    value = drifted[name]
    level = min(_graded(value, t.feature_psi_watch, t.feature_psi_retrain), t.psi_max_level)
    return Reason(
        "feature_psi",
        level,
        f"{len(drifted)} feature(s) drifted, worst {name} PSI {m.feature_psi[name]:.3f} "
        f"({value:.3f} above noise{_test_text(m.feature_psi_test.get(name))}; "
        f"{', '.join(sorted(drifted))})",
    )


def missing_share_rule(m: WindowMetrics, t: Thresholds) -> Reason | None:
    moved = {
        name: s
        for name, s in m.missing_shift.items()
        if s.z is not None
        and abs(s.z) >= t.missing_z_watch
        and abs(s.change) >= t.missing_change_watch
    }
    if not moved:
        return None
    name = max(moved, key=lambda k: abs(moved[k].change))
    s = moved[name]
    return Reason(
        "missing_share",
        min(Level.WATCH, t.psi_max_level),
        f"{len(moved)} feature(s) changed their missing share, worst {name} "
        f"{s.rate:.3f} vs {s.reference_rate:.3f} (z {s.z:+.1f}, design effect "
        f"{s.design_effect:.1f}; {', '.join(sorted(moved))})",
    )


def ece_rule(m: WindowMetrics, t: Thresholds) -> Reason | None:
    excess = m.ece_excess
    if excess is None or m.ece is None or m.ece_noise is None:
        return None
    level = _graded(excess, t.ece_watch, t.ece_retrain)
    if level is Level.OK:
        return None
    return Reason(
        "ece",
        level,
        f"ECE {m.ece:.3f} is {excess:.3f} above its noise floor {m.ece_noise:.3f} "
        f"({m.resolved} resolved)",
    )


def calibration_gap_rule(m: WindowMetrics, t: Thresholds, veto: bool = False) -> Reason | None:
    if m.hit_rate is None or m.mean_predicted is None or m.calibration_z is None:
        return None
    if m.ece is None:  # too few resolved labels for calibration metrics
        return None
    gap = m.hit_rate - m.mean_predicted
    under = veto and gap > 0  # a veto missing its event: the dangerous direction
    min_z = t.veto_under_min_z if under else t.calibration_min_z
    if abs(m.calibration_z) < min_z or m.mean_predicted <= 0.0:
        return None
    relative = abs(gap) / m.mean_predicted
    level = (
        _graded(relative, t.veto_under_gap_watch, t.veto_under_gap_retrain)
        if under
        else _graded(relative, t.calibration_gap_watch, t.calibration_gap_retrain)
    )
    if level is Level.OK:
        return None
    direction = "below" if gap < 0 else "above"
    veto_text = "; veto under-predicting its event, stricter thresholds" if under else ""
    return Reason(
        "calibration_gap",
        level,
        f"realised hit rate {m.hit_rate:.3f} is {relative:.0%} {direction} the mean prediction "
        f"{m.mean_predicted:.3f} (z {m.calibration_z:+.1f}, design effect "
        f"{m.design_effect or 1.0:.1f}, {m.resolved} resolved{veto_text})",
    )


def top_decile_rule(m: WindowMetrics, t: Thresholds) -> Reason | None:
    top = m.top_decile
    if top is None or top.expected is None or top.n < t.top_decile_min_n:
        return None
    expected_n = (
        f", expectation effective n {top.expected_n_effective:.0f}"
        if top.expected_n_effective
        else ""
    )
    summary = (
        f"last {top.n} resolved top-decile signals (effective n {top.n_effective:.0f}) hit "
        f"{top.rate:.3f} (95% CI {top.low:.3f}-{top.high:.3f}) vs expected {top.expected:.3f}"
        f"{expected_n}"
    )
    if top_decile_shortfall(top, t.top_decile_retrain_z):
        return Reason(
            "top_decile_hit_rate",
            Level.RETRAIN,
            f"{summary}, below at z {t.top_decile_retrain_z:g}",
        )
    if (
        top_decile_shortfall(top, t.top_decile_watch_z)
        and top.rate < t.top_decile_watch_ratio * top.expected
    ):
        return Reason("top_decile_hit_rate", Level.WATCH, summary)
    return None


def top_decile_shortfall(top: HitRate, z: float) -> bool:
    """Is the hit rate below the expectation at ``z``, counting both sides' sampling error?

    Newcombe's hybrid score method: the difference is significant when it exceeds the root sum
    of squares of the window's Wilson upper half-width and the expectation's Wilson lower
    half-width (0 when the expectation's sample size is unknown).
    """
    if top.expected is None:
        return False
    _, upper = wilson_rate_interval(top.rate, top.n_effective, z)
    margin_squared = (upper - top.rate) ** 2
    if top.expected_n_effective:
        lower, _ = wilson_rate_interval(top.expected, top.expected_n_effective, z)
        margin_squared += (top.expected - lower) ** 2
    return top.expected - top.rate > math.sqrt(margin_squared)


def pr_auc_rule(m: WindowMetrics, reference: ModelReference, t: Thresholds) -> Reason | None:
    """PR-AUC vs the metadata's, at the reference base rate when it is known (prevalence-free)."""
    observed = m.pr_auc_at_reference_rate if m.pr_auc_at_reference_rate is not None else m.pr_auc
    if observed is None or m.pr_auc is None or reference.pr_auc is None:
        return None
    drop = reference.pr_auc - observed
    if m.pr_auc_se is not None and drop < t.pr_auc_min_z * m.pr_auc_se:
        return None  # within sampling error
    level = min(_graded(drop, t.pr_auc_drop_watch, t.pr_auc_drop_retrain), t.pr_auc_max_level)
    if level is Level.OK:
        return None
    adjusted = (
        f" (at the reference base rate {reference.base_rate:.3f}; {m.pr_auc:.3f} as observed)"
        if m.pr_auc_at_reference_rate is not None and reference.base_rate is not None
        else ""
    )
    return Reason(
        "pr_auc",
        level,
        f"PR-AUC {observed:.3f}{adjusted} is {drop:.3f} below the model's {reference.pr_auc:.3f}"
        + (f" (standard error {m.pr_auc_se:.3f})" if m.pr_auc_se is not None else ""),
    )
