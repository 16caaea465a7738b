"""The worker's local RocksDB copy: a commit holds the changes and the manifest (a log offset);
load gives back exactly the committed state; a reset empties it; restore prefers the local copy
when it is at least as far along the log as the newest Kafka checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.checkpoints.codec import Manifest, checkpoint_records, encode_snapshot
from streams.checkpoints.local import LocalState
from streams.checkpoints.memory import MemoryCheckpointTopic
from streams.checkpoints.restore import restore_engine
from streams.features.engine import FeatureEngine
from streams.testing import random_market


def _manifest(epoch: int, watermark: int, log_offset: int) -> Manifest:
    return Manifest(writer="w", epoch=epoch, log_offset=log_offset, watermark=watermark,
                    feature_set="fs1", created_ms=1_000 + epoch, chunks=0, size=0, crc=0)  # fmt: skip


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalState]:
    state = LocalState(tmp_path / "state", cache_limit=10)
    yield state
    state.close()


def test_commit_then_load_gives_the_committed_state(local: LocalState) -> None:
    events = list(random_market(4, n_tokens=12, n_wallets=30, minutes=60, trades_per_token=30))
    engine = FeatureEngine(state=local.from_snapshot(None))
    half = len(events) // 2
    for event in events[:half]:
        engine.process(event)
    assert local.peek("fs1") is None  # nothing committed yet
    local.write(local.begin(_manifest(0, engine.watermark, 5)))
    committed = engine.state.snapshot()
    for event in events[half:]:  # changes after the commit are not in the database
        engine.process(event)
    local.abandon(local.begin(_manifest(1, engine.watermark, 9)))  # never written
    manifest = local.peek("fs1")
    assert manifest is not None and manifest.epoch == 0 and manifest.log_offset == 5
    assert local.peek("another feature set") is None
    assert local.load().snapshot() == committed


def test_next_commit_carries_abandoned_changes(local: LocalState) -> None:
    events = list(random_market(5, n_tokens=10, n_wallets=20, minutes=60, trades_per_token=20))
    engine = FeatureEngine(state=local.from_snapshot(None))
    third = len(events) // 3
    for k, event in enumerate(events):
        engine.process(event)
        if k == third:
            local.write(local.begin(_manifest(0, engine.watermark, 1)))
        if k == 2 * third:
            local.abandon(local.begin(_manifest(1, engine.watermark, 2)))
    local.write(local.begin(_manifest(2, engine.watermark, 3)))
    assert local.load().snapshot() == engine.state.snapshot()


def test_from_snapshot_replaces_everything(local: LocalState) -> None:
    engine = FeatureEngine(state=local.from_snapshot(None))
    for event in random_market(6, n_tokens=5, n_wallets=10, minutes=30, trades_per_token=10):
        engine.process(event)
    local.write(local.begin(_manifest(0, engine.watermark, 1)))
    other = FeatureEngine()
    for event in random_market(7, n_tokens=4, n_wallets=8, minutes=30, trades_per_token=10):
        other.process(event)
    snap = other.state.snapshot()
    state = local.from_snapshot(snap)
    assert local.peek("fs1") is None  # the old manifest went with the old state
    FeatureEngine(state=state)
    local.write(local.begin(_manifest(1, other.watermark, 2)))
    assert local.load().snapshot() == snap


def _write_base(topic: MemoryCheckpointTopic, engine: FeatureEngine, log_offset: int) -> None:
    _, records = checkpoint_records(
        "k", log_offset, log_offset=log_offset, watermark=engine.watermark, feature_set="fs1",
        created_ms=1, blob=encode_snapshot(engine.state.snapshot()),
    )  # fmt: skip
    topic.write(records)


def test_restore_prefers_the_copy_furthest_along_the_log(local: LocalState) -> None:
    engine = FeatureEngine(state=local.from_snapshot(None))
    for event in random_market(8, n_tokens=6, n_wallets=12, minutes=30, trades_per_token=10):
        engine.process(event)
    local.write(local.begin(_manifest(0, engine.watermark, 40)))
    kafka = MemoryCheckpointTopic()
    _write_base(kafka, engine, 30)
    chosen = restore_engine(FeatureEngine, "fs1", kafka, local)
    assert (chosen.source, chosen.position) == ("local", 40)
    _write_base(kafka, engine, 50)
    expected = engine.state.snapshot()  # the restore below replaces the database's contents
    chosen = restore_engine(FeatureEngine, "fs1", kafka, local)
    assert (chosen.source, chosen.position) == ("checkpoint", 50)
    assert chosen.engine.state.snapshot() == expected
    assert restore_engine(FeatureEngine, "fs2", None, None).source == "replay"


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
