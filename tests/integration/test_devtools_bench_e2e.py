"""``bench e2e`` end to end on a small market (a sequencer and N workers): warm-up, burst and
paced phases all scored, the floor measured, CPU and the JSON records filled.

Only that it runs and counts right is checked here; its speed numbers belong to ``make bench``."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.devtools.bench.e2e import deploy_synthetic_models, run_e2e, scaling
from streams.devtools.local.kafka import KafkaBroker
from tests.conftest import SettingsFor

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bench_e2e_runs_one_and_two_workers(
    kafka_broker: KafkaBroker, settings_for: SettingsFor, tmp_path: Path
) -> None:
    settings = settings_for(kafka_broker.bootstrap, models_dir=tmp_path / "models")
    deploy_synthetic_models(settings.models_dir)
    results = [
        run_e2e(
            settings,
            rates=[50.0, 80.0],
            seconds=2.0,
            burst_hours=0.05,
            warmup_hours=0.02,
            log_dir=tmp_path / f"w{n}",
            workers=n,
            broker_pid=kafka_broker.pid,
        )
        for n in (1, 2)
    ]
    for r in results:
        assert r.events > 0 and 0 < r.buys < r.events
        assert r.throughput_events_per_s > 0
        assert r.floor_events_per_s > 0
        cpu = r.cpu_s_per_worker
        assert len(cpu) == r.workers and all(c is not None for c in cpu)
        assert [run.offered_buys_per_s for run in r.latency] == [50.0, 80.0]
        assert all(run.buys > 0 and 0 < run.p50_ms <= run.p99_ms for run in r.latency)
        for run in r.latency:  # GC time read from the worker's and the sequencer's metrics
            assert set(run.gc_pause_ms) == set(run.gc_pauses_over_50ms) == {"worker", "sequencer"}
            assert min(run.gc_pause_ms.values()) >= 0 and min(run.gc_pauses_over_50ms.values()) >= 0
            # every process of the pipeline worked during the paced run (CPU from /proc)
            assert set(run.cpu_share) == {"worker", "sequencer", "broker", "load_generator"}
            assert all(share is not None and share > 0 for share in run.cpu_share.values())
            assert set(run.run_wait_share) == set(run.cpu_share)
            assert all(w is not None and w >= 0 for w in run.run_wait_share.values())
        assert set(r.idle_cpu_share) == set(r.latency[0].cpu_share)
        assert "synthetic" in r.models  # the deployed pairs served, not the rule score
        records = r.records(settings.partitions)
        assert len(records) == 2 and all(rec["workers"] == r.workers for rec in records)
    # two workers split the shards: each owns some, together all
    assert sum(w.shards for w in results[1].worker_cpu) == settings.partitions
    assert all(w.shards > 0 for w in results[1].worker_cpu)
    assert set(scaling(results)) == {2}
