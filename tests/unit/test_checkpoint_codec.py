"""Engine checkpoints as records: a snapshot round-trips, a delta deletes and writes, the furthest
complete checkpoint of the feature set is chosen, an incomplete or corrupt one is passed over."""

from __future__ import annotations

from streams.checkpoints.codec import (
    CHUNK_BYTES,
    apply_changes,
    assemble,
    checkpoint_records,
    choose,
    decode_snapshot,
    encode_changes,
    encode_snapshot,
    latest_values,
    tombstones,
)
from streams.features.engine import FeatureEngine
from streams.testing import random_market


def _engine(seed: int) -> FeatureEngine:
    engine = FeatureEngine()
    for event in random_market(seed, n_tokens=20, n_wallets=40, minutes=60, trades_per_token=30):
        engine.process(event)
    return engine


def test_a_snapshot_round_trips_through_chunks() -> None:
    snap = _engine(1).state.snapshot()
    blob = encode_snapshot(snap)
    manifest, records = checkpoint_records("w", 3, log_offset=17, watermark=5, feature_set="fs",
                                           created_ms=9, blob=blob * 40)  # fmt: skip
    assert manifest.chunks == len(records) - 1 >= 2 and len(blob) * 40 > CHUNK_BYTES
    assert records[-1][0] == manifest.key  # the manifest goes last
    latest = latest_values((k.encode(), v) for k, v in records)
    assert assemble(manifest, latest) == blob * 40
    assert decode_snapshot(blob) == snap


def test_choose_takes_the_furthest_complete_checkpoint_of_the_feature_set() -> None:
    blob = encode_snapshot(_engine(2).state.snapshot())
    latest: dict[str, bytes] = {}
    for writer, epoch, offset, fs in (("a", 1, 10, "fs"), ("b", 1, 30, "fs"), ("c", 1, 90, "old")):
        _, records = checkpoint_records(writer, epoch, log_offset=offset, watermark=0,
                                        feature_set=fs, created_ms=0, blob=blob)  # fmt: skip
        latest.update({k: v for k, v in records if v is not None})
    chosen = choose(latest, "fs")
    assert chosen is not None and chosen[0].writer == "b" and chosen[1] == decode_snapshot(blob)
    latest.pop("c/b/1/0")  # b's chunk compacted away: a's is the furthest complete one
    chosen = choose(latest, "fs")
    assert chosen is not None and chosen[0].writer == "a"
    latest["c/a/1/0"] = latest["c/a/1/0"][:-1] + b"x"  # corrupt: crc differs
    assert choose(latest, "fs") is None
    assert choose({}, "fs") is None


def test_a_delta_applies_deletions_before_writes() -> None:
    base = {"tokens": {"a": b"1", "b": b"2"}, "wallets": {"w": b"3"}}
    delta = encode_changes({"tokens": ({"b": b"9", "c": b"4"}, ["a", "b"]), "wallets": ({}, ["w"])})
    snap = apply_changes(decode_snapshot(encode_snapshot(base)), delta)
    assert snap["tokens"] == {"b": b"9", "c": b"4"} and snap["wallets"] == {}


def test_tombstones_delete_a_manifest_before_its_chunks() -> None:
    manifest, records = checkpoint_records("w", 1, log_offset=1, watermark=0, feature_set="fs",
                                           created_ms=0, blob=b"x" * (CHUNK_BYTES + 1))  # fmt: skip
    dead = tombstones([manifest])
    assert [k for k, _ in dead] == [manifest.key, *manifest.chunk_keys()]
    assert all(v is None for _, v in dead)
    assert latest_values((k.encode(), v) for k, v in records + dead) == {}
