"""An oracle model that also sees the simulator's hidden per-token truth.

It bounds what the features could achieve: our test PR-AUC is reported as a share of the
oracle's. Truth is the simulator's ``truth.jsonl`` (``streams/sim``): token records (``kind``
"token", or no kind) carry ``mint`` and the hidden per-token fields. The oracle sees only what is
fixed at launch (``ORACLE_FIELDS``: latent quality and whether a rug is planned), never outcome
fields such as ``fate``, ``graduated_ts`` or ``trades`` that would just restate the label.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from training.search import Slice, fit_booster

ORACLE_FIELDS: tuple[str, ...] = ("quality", "quality_z", "attention", "rug_planned")


@dataclass(frozen=True)
class OracleResult:
    truth_fields: tuple[str, ...]
    matched_share: float  # share of test rows whose mint has a truth record
    pr_auc: float
    model_pr_auc: float

    @property
    def share_of_oracle(self) -> float:
        return self.model_pr_auc / self.pr_auc if self.pr_auc > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "truth_fields": list(self.truth_fields),
            "share": self.share_of_oracle,
        }


def load_truth(path: Path) -> pd.DataFrame:
    """One row per mint with the oracle fields as float columns named ``truth__<field>``."""
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                records.append(json.loads(line))
    if not records:
        raise ValueError(f"truth file {path} has no records")
    tokens = [r for r in records if r.get("kind", "token") == "token" and r.get("mint")]
    if not tokens:
        raise ValueError(f"truth file {path} has no token records with a mint")
    frame = pd.DataFrame.from_records(tokens)
    fields = [c for c in ORACLE_FIELDS if c in frame.columns and _numeric(frame[c])]
    if not fields:
        raise ValueError(f"truth file {path} has none of the oracle fields {ORACLE_FIELDS}")
    out = frame.loc[:, ["mint", *fields]].drop_duplicates("mint", keep="last")
    for name in fields:
        out[name] = pd.to_numeric(out[name], errors="coerce").astype(np.float64)
    return out.rename(columns={f: f"truth__{f}" for f in fields}).reset_index(drop=True)


def oracle_pr_auc(
    slices: Mapping[str, pd.DataFrame],
    feature_names: Sequence[str],
    target: str,
    truth: pd.DataFrame,
    params: Mapping[str, Any],
    model_pr_auc: float,
) -> OracleResult:
    """Train on features + truth with the chosen params; PR-AUC on the same test slice."""
    truth_cols = [c for c in truth.columns if c != "mint"]
    columns = [*feature_names, *truth_cols]

    def part(name: str) -> tuple[Slice, float]:
        rows = slices[name].loc[:, ["mint", *feature_names, target]]
        joined = rows.merge(truth, on="mint", how="left", validate="many_to_one")
        matched = float(joined[truth_cols[0]].notna().mean()) if len(joined) else 0.0
        x = joined.loc[:, columns].to_numpy(dtype=np.float64, na_value=np.nan)
        return Slice(x, joined[target].to_numpy(dtype=np.float64)), matched

    train, _ = part("train")
    valid, _ = part("valid")
    test, matched = part("test")
    booster, _ = fit_booster(train, valid, params, columns)
    pr_auc = float(average_precision_score(test.y, booster.predict(test.x)))
    return OracleResult(
        truth_fields=tuple(c.removeprefix("truth__") for c in truth_cols),
        matched_share=matched,
        pr_auc=pr_auc,
        model_pr_auc=model_pr_auc,
    )


def _numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))
