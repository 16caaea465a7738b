"""The in-memory sequencer bench runs the leader's per-record work and releases everything."""

from __future__ import annotations

from streams.devtools.bench.sequencer import bench_sequencer, input_records
from streams.devtools.harness import sim_events


def test_the_bench_sequences_every_record_and_reports_rates() -> None:
    events = sim_events(seed=3, hours=0.1, launch_rate_per_day=5000)
    records = input_records(events, partitions=6)
    per_source: dict[tuple[str, int], list[int]] = {}
    for r in records:
        per_source.setdefault((r.plan_topic, r.partition), []).append(r.offset)
    assert all(offsets == list(range(len(offsets))) for offsets in per_source.values())
    result = bench_sequencer(events, runs=1)
    assert result.records == len(events) and result.sources == len(per_source)
    assert min(result.admit_per_s, result.merge_per_s, result.total_per_s) > 0
