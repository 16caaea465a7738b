"""The scoring benchmark runs end to end and its merged graph computes what the single models do."""

from __future__ import annotations

import numpy as np

from streams.devtools.bench.scoring import (
    bench_feature_names,
    format_rows,
    merged_session,
    run_scoring_bench,
)
from streams.devtools.synthetic.models import synthetic_pair
from streams.events import TARGETS
from streams.scoring.registry import new_session


def test_merged_graph_equals_separate_sessions() -> None:
    names = bench_feature_names(20)
    pairs = [synthetic_pair(names, seed=s, n_rows=400, n_trees=4) for s in range(3)]
    X = pairs[0].X[:50]  # float64, the export's input type
    merged = merged_session([p.onnx_bytes for p in pairs])
    outputs = dict(
        zip([o.name for o in merged.get_outputs()], merged.run(None, {"input": X}), strict=True)
    )
    for i, pair in enumerate(pairs):
        alone = new_session(pair.onnx_bytes).run(["probabilities"], {"input": X})[0]
        np.testing.assert_array_equal(outputs[f"m{i}_probabilities"], alone)


def test_bench_reports_every_engine_model_count_and_batch() -> None:
    rows = run_scoring_bench(n_trees=3, batch_sizes=(1, 8), min_seconds=0.0, n_rows=400)
    combos = {(r.engine, r.n_models, r.batch) for r in rows}
    engines = {"scorer", "merged_onnx_run", "lightgbm_predict"}
    assert combos == {(e, m, b) for e in engines for m in (1, len(TARGETS)) for b in (1, 8)}
    assert all(r.median_us > 0 and r.rows_per_s > 0 for r in rows)
    assert "lightgbm_predict" in format_rows(rows)
