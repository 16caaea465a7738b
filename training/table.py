"""README's model table from the deployed metadata: ``python -m training.table MODELS_DIR``.

Every cell is read from a model's ``_metadata.json`` (``test_metrics``, ``uncertainty``,
``calibration_report``, ``parity``), so the table README shows is the one ``make tables`` trained.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from streams.contracts.metadata import metadata_path, read_metadata
from streams.contracts.types import TARGETS

HEADER = (
    "| model | test PR-AUC | token-weighted PR-AUC | base rate | rule PR-AUC | ROC-AUC "
    "| share of oracle | top-decile lift | ECE raw → Platt | reliability slope "
    "| test tokens / with a positive | worst ONNX-LightGBM diff |"
)
FAMILIES = ("standard", "genesis")


def _interval(uncertainty: dict[str, Any], name: str) -> str:
    got = uncertainty["intervals"][name]
    digits = 2 if name == "reliability_slope" else 3
    return f"{got['value']:.{digits}f} [{got['low']:.{digits}f}, {got['high']:.{digits}f}]"


def _optional(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def model_row(path: Path) -> str:
    """One table row from one metadata file."""
    meta = read_metadata(path)
    extra = meta.model_extra or {}
    uncertainty, report = extra["uncertainty"], extra["calibration_report"]
    rule = extra.get("rule_score_metrics") or {}
    oracle = extra.get("oracle") or {}
    worst = max(p["max_abs_diff"] for p in extra["parity"]["probes"].values())
    ece = uncertainty["intervals"]["ece"]
    cells = [
        f"{meta.family} `{meta.target}`",
        _interval(uncertainty, "pr_auc"),
        _interval(uncertainty, "pr_auc_token_weighted"),
        f"{extra['test_metrics']['base_rate']:.3f}",
        _optional(rule.get("pr_auc"), 3),
        f"{extra['test_metrics']['roc_auc']:.3f}",
        _optional(oracle.get("share"), 2),
        _interval(uncertainty, "top_decile_lift"),
        f"{report['ece_before']:.3f} → {ece['value']:.3f} [{ece['low']:.3f}, {ece['high']:.3f}]",
        _interval(uncertainty, "reliability_slope"),
        f"{uncertainty['tokens']} / {uncertainty['positive_tokens']}",
        f"{worst:.1e}",
    ]
    return "| " + " | ".join(cells) + " |"


def model_table(models_dir: Path) -> str:
    """The markdown table for every family and target deployed in ``models_dir``, in README order."""
    rows = [
        model_row(path)
        for family in FAMILIES
        for target in TARGETS
        if (path := metadata_path(models_dir, family, target)).is_file()
    ]
    if not rows:
        raise FileNotFoundError(f"no model metadata in {models_dir}")
    separator = "|" + "---|" * HEADER.count(" | ") + "---|"
    return "\n".join([HEADER, separator, *rows])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m training.table MODELS_DIR", file=sys.stderr)
        return 2
    print(model_table(Path(argv[0])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
