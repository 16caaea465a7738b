"""The replica bench measures every owned share on the same log and says which records it owns."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from streams.app.shards import ShardMap
from streams.cli import _register, app
from streams.devtools.bench.replica import OWNED_SHARES, STEP_SIZES, bench_replica
from streams.devtools.harness import sim_events
from streams.settings import Settings


def test_the_bench_reports_each_owned_share_of_the_same_log() -> None:
    settings = Settings()
    events = sim_events(seed=3, hours=0.05, launch_rate_per_day=5000)
    result = bench_replica(settings, events, runs=1)
    assert result.records == len(events) and result.shards == settings.partitions
    assert set(result.replica_us) == set(OWNED_SHARES) == set(result.owned_record_share)
    shard_of = ShardMap(settings.partitions).of
    for n in OWNED_SHARES:  # a worker of N owns the shards s with s % N == 0
        owned = sum(1 for e in events if shard_of(e["mint"]) % n == 0)
        assert result.owned_record_share[n] == owned / len(events)
    assert result.owned_record_share[1] == 1.0 and result.capacity_ratio(1) == 1.0
    costs = [result.decode_us, result.engine_with_rows_us, result.engine_state_only_us,
             result.replica_none_us, *result.replica_us.values()]  # fmt: skip
    assert all(c > 0 for c in costs)
    assert result.not_owned_feature_us == result.engine_with_rows_us - result.engine_state_only_us
    assert list(result.per_step_size_us) == [*STEP_SIZES, settings.log_batch]
    assert result.per_step_size_us[settings.log_batch] == result.replica_us[1]  # the same run
    assert all(us > 0 for us in result.per_step_size_us.values())


def test_the_command_prints_the_table_and_writes_the_json(tmp_path: Path) -> None:
    _register()
    out = tmp_path / "replica.json"
    run = CliRunner().invoke(app, ["bench", "replica", "--hours", "0.02", "--runs", "1",
                                   "--json", str(out)])  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "replica owning no shard" in run.output
    data = orjson.loads(out.read_bytes())
    assert data["owned_record_share"]["1"] == 1.0 and set(data["replica_us"]) == {"1", "2", "3"}
    assert "log records per step" in run.output and "1" in data["per_step_size_us"]
