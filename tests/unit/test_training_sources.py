"""Both sources reach the same frame shape: the ClickHouse frame (tz-aware datetimes, served
rule_score) normalizes to the same epoch-ms columns as the replay parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streams.contracts.events import TARGETS
from streams.devtools.synthetic.frames import synthetic_frame
from streams.store.training import assemble_frame
from training.frame import FrameError
from training.pipeline import rule_scores
from training.sources import from_frame, load_replay

NAMES = tuple(f"f{i:02d}" for i in range(6))


def _store_records(frame: pd.DataFrame) -> list[dict[str, object]]:
    resolved = frame.dropna(subset=["reach_2x_1h"]).reset_index(drop=True)
    return [
        {
            "event_id": r.event_id, "ts_ms": int(r.ts), "mint": r.mint, "wallet": r.wallet,
            "creator": None, "price": float(r.price), "feature_set": "fs-test",
            "features": [float(getattr(r, n)) for n in NAMES],
            **{t: int(getattr(r, t)) for t in TARGETS},
            "peak_10m": 1.0, "peak_30m": 1.0, "peak_1h": 1.0, "peak_4h": 1.0, "peak_24h": 1.0,
            "min_1h": 1.0, "stage": "1h", "resolved_ms": int(r.label_resolved_ts),
            **{f"p_{t}": 0.5 for t in TARGETS}, **{f"raw_{t}": 0.5 for t in TARGETS},
            "rule_score": float(i) / len(resolved), "models": {},
        }
        for i, r in enumerate(resolved.itertuples())
    ]  # fmt: skip


def test_clickhouse_and_replay_frames_normalize_alike(tmp_path: Path) -> None:
    data = synthetic_frame(rows=300, features=len(NAMES), seed=9)
    data.frame.to_parquet(tmp_path / "buys.parquet")
    replay = load_replay(tmp_path, "standard", NAMES, "fs-test")
    store_frame = assemble_frame(_store_records(data.frame), NAMES)
    assert isinstance(store_frame["ts"].dtype, pd.DatetimeTZDtype)
    served = from_frame(store_frame, "standard", NAMES, "fs-test", "clickhouse")
    resolved = replay.frame.dropna(subset=["reach_2x_1h"]).reset_index(drop=True)
    for column in ("ts", "label_resolved_ts"):
        assert served.frame[column].dtype == np.int64
        np.testing.assert_array_equal(served.frame[column], resolved[column])
    np.testing.assert_array_equal(served.matrix(), replay.matrix(resolved))
    for target in TARGETS:
        np.testing.assert_array_equal(served.frame[target], resolved[target])
    # The served rule score is what the card compares against when it is there.
    np.testing.assert_array_equal(
        rule_scores(served, served.frame), served.frame["rule_score"].to_numpy()
    )


def test_missing_columns_and_bad_labels_are_reported(tmp_path: Path) -> None:
    frame = synthetic_frame(rows=50, features=len(NAMES), seed=1).frame
    with pytest.raises(FrameError, match="lacks 1 column"):
        from_frame(frame.drop(columns=["f02"]), "standard", NAMES, "x", "test")
    with pytest.raises(FrameError, match="other than 0/1"):
        from_frame(frame.assign(is_dead_soon=2), "standard", NAMES, "x", "test")
    with pytest.raises(FrameError, match="replay file not found"):
        load_replay(tmp_path, "genesis", NAMES, "x")
