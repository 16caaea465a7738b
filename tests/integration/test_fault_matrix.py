"""The fault matrix in CI form: every row of ``make faults`` with short durations, on the
session's Apache Kafka (the broker rows pause and restart it, then leave it answering)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.devtools.faults import ROWS, Durations, RowResult, run_row
from streams.devtools.faults.rows import MALFORMED, POISON_REASONS
from streams.devtools.harness import replay_features, sim_events
from streams.devtools.local.kafka import KafkaBroker
from tests.conftest import SettingsFor

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHORT = Durations(feed_s=8.0, broker_pause_s=5.0, poison_messages=600, drain_timeout_s=90.0)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Any]:
    events = sim_events(seed=16, hours=0.5, launch_rate_per_day=1500)
    return events, replay_features(events, tmp_path_factory.mktemp("replay"))


def _row(
    name: str,
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: tuple[list[dict[str, Any]], Any],
) -> RowResult:
    fault, workers = ROWS[name]
    events, expected = market
    settings = settings_for(kafka_broker.bootstrap, models_dir=tmp_path / "models")
    result = run_row(name, fault, settings=settings, broker=kafka_broker, events=events,
                     expected_features=expected, work_dir=tmp_path, durations=SHORT,
                     workers=workers)  # fmt: skip
    print(f"\n[faults] {result}")
    return result


def _assert_nothing_lost(result: RowResult) -> None:
    assert result.completed, result
    assert result.lost == 0 and result.scored == result.buys, result
    assert result.recover_s is not None, "no score after the fault was undone"


# feature parity is measured here, not held: after a SIGKILL of one of two workers CI-form runs
# served 96.1% to 100% of vectors equal to the replay, after a broker pause 98.1% to 100%
# (README, fault matrix); lost, stray scores and dead letters are held
@pytest.mark.parametrize(
    "name", ["worker_sigkill_one_of_two", "worker_sigkill_only_worker", "broker_unreachable"]
)
def test_fault_loses_nothing(
    name: str,
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: tuple[list[dict[str, Any]], Any],
) -> None:
    result = _row(name, kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    assert result.notes["unexpected_score_count"] == 0 and result.dead_lettered == 0


@pytest.mark.xfail(
    strict=False,
    reason="found by the matrix: after a broker restart under load the workers sometimes stop "
    "scoring (one CI-form run: 203 of 345 buys unscored 150 s after the broker answered again, "
    "workers alive); another run recovered in 1.9 s. Not fixed yet: README, fault matrix",
)
def test_broker_restart_loses_nothing(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: tuple[list[dict[str, Any]], Any],
) -> None:
    """Every buy scored; feature parity after a restart is measured, not held (one run served
    38% of vectors equal to the replay)."""
    result = _row("broker_restart", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    assert result.notes["unexpected_score_count"] == 0 and result.dead_lettered == 0
    assert kafka_broker.pid is not None  # left running for the rest of the session


def test_poison_flood_is_dead_lettered_and_good_rate_held(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path: Path,
    market: tuple[list[dict[str, Any]], Any],
) -> None:
    result = _row("poison_flood", kafka_broker, settings_for, tmp_path, market)
    _assert_nothing_lost(result)
    sent = result.notes["poison_sent"]
    reasons = result.notes["dead_letter_reasons"]
    assert sorted(reasons) == sorted(POISON_REASONS[k] for k in MALFORMED)
    for kind in MALFORMED:
        assert reasons[POISON_REASONS[kind]] == sent[kind], (kind, reasons)  # each exactly once
    assert result.dead_lettered == sum(sent.values())
    # parity measured, not held: 100% in three runs, 38% in one on main's newer market (README)
    assert result.duplicates == 0, result
    ratio = result.notes["good_rate_ratio"]
    assert ratio is not None and ratio >= 0.8, ratio


@pytest.fixture(scope="module")
def replayed_row(
    kafka_broker: KafkaBroker,
    settings_for: SettingsFor,
    tmp_path_factory: pytest.TempPathFactory,
    market: tuple[list[dict[str, Any]], Any],
) -> RowResult:
    tmp = tmp_path_factory.mktemp("replayed")
    return _row("duplicate_and_future_events", kafka_broker, settings_for, tmp, market)


def test_replayed_and_future_buys_lose_nothing(replayed_row: RowResult) -> None:
    _assert_nothing_lost(replayed_row)
    assert replayed_row.dead_lettered == 0  # well-formed: nothing to dead-letter


def test_a_replayed_event_id_is_scored_once(replayed_row: RowResult) -> None:
    assert replayed_row.duplicates == 0, "a replayed event_id was scored twice"


@pytest.mark.xfail(
    strict=True,
    reason="found by the matrix: a buy 10 minutes ahead of the market is accepted and scored "
    "(the worker has no bound on how far ahead of its watermark an event may be)",
)
def test_future_ts_buys_are_not_scored(replayed_row: RowResult) -> None:
    assert replayed_row.notes["unexpected_score_count"] == 0, "future-ts buys were scored"
