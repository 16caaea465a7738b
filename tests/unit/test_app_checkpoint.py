"""Engine checkpoints without Kafka: encoding, chunking, choosing one, resume offsets, and the
proof that restoring at a step boundary and continuing changes no output."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.app.checkpoint import (
    KEEP,
    GenesisWindow,
    Manifest,
    WriterLog,
    assemble,
    candidates,
    choose,
    decode_payload,
    encode_payload,
    latest_values,
    orphan_chunks,
    set_ownership,
    split_chunks,
)
from streams.app.core import Inbound, Outbox, StreamCore, TopicNames
from streams.app.metrics import WorkerMetrics
from streams.app.outputs import features_for_json
from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.types import TP
from streams.devtools.harness import sim_events
from streams.events import InputEvent, decode_input
from streams.features.engine import EngineOutput, FeatureEngine
from streams.features.state import EngineState
from streams.scoring import ModelRegistry, Scorer
from streams.testing import run_events

TOPICS = TopicNames()
TOPIC_OF = {"token_genesis": TOPICS.genesis, "wallet_buy": TOPICS.buys, "wallet_sell": TOPICS.sells}
TOPIC_OF["token_migrated"] = TOPICS.migrations
PARTITIONS = 3


@pytest.fixture(scope="module")
def market() -> list[InputEvent]:
    return [
        decode_input(orjson.dumps(e))
        for e in sim_events(seed=9, hours=2.5, launch_rate_per_day=1500)
    ]


def _roundtrip_state(
    state: EngineState, mints: dict[str, int]
) -> tuple[EngineState, dict[str, int]]:
    """Through the checkpoint codec with tiny chunks, as a reader would see the topic."""
    blob = encode_payload(state.snapshot(), mints)
    chunks = split_chunks(blob, 4096)
    manifest = _manifest("w", 0, resume={}, chunks=len(chunks), blob=blob)
    latest = dict(zip(manifest.chunk_keys(), chunks, strict=True))
    snap, got_mints = decode_payload(assemble(manifest, latest))
    return EngineState.from_snapshot(snap), got_mints


def _manifest(
    writer: str,
    epoch: int,
    *,
    resume: dict[TP, int],
    chunks: int = 1,
    blob: bytes = b"",
    watermark: int = 0,
    feature_set: str = "fs",
    delivered: frozenset[TP] = frozenset(),
) -> Manifest:
    return Manifest(
        writer=writer,
        epoch=epoch,
        created_ms=1_700_000_000_000 + epoch,
        watermark=watermark,
        feature_set=feature_set,
        chunks=chunks,
        size=len(blob),
        crc=zlib.crc32(blob),
        resume=resume,
        delivered=delivered,
    )


# --- encoding -----------------------------------------------------------------------------------


def test_payload_and_manifest_round_trip(market: list[InputEvent]) -> None:
    engine = FeatureEngine()
    engine.process_many(market[: len(market) // 2])
    mints = {e.mint: i % 5 for i, e in enumerate(market)}
    blob = encode_payload(engine.state.snapshot(), mints)
    chunks = split_chunks(blob, 64 * 1024)
    assert len(chunks) > 1 and all(len(c) <= 64 * 1024 for c in chunks)
    assert b"".join(chunks) == blob
    manifest = Manifest(
        writer="w1",
        epoch=7,
        created_ms=123,
        watermark=engine.watermark,
        feature_set="fs-1",
        chunks=len(chunks),
        size=len(blob),
        crc=zlib.crc32(blob),
        resume={("a.wallet-buy", 0): 10, ("a.token-genesis", 2): 4},
        skip={("a.wallet-buy", 0): (12, 15)},
        delivered=frozenset({("a.wallet-buy", 0)}),
        genesis=(GenesisWindow("g1", "a.token-genesis", 2, 3, 99, "M"),),
    )
    again = Manifest.from_bytes(manifest.to_bytes())
    assert again == manifest
    assert again.key == f"m/w1/{7 % KEEP}" and again.chunk_keys()[0] == "c/w1/7/0"
    latest = dict(zip(manifest.chunk_keys(), chunks, strict=True))
    snap, got_mints = decode_payload(assemble(manifest, latest))
    assert snap == engine.state.snapshot() and got_mints == mints
    restored = EngineState.from_snapshot(snap)
    assert restored.snapshot() == engine.state.snapshot()
    latest[manifest.chunk_keys()[1]] = b"x" + latest[manifest.chunk_keys()[1]][1:]
    with pytest.raises(ValueError):
        assemble(manifest, latest)


def test_latest_values_compacts_and_drops_tombstones() -> None:
    records = [(b"m/a/0", b"1"), (b"c/a/0/0", b"x"), (b"m/a/0", b"2"), (b"c/a/0/0", None)]
    assert latest_values(records) == {"m/a/0": b"2"}


# --- choosing ---------------------------------------------------------------------------------


def _topic(manifests: list[Manifest], drop: tuple[str, ...] = ()) -> dict[str, bytes]:
    latest: dict[str, bytes] = {}
    for m in manifests:
        latest[m.key] = m.to_bytes()
        latest.update({k: b"" for k in m.chunk_keys() if k not in drop})
    return latest


def test_choose_newest_usable_checkpoint() -> None:
    a0, a1 = ("t", 0), ("t", 1)
    marks = {a0: (0, 100), a1: (0, 100)}
    old = _manifest("w", 0, resume={a0: 10, a1: 10}, chunks=0, watermark=10)
    mid = _manifest("w", 1, resume={a0: 50, a1: 20}, chunks=0, watermark=20)
    new = _manifest("w", 2, resume={a0: 80, a1: 30}, chunks=0, watermark=30)
    found = candidates(_topic([old, mid, new]), "fs")
    assert [m.epoch for m in found] == [2, 1, 0]
    # committed 60 on a0: the newest resumes at 80 (events 60..79 maybe never published)
    got, passed = choose(found, marks, [a0], {a0: 60})
    assert got == mid and len(passed) == 1 and "committed" in passed[0]
    # nothing assigned: the newest covers every partition
    assert choose(found, marks, [], {})[0] == new
    # retention moved past a resume offset
    assert choose(found, {a0: (60, 100), a1: (0, 100)}, [], {})[0] == new
    assert choose(found, {a0: (85, 100), a1: (0, 100)}, [], {})[0] is None
    # a partition the checkpoint does not know
    assert choose(found, {**marks, ("t", 2): (0, 5)}, [], {})[0] is None
    # the writer's own partitions: outputs were delivered before the manifest
    mine = _manifest(
        "w", 3, resume={a0: 90, a1: 40}, chunks=0, watermark=40, delivered=frozenset({a0})
    )
    assert choose([mine, new], marks, [a0], {a0: 60})[0] == mine
    assert choose([mine, new], marks, [a1], {a1: 35})[0] == new  # a1 is not the writer's


def test_candidates_reject_missing_chunks_and_other_feature_sets() -> None:
    resume = {("t", 0): 1}
    whole = _manifest("w", 0, resume=resume, chunks=2)
    torn = _manifest("w", 1, resume=resume, chunks=2, watermark=5)
    other = _manifest("v", 0, resume=resume, chunks=1, watermark=9, feature_set="older")
    latest = _topic([whole, torn, other], drop=("c/w/1/1",))
    assert [m.epoch for m in candidates(latest, "fs")] == [0]
    assert [m.writer for m in candidates(latest, "older")] == ["v"]
    assert orphan_chunks(latest) == ["c/w/1/0"]


def test_writer_log_retires_replaced_and_foreign_checkpoints() -> None:
    foreign = _manifest("old", 4, resume={}, chunks=2)
    log = WriterLog("w", foreign=[foreign], orphans=["c/old/9/0"])
    dead: list[str] = []
    for _ in range(KEEP + 1):
        epoch = log.next_epoch()
        dead.append(f"after {epoch}")
        dead += log.delivered(_manifest("w", epoch, resume={}, chunks=2))
    assert dead[: KEEP + 1] == ["after 0", "after 1", "after 2", "m/old/1"]
    assert "c/old/4/1" in dead and "c/old/9/0" in dead
    assert dead[-2:] == ["c/w/0/0", "c/w/0/1"]  # epoch 3 took slot 0 of epoch 0


def test_set_ownership_follows_the_new_assignment(market: list[InputEvent]) -> None:
    engine = FeatureEngine()
    engine.process_many(market[:3000])
    mints = {e.mint: zlib.crc32(e.mint.encode()) % PARTITIONS for e in market}
    state, _ = _roundtrip_state(engine.state, mints)
    set_ownership(state, mints, {"genesis": {1}, "buy": {1}})
    tokens = [t for _, t in state.tokens.items() if t.has_genesis]
    assert tokens and all(t.owned == (mints[t.mint] == 1) for t in tokens)
    pending = [s for _, s in state.pending.items()]
    assert pending and all(s.owned == (mints[s.mint] == 1) for s in pending)


# --- resume offsets -----------------------------------------------------------------------------


def _core(tmp: Path) -> StreamCore:
    registry = ModelRegistry(tmp, {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}, 300.0)
    return StreamCore(
        FeatureEngine, Scorer(registry), "fs-test", WorkerMetrics(), TOPICS, idle_s=0.5
    )


def test_resume_and_skip_offsets_from_buffered_events(
    market: list[InputEvent], tmp_path: Path
) -> None:
    core = _core(tmp_path)
    a, b = (TOPICS.buys, 0), (TOPICS.sells, 0)
    buys = [e for e in market if e.type == "wallet_buy"][:6]
    core.rebuild({a: (0, 10), b: (0, 10)}, [a, b], {a: 0, b: 0}, now=0.0)
    # partition a delivers a late key at offset 1: offsets 1 and 2 can go before offset 0
    order = [buys[3], buys[0], buys[1]]
    for offset, event in enumerate(order):
        core.accept(Inbound(a, offset, event, None, b"{}", None), 10.0)
    core.accept(Inbound(b, 0, buys[2], None, b"{}", None), 10.0)
    core.skip(a, 3, 10.0)  # a dead-lettered message counts as applied
    box = core.step(10.0)  # both a and b have backlogs: the watermark is buys[2]'s key
    assert box.scored == 3  # buys[0], buys[1] (partition a), buys[2] (b)
    resume, skip = core.consistency_point()
    assert resume[a] == 0 and skip[a] == (1, 2, 3)  # offset 0 still buffered
    assert resume[b] == 1 and b not in skip
    # a core restored there takes offset 0 again and treats 1..3 as applied
    other = _core(tmp_path)
    other.restore(FeatureEngine(), {a: 10, b: 10}, resume, skip, [a, b], {a: 0, b: 0}, {}, [], 10.0)
    assert not other.is_duplicate(a, 0)
    assert other.is_duplicate(a, 1) and other.is_duplicate(a, 2) and other.is_duplicate(a, 3)
    assert not other.is_duplicate(a, 4) and other.released_next(a) == 4


# --- the restore proof ---------------------------------------------------------------------------


def _outputs(out: EngineOutput) -> list[Any]:
    rows = [
        ("s", r.kind, r.event_id, r.ts, r.mint, r.wallet, r.creator, r.price, r.features.tobytes())
        for r in out.signals
    ]
    return rows + [("o", orjson.dumps(o)) for o in out.outcomes]


@pytest.mark.parametrize("cut_share", [0.1, 0.37, 0.5, 0.83])
def test_engine_restored_mid_market_matches_an_uninterrupted_run(
    market: list[InputEvent], cut_share: float
) -> None:
    cut = int(len(market) * cut_share)
    whole = FeatureEngine()
    expected = [x for e in market for x in _outputs(whole.process(e))]
    expected += _outputs(whole.flush())
    first = FeatureEngine()
    got = [x for e in market[:cut] for x in _outputs(first.process(e))]
    state, _ = _roundtrip_state(first.state, {})
    second = FeatureEngine(state=state)
    got += [x for e in market[cut:] for x in _outputs(second.process(e))]
    got += _outputs(second.flush())
    assert got == expected
    assert second.state.snapshot() == whole.state.snapshot()


def _by_source(events: list[InputEvent]) -> dict[TP, list[InputEvent]]:
    out: dict[TP, list[InputEvent]] = {}
    for e in events:
        out.setdefault((TOPIC_OF[e.type], zlib.crc32(e.mint.encode()) % PARTITIONS), []).append(e)
    return out


def _feed(
    core: StreamCore,
    sources: dict[TP, list[InputEvent]],
    cursor: dict[TP, int],
    rng: random.Random,
    budget: int,
) -> list[Outbox]:
    boxes = []
    now = 10.0
    while budget and any(cursor[tp] < len(evs) for tp, evs in sources.items()):
        tp = rng.choice([tp for tp, evs in sources.items() if cursor[tp] < len(evs)])
        offset = cursor[tp]
        cursor[tp] += 1
        budget -= 1
        if core.is_duplicate(tp, offset):
            continue
        event = sources[tp][offset]
        core.accept(Inbound(tp, offset, event, event.mint.encode(), b"{}", None), now)
        if rng.random() < 0.3:
            boxes.append(core.step(now))
    return boxes


def _records(boxes: list[Outbox]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {
        TOPICS.scores: [],
        TOPICS.signals: [],
        TOPICS.outcomes: [],
    }
    for box in boxes:
        for topic, _, value in box.records:
            out[topic].append(orjson.loads(value))
    return out


@pytest.mark.parametrize("cut_share", [0.2, 0.55, 0.9])
def test_core_restored_at_a_step_boundary_scores_everything_once(
    market: list[InputEvent], tmp_path: Path, cut_share: float
) -> None:
    sources = _by_source(market)
    tps = list(sources)
    highs = {tp: len(evs) for tp, evs in sources.items()}
    marks = {tp: (0, n) for tp, n in highs.items()}
    owned = dict.fromkeys(tps, 0)
    first = _core(tmp_path)
    first.rebuild(marks, tps, owned, now=0.0)
    cursor = dict.fromkeys(tps, 0)
    rng = random.Random(11)
    boxes = _feed(first, sources, cursor, rng, int(len(market) * cut_share))
    assert len(first.reseq) > 0  # the cut leaves events buffered (not in the checkpoint)
    # checkpoint at this boundary, through the codec
    resume, skip = first.consistency_point()
    windows = first.open_genesis_windows()
    state, mints = _roundtrip_state(first.engine.state, first.mint_partition)  # type: ignore[attr-defined]
    set_ownership(state, mints, {"genesis": set(range(PARTITIONS)), "buy": set(range(PARTITIONS))})
    second = _core(tmp_path)
    second.restore(FeatureEngine(state=state), highs, resume, skip, tps, owned, mints, windows, 0.0)
    replayed = sum(highs[tp] - resume[tp] for tp in tps)
    # only what was not yet delivered, plus what was buffered (not applied), is fed again
    assert replayed == len(market) - sum(cursor.values()) + len(first.reseq)
    boxes += _feed(second, sources, dict(resume), rng, len(market))
    boxes.append(second.step(1000.0))
    records = _records(boxes)

    buy_ids = sorted(e.event_id for e in market if e.type == "wallet_buy")
    scored = [s["source_event_id"] for s in records[TOPICS.scores] if s["kind"] == "buy"]
    assert sorted(scored) == buy_ids  # every buy once: none lost, none twice
    genesis = Counter(
        s["source_event_id"] for s in records[TOPICS.scores] if s["kind"] == "genesis"
    )
    assert genesis and max(genesis.values()) == 1
    expected_run = run_events(market, flush=False)
    expected = {r.event_id: features_for_json(r.features) for r in expected_run.signals}
    assert set(genesis) == {r.event_id for r in expected_run.signals if r.kind == "genesis"}
    for signal in records[TOPICS.signals]:
        assert signal["features"] == expected[signal["source_event_id"]]
    outcome_keys = Counter((o["signal_event_id"], o["stage"]) for o in records[TOPICS.outcomes])
    assert max(outcome_keys.values()) == 1
    assert len(outcome_keys) == len(expected_run.outcomes)
