"""The scoring benchmark runs end to end over every engine (the fused session's exactness is
tests/unit/test_scoring_fused.py's)."""

from __future__ import annotations

from streams.devtools.bench.scoring import format_rows, run_scoring_bench
from streams.events import TARGETS


def test_bench_reports_every_engine_model_count_and_batch() -> None:
    rows = run_scoring_bench(n_trees=3, batch_sizes=(1, 8), min_seconds=0.0, n_rows=400)
    combos = {(r.engine, r.n_models, r.batch) for r in rows}
    engines = {"scorer", "scorer_separate", "lightgbm_predict"}
    rule_alone = {("rule", 1, b) for b in (1, 8)}  # the rule does not depend on the models
    assert (
        combos
        == {(e, m, b) for e in engines for m in (1, len(TARGETS)) for b in (1, 8)} | rule_alone
    )
    assert all(r.median_us > 0 and r.rows_per_s > 0 for r in rows)
    assert "lightgbm_predict" in format_rows(rows)
