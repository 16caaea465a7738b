"""Incremental (delta) Kafka checkpoints: a generation's first epoch holds every value, later
epochs only the changes; the compacted view rebuilds the state of the newest manifest exactly,
and an epoch torn by a crash (records without their manifest) makes the view unusable."""

from __future__ import annotations

from typing import Any

from streams.app.checkpoint import (
    DELTA,
    Manifest,
    candidates,
    delta_problem,
    delta_records,
    delta_view,
    latest_values,
    stale_state_keys,
)
from streams.features.engine import FeatureEngine
from streams.features.state import EngineState
from streams.testing import random_market

TP0 = ("wallet-buy", 0)


def _manifest(gen: int, epoch: int, state: EngineState) -> Manifest:
    return Manifest(
        writer="w", epoch=epoch, created_ms=epoch, watermark=epoch, feature_set="fs",
        chunks=0, size=0, crc=0, resume={TP0: epoch}, codec=DELTA, generation=gen,
        counts={name: len(store) for name, store in state.stores().items()},
    )  # fmt: skip


def _log(records: list[tuple[str, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    return [(k.encode(), v) for k, v in records]


def _whole(state: EngineState) -> dict[str, tuple[dict[str, bytes], set[str]]]:
    return {name: (values, set()) for name, values in state.snapshot().items()}


def _writer_run() -> tuple[FeatureEngine, list[tuple[bytes, bytes | None]], list[Any]]:
    """A writer: generation 7 starts whole, then three delta epochs (with deletions)."""
    events = list(random_market(9, n_tokens=16, n_wallets=40, minutes=90, trades_per_token=25))
    engine = FeatureEngine()
    log: list[tuple[bytes, bytes | None]] = []
    manifests = []
    cuts = [len(events) * k // 4 for k in range(1, 5)]
    done = 0
    for epoch, cut in enumerate(cuts):
        for event in events[done:cut]:
            engine.process(event)
        done = cut
        if epoch:  # a deletion in every later epoch, so tombstones are exercised
            engine.state.creators.delete(next(k for k, _ in engine.state.creators.items()))
        changes = engine.state.drain_changes()
        if epoch == 0:
            changes = _whole(engine.state)
        mints = {f"m{epoch}": epoch}
        log += _log(delta_records(7, epoch, changes, mints))
        manifest = _manifest(7, epoch, engine.state)
        log.append((manifest.key.encode(), manifest.to_bytes()))
        manifests.append(manifest)
    return engine, log, manifests


def test_compacted_view_is_the_newest_epochs_state() -> None:
    engine, log, manifests = _writer_run()
    latest = latest_values(log)
    found = candidates(latest, "fs")
    assert [m.epoch for m in found] == [3]  # older epochs of the generation are superseded
    snap, mints = delta_view(found[0], latest)
    assert snap == engine.state.snapshot()
    assert mints == {"m0": 0, "m1": 1, "m2": 2, "m3": 3}
    restored = FeatureEngine(state=EngineState.from_snapshot(snap))
    assert restored.state.snapshot() == engine.state.snapshot()
    assert "torn" in str(delta_problem(manifests[2], latest))


def test_a_torn_epoch_is_rejected() -> None:
    engine, log, manifests = _writer_run()
    # epoch 4's records without its manifest: a value changed and a key deleted
    key, raw = next((k, v) for k, v in engine.state.snapshot()["wallets"].items())
    torn = delta_records(7, 4, {"wallets": ({key: raw}, set())}, {})
    latest = latest_values(log + _log(torn))
    assert candidates(latest, "fs") == []
    assert "epoch 4" in str(delta_problem(manifests[3], latest))
    # only a tombstone (no stamped record to see): the counts give it away
    creator = next(k for k, _ in engine.state.creators.items())
    latest = latest_values([*log, (f"s/creators/{creator}".encode(), None)])
    assert candidates(latest, "fs") == []
    assert "counts" in str(delta_problem(manifests[3], latest))


def test_a_new_generation_ignores_and_retires_older_records() -> None:
    _, log, _ = _writer_run()
    other = FeatureEngine()
    for event in random_market(10, n_tokens=5, n_wallets=8, minutes=30, trades_per_token=10):
        other.process(event)
    stale = stale_state_keys(latest_values(log))
    records = delta_records(8, 0, _whole(other.state), {"n": 1})
    manifest = _manifest(8, 0, other.state)
    log += [*_log(records), (manifest.key.encode(), manifest.to_bytes())]
    latest = latest_values(log)
    assert delta_view(manifest, latest)[0] == other.state.snapshot()
    retired = sorted(stale - {k for k, _ in records})
    assert retired and all(k.startswith(("s/", "p/")) for k in retired)
    latest = latest_values(log + [(k.encode(), None) for k in retired])
    snap, mints = delta_view(manifest, latest)
    assert snap == other.state.snapshot() and mints == {"n": 1}
    assert [m.generation for m in candidates(latest, "fs")] == [8]
