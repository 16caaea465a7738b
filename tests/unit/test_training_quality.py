"""The data-quality gate catches planted problems, names them, and --allow overrides them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from streams.devtools.synthetic.frames import synthetic_frame
from training.frame import normalize_frame, resolved_for
from training.quality import CHECKS, QualityGateFailed, run_gate, validate_allow
from training.splits import SLICES, chronological_split

TARGET = "reach_2x_1h"


def _gate_inputs(
    raw: pd.DataFrame, names: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    frame = normalize_frame(raw, names)
    rows = resolved_for(frame, TARGET)
    plan = chronological_split(
        rows["ts"].to_numpy(), rows["label_resolved_ts"].to_numpy(), rows["mint"].to_numpy()
    )
    return frame, {n: rows.iloc[plan.positions(n)] for n in SLICES}


@pytest.fixture(scope="module")
def clean() -> tuple[pd.DataFrame, tuple[str, ...]]:
    data = synthetic_frame(rows=2000, seed=3)
    return data.frame, data.feature_names


def test_clean_synthetic_frame_passes_even_with_a_nan_heavy_feature(
    clean: tuple[pd.DataFrame, tuple[str, ...]],
) -> None:
    raw, names = clean
    assert raw[names[-1]].isna().mean() > 0.5  # sparse on purpose: must not be flagged
    frame, slices = _gate_inputs(raw, names)
    report = run_gate(frame, names, TARGET, slices)
    assert report.passed, report.render()
    assert report.findings == ()


@pytest.mark.parametrize(
    ("check", "plant"),
    [
        ("constant", lambda df, rng: df.assign(f03=7.0)),
        ("all_missing", lambda df, rng: df.assign(f04=np.nan)),
        (
            "leak",
            lambda df, rng: df.assign(
                f05=df[TARGET].astype("float64") * 10 + rng.normal(0, 0.1, len(df))
            ),
        ),
        ("few_tokens", lambda df, rng: df.assign(mint="m" + (df.index % 12).astype(str))),
        (
            "duplicate_ids",
            lambda df, rng: df.assign(
                event_id=df["event_id"].where(df.index % 50 != 1, "ev-0000000")
            ),
        ),
    ],
)
def test_gate_catches_a_planted_problem_and_allow_overrides_it(
    clean: tuple[pd.DataFrame, tuple[str, ...]], check: str, plant: object
) -> None:
    raw, names = clean
    rng = np.random.default_rng(0)
    broken = plant(raw.copy(), rng)  # type: ignore[operator]
    frame, slices = _gate_inputs(broken, names)
    report = run_gate(frame, names, TARGET, slices)
    assert not report.passed
    assert {f.check for f in report.blocking()} == {check}
    assert check in report.render()
    allowed = run_gate(frame, names, TARGET, slices, allow=[check])
    assert allowed.passed
    assert all(f.allowed for f in allowed.findings) and allowed.findings


def test_allow_can_target_one_subject_only(clean: tuple[pd.DataFrame, tuple[str, ...]]) -> None:
    raw, names = clean
    frame, slices = _gate_inputs(raw.assign(f03=1.0, f04=2.0), names)
    partial = run_gate(frame, names, TARGET, slices, allow=["constant:f03"])
    assert [(f.check, f.subject) for f in partial.blocking()] == [("constant", "f04")]
    assert run_gate(frame, names, TARGET, slices, allow=["constant:f03", "constant:f04"]).passed


def test_too_few_positives_blocks(clean: tuple[pd.DataFrame, tuple[str, ...]]) -> None:
    raw, names = clean
    rare = raw.copy()
    positives = rare.index[rare[TARGET].fillna(0).astype(int) == 1]
    rare.loc[positives[3:], TARGET] = 0  # three positives left in the whole frame
    frame, slices = _gate_inputs(rare, names)
    report = run_gate(frame, names, TARGET, slices)
    assert "few_positives" in {f.check for f in report.blocking()}
    with pytest.raises(QualityGateFailed, match="few_positives"):
        raise QualityGateFailed(report)


def test_unknown_allow_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown --allow"):
        validate_allow(["constnt"])
    assert validate_allow(list(CHECKS)) == CHECKS
