"""The fault matrix in CI form: every row of ``make faults`` with short durations, on the
session's Apache Kafka (the broker rows pause and restart it, then leave it answering)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from streams.devtools.faults import ROWS, Durations, RowResult, run_row
from streams.devtools.faults.rows import MALFORMED, POISON_REASONS, SETUPS
from streams.devtools.harness import sim_events
from streams.devtools.local.kafka import KafkaBroker
from tests.conftest import SettingsFor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHORT = Durations(
    feed_s=8.0, broker_pause_s=5.0, poison_messages=600, drain_timeout_s=90.0, clickhouse_down_s=8.0
)


@pytest.fixture(scope="module")
def market() -> list[dict[str, Any]]:
    return sim_events(seed=16, hours=0.5, launch_rate_per_day=1500)


def _row(
    name: str,
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
    durations: Durations = SHORT,
) -> RowResult:
    fault, workers, sequencers = ROWS[name]
    settings = settings_for(kafka_broker.bootstrap, models_dir=tmp_path / "models")
    result = run_row(name, fault, settings=settings, broker=kafka_broker, events=market,
                     work_dir=tmp_path, durations=durations, workers=workers,
                     sequencers=sequencers, setup=SETUPS.get(name))  # fmt: skip
    print(f"\n[faults] {result}")
    return result


def _assert_nothing_lost(result: RowResult) -> None:
    assert result.completed, result
    assert result.lost == 0 and result.scored == result.buys, result
    assert result.recover_s is not None, "no score after the fault was undone"
    # every served vector equals the replay of the market log the workers applied
    assert result.features_equal_pct == 100.0, result


@pytest.mark.parametrize(
    "name",
    ["worker_sigkill_one_of_two", "worker_sigkill_only_worker", "sequencer_sigkill",
     "broker_unreachable"],
)  # fmt: skip
def test_fault_loses_nothing(
    name: str,
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    result = _row(name, kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    assert result.notes["unexpected_score_count"] == 0 and result.dead_lettered == 0


def test_broker_restart_loses_nothing(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    """Every buy scored and every vector equal to the log replay (regression: before the
    replicated design workers sometimes stopped scoring after a restart under load)."""
    result = _row("broker_restart", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    assert result.notes["unexpected_score_count"] == 0 and result.dead_lettered == 0
    assert kafka_broker.pid is not None  # left running for the rest of the session


def test_poison_flood_is_dead_lettered_and_good_rate_held(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    result = _row("poison_flood", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    sent = result.notes["poison_sent"]
    reasons = result.notes["dead_letter_reasons"]
    assert sorted(reasons) == sorted(cast("str", POISON_REASONS[k]) for k in MALFORMED)
    for kind in MALFORMED:
        assert reasons[POISON_REASONS[kind]] == sent[kind], (kind, reasons)  # each exactly once
    assert result.dead_lettered == sum(sent.values())
    assert result.duplicates == 0, result
    ratio = result.notes["good_rate_ratio"]
    assert ratio is not None and ratio >= 0.8, ratio


@pytest.fixture(scope="module")
def replayed_row(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path_factory: pytest.TempPathFactory,
    market: list[dict[str, Any]],
) -> RowResult:
    tmp = tmp_path_factory.mktemp("replayed")
    return _row("duplicate_event_ids", kafka_broker, settings_for, tmp, market)


def test_replayed_buys_lose_nothing(replayed_row: RowResult) -> None:
    _assert_nothing_lost(replayed_row)
    assert replayed_row.dead_lettered == 0  # well-formed: nothing to dead-letter


def test_a_replayed_event_id_is_scored_once(replayed_row: RowResult) -> None:
    assert replayed_row.duplicates == 0, "a replayed event_id was scored twice"
    assert replayed_row.notes["unexpected_score_count"] == 0


def test_clock_skew_future_is_dead_lettered_past_is_scored_once(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    """Producers 10 minutes fast (future_ts: dead-lettered by the sequencer, the one place that
    reads a clock) and 10 minutes slow (accepted, late in the log, scored exactly once)."""
    result = _row("clock_skew", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    sent = result.notes["poison_sent"]
    assert result.notes["dead_letter_reasons"] == {"future_ts": sent["future_ts"]}
    assert result.notes["unexpected_score_count"] == sent["past_ts"]  # the slow clock's buys
    assert all(i.startswith("poison-past_ts-") for i in result.notes["unexpected_scores"])
    assert result.duplicates == 0


def test_clickhouse_down_rows_land_once(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    result = _row("clickhouse_down", kafka_broker, settings_for, tmp_path, market)
    assert result.completed and result.lost == 0, result
    store = result.notes["store"]
    assert store["sink_insert_retries"] >= 1, "the sink never saw the store down"
    assert store["missing"] == 0 and store["extra"] == 0, store
    assert store["stored_distinct"] == store["signals_on_topic"] == store["stored_rows_final"]


def test_corrupt_model_pairs_are_rejected_and_the_old_version_serves(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    result = _row("model_pair_corrupted_on_reload", kafka_broker, settings_for, tmp_path, market)
    # scoring never stops in this row, and in CI's short feed every buy may be scored before
    # the last pair is rejected: no "first score after the fault" to ask for
    assert result.completed and result.lost == 0 and result.scored == result.buys, result
    rejected = result.notes["rejected_after_s"]
    assert all(seconds is not None for seconds in rejected.values()), rejected
    models = result.notes["models"]
    assert models["buy_scores_other_version"] == 0, models
    assert models["buy_scores_while_corrupting"] > 0, "no buy was scored during the fault"


def test_slow_scores_consumer_does_not_slow_the_workers(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: list[dict[str, Any]],
) -> None:
    result = _row("slow_scores_consumer", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    slow = result.notes["slow_consumer"]
    assert slow["committed_lag"] > slow["scores_published"] // 2, slow  # it did lag
    ratio = result.notes["good_rate_ratio"]
    assert ratio is not None and ratio >= 0.8, ratio
    before, during = slow["latency_before_s"], slow["latency_during_s"]
    # the row's tolerance: the median within half a second of the one before it joined
    assert during["p50"] <= before["p50"] + 0.5, slow


# the disk row restarts the worker while the market still flows: a longer feed than SHORT's
DISK = Durations(feed_s=36.0, drain_timeout_s=120.0)


@pytest.fixture(scope="module")
def disk_row(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path_factory: pytest.TempPathFactory,
    market: list[dict[str, Any]],
) -> RowResult:
    tmp = tmp_path_factory.mktemp("disk")
    return _row("disk_full_state_dir", kafka_broker, settings_for, tmp, market, DISK)


def test_disk_full_then_a_new_worker_restarts_clean(disk_row: RowResult) -> None:
    """Nothing lost, the new worker up on the same state dir; parity measured (README)."""
    _assert_nothing_lost(disk_row)
    assert disk_row.notes["disk"]["restart_planned_s"] is not None


def test_disk_full_worker_fails_loudly(disk_row: RowResult) -> None:
    """A failed local commit stops the hot loop; the worker exits non-zero (regression: the
    worker before the replicated design logged it every interval and kept running)."""
    code = disk_row.notes["disk"]["exit_code"]
    assert code is not None and code != 0, "the worker kept running on a full disk"
