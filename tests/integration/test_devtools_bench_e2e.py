"""``bench e2e`` end to end on a small market: warm-up, burst and paced phases all scored.

Only that it runs and counts right is checked here; its speed numbers belong to ``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.devtools.bench.e2e import deploy_synthetic_models, run_e2e, scaling
from tests.conftest import SettingsFor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_e2e_runs_one_and_two_workers(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap, models_dir=tmp_path / "models")
    deploy_synthetic_models(settings.models_dir)
    results = [
        run_e2e(
            settings,
            rate_buys_per_s=50.0,
            seconds=2.0,
            burst_hours=0.05,
            warmup_hours=0.02,
            log_dir=tmp_path / f"w{n}",
            workers=n,
        )
        for n in (1, 2)
    ]
    for r in results:
        assert r.events > 0 and 0 < r.buys < r.events
        assert r.throughput_events_per_s > 0
        assert len(r.burst_cpu_s) == r.workers and all(c is not None for c in r.burst_cpu_s)
        assert r.latency_buys > 0 and 0 < r.p50_ms <= r.p99_ms
        assert "synthetic" in r.models  # the deployed pairs served, not the rule score
    assert set(scaling(results)) == {2}
