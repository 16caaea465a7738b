"""The worker's local RocksDB copy: a commit holds the changes, the new mints and the manifest;
load gives back exactly the committed state; a reset empties it; the choice between the local
and the Kafka checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.app.checkpoint import Manifest, local_unusable_reason
from streams.app.local_state import MINT_PREFIX, LocalState
from streams.features.engine import FeatureEngine
from streams.testing import random_market

A, B = ("wallet-buy", 0), ("wallet-buy", 1)


def _manifest(
    epoch: int, watermark: int, resume: dict[tuple[str, int], int], **kw: object
) -> Manifest:
    return Manifest(
        writer="w", epoch=epoch, created_ms=1_000 + epoch, watermark=watermark,
        feature_set="fs1", chunks=0, size=0, crc=0, resume=resume, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.fixture
def local(tmp_path: Path) -> LocalState:
    state = LocalState(tmp_path / "state", cache_limit=10)
    yield state  # type: ignore[misc]
    state.close()


def test_commit_then_load_gives_the_committed_state(local: LocalState) -> None:
    events = list(random_market(4, n_tokens=12, n_wallets=30, minutes=60, trades_per_token=30))
    engine = FeatureEngine(state=local.from_snapshot(None))
    mints: dict[str, int] = {}
    half = len(events) // 2
    for event in events[:half]:
        engine.process(event)
        mints.setdefault(event.mint, len(mints) % 3)
    assert local.peek("fs1") is None  # nothing committed yet
    local.write(local.begin(_manifest(0, engine.watermark, {A: 5}), mints))
    committed = engine.state.snapshot()
    for event in events[half:]:  # changes after the commit are not in the database
        engine.process(event)
        mints.setdefault(event.mint, len(mints) % 3)
    commit = local.begin(_manifest(1, engine.watermark, {A: 9}), mints)
    local.abandon(commit)  # never written: the database keeps the first checkpoint
    manifest = local.peek("fs1")
    assert manifest is not None and manifest.epoch == 0 and manifest.resume == {A: 5}
    assert local.peek("another feature set") is None
    state, loaded = local.load()
    assert state.snapshot() == committed
    assert set(loaded) <= set(mints) and len(loaded) < len(mints)


def test_next_commit_carries_abandoned_changes_and_only_new_mints(local: LocalState) -> None:
    events = list(random_market(5, n_tokens=10, n_wallets=20, minutes=60, trades_per_token=20))
    engine = FeatureEngine(state=local.from_snapshot(None))
    mints: dict[str, int] = {}
    third = len(events) // 3
    for k, event in enumerate(events):
        engine.process(event)
        mints.setdefault(event.mint, 1)
        if k == third:
            local.write(local.begin(_manifest(0, engine.watermark, {A: 1}), mints))
        if k == 2 * third:
            local.abandon(local.begin(_manifest(1, engine.watermark, {A: 2}), mints))
    local.write(local.begin(_manifest(2, engine.watermark, {A: 3}), mints))
    expected = engine.state.snapshot()
    state, loaded = local.load()
    assert state.snapshot() == expected and loaded == mints
    assert local.rocks is not None
    assert len(list(local.rocks.scan_meta(MINT_PREFIX))) == len(mints)


def test_from_snapshot_replaces_everything(local: LocalState) -> None:
    engine = FeatureEngine(state=local.from_snapshot(None))
    for event in random_market(6, n_tokens=5, n_wallets=10, minutes=30, trades_per_token=10):
        engine.process(event)
    local.write(local.begin(_manifest(0, engine.watermark, {A: 1}), {"m": 0}))
    other = FeatureEngine()
    for event in random_market(7, n_tokens=4, n_wallets=8, minutes=30, trades_per_token=10):
        other.process(event)
    snap = other.state.snapshot()
    state = local.from_snapshot(snap)
    assert local.peek("fs1") is None  # the old manifest went with the old state
    FeatureEngine(state=state)
    local.write(local.begin(_manifest(1, other.watermark, {A: 2}), {"n": 1}))
    again, mints = local.load()
    assert again.snapshot() == snap and mints == {"n": 1}


def test_local_or_kafka() -> None:
    marks = {A: (0, 100), B: (0, 100)}
    local = _manifest(3, 5_000, {A: 40, B: 50}, delivered=frozenset({A}))
    older_kafka = _manifest(2, 4_000, {A: 30, B: 30})
    newer_kafka = _manifest(4, 6_000, {A: 60, B: 60})
    # A was delivered by this worker before its local manifest: its resume may pass committed
    assert local_unusable_reason(local, None, marks, [A], {A: 10}) is None
    assert local_unusable_reason(local, older_kafka, marks, [A], {A: 10}) is None
    assert "older than" in str(local_unusable_reason(local, newer_kafka, marks, [A], {A: 10}))
    # B now assigned: events 30..49 are in the state but maybe never published by its owner
    assert "committed" in str(local_unusable_reason(local, None, marks, [A, B], {A: 10, B: 30}))
    assert "low-water" in str(
        local_unusable_reason(local, None, {A: (45, 100), B: (0, 100)}, [A], {A: 45})
    )


def test_a_state_dir_held_by_another_worker_is_refused_with_what_to_do(tmp_path: Path) -> None:
    first = LocalState(tmp_path / "state", cache_limit=10)
    first.open()
    try:
        with pytest.raises(RuntimeError, match="ALPHASTREAM_STATE_DIR"):
            LocalState(tmp_path / "state", cache_limit=10).open()
    finally:
        first.close()


def test_the_worker_command_exits_clearly_when_its_state_dir_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from streams.cli import _register, app

    held = LocalState(tmp_path / "state", cache_limit=10)
    held.open()
    for name, value in {
        "STATE_BACKEND": "rocksdb", "STATE_DIR": str(tmp_path / "state"),
        "DATA_DIR": str(tmp_path / "data"), "MODELS_DIR": str(tmp_path / "models"),
        "KAFKA_BOOTSTRAP": "127.0.0.1:1",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"ALPHASTREAM_{name}", value)
    try:
        _register()
        result = CliRunner().invoke(app, ["worker", "--metrics-port", "0"])
    finally:
        held.close()
    assert result.exit_code == 2, result.output
    assert "ALPHASTREAM_STATE_DIR" in result.output
