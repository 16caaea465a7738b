"""The worker's core without a broker: a market log in memory, outputs in memory.

Every served feature vector must equal the offline replay of the same log, each row is published
by exactly one owner, and a takeover (clean, or after the owner died with outputs in flight)
publishes every row the previous owner had not.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.app.handover import NOTHING, HandoverBuffer, Held, ShardProgress
from streams.app.loop import HandOff, HotLoop, TakeOver
from streams.app.metrics import WorkerMetrics
from streams.app.replica import LogRecord, Output, Replica
from streams.app.shards import ShardMap, murmur2
from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.contracts.log import KIND_EVENT, KIND_MARKER, SourceRef
from streams.devtools.harness import sim_events
from streams.devtools.twins import MemoryLogSource, MemoryProgressReader, MemorySink
from streams.events import decode_input
from streams.features.engine import FeatureEngine
from streams.features.state import EngineState
from streams.heap import HeapKeeper
from streams.scoring import ModelRegistry, Scorer
from streams.testing import run_events
from streams.topics import TopicNames
from tests.waiting import wait_until

TOPICS = TopicNames()
SHARDS = 4
TOPIC_OF = {"token_genesis": "token-genesis", "wallet_buy": "wallet-buy",
            "wallet_sell": "wallet-sell", "token_migrated": "token-migrated"}  # fmt: skip


@pytest.fixture(scope="module")
def log_records() -> list[LogRecord]:
    """A simulated half hour as the sequencer would write it (with a marker now and then)."""
    records: list[LogRecord] = []
    for i, event in enumerate(sim_events(seed=5, hours=0.5, launch_rate_per_day=1500)):
        if i % 97 == 0:
            records.append(LogRecord(len(records), KIND_MARKER, None, b"{}", 0, None))
        src = SourceRef(TOPIC_OF[event["type"]], 0, i)
        records.append(LogRecord(len(records), KIND_EVENT, event["mint"].encode(),
                                 orjson.dumps(event), int(event["ts"]), src))  # fmt: skip
    return records


def _replica(tmp: Path, position: int = 0, engine: FeatureEngine | None = None,
             window_s: float = 1e9) -> Replica:  # fmt: skip
    registry = ModelRegistry(tmp, {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}, 300.0)
    return Replica(engine or FeatureEngine(), Scorer(registry), feature_set="fs-test",
                   topics=TOPICS, shards=ShardMap(SHARDS), buffer=HandoverBuffer(window_s, 10**6),
                   metrics=WorkerMetrics(), position=position)  # fmt: skip


def _offline(records: list[LogRecord]) -> dict[str, list[float | None]]:
    """Feature vectors of the offline replay of the same log, in log order (no re-sorting)."""
    events = [decode_input(r.value) for r in records if r.kind == KIND_EVENT and r.value]
    out = run_events(events, sort=False, flush=False)
    return {f"{row.event_id}:f": _json_features(row.features) for row in out.signals}


def _json_features(x: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in x]


def _signals(outputs: list[Output]) -> Counter[str]:
    return Counter(orjson.loads(o.value)["event_id"] for o in outputs if o.topic == TOPICS.signals)


def _features(outputs: list[Output]) -> dict[str, list[float | None]]:
    return {(d := orjson.loads(o.value))["event_id"]: d["features"]
            for o in outputs if o.topic == TOPICS.signals}  # fmt: skip


def _all(n: int) -> dict[int, ShardProgress]:
    return {s: ShardProgress() for s in range(n)}


def test_one_owner_of_every_shard_serves_the_offline_replay(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    replica = _replica(tmp_path)
    outputs = replica.take_over(_all(SHARDS), 0.0).outputs
    for i in range(0, len(log_records), 50):  # batches of any size give the same outputs
        outputs += replica.apply(log_records[i : i + 50], 1.0).outputs
    offline = _offline(log_records)
    assert len(offline) > 500
    assert _features(outputs) == offline
    assert set(_signals(outputs).values()) == {1}
    assert replica.position == len(log_records)


def test_two_owners_split_the_rows_exactly_once(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    a, b = _replica(tmp_path), _replica(tmp_path)
    a.take_over({0: ShardProgress(), 1: ShardProgress()}, 0.0)
    b.take_over({2: ShardProgress(), 3: ShardProgress()}, 0.0)
    out_a = a.apply(log_records, 1.0).outputs
    out_b = b.apply(log_records, 1.0).outputs
    both = _signals(out_a) + _signals(out_b)
    assert set(both.values()) == {1}
    assert {**_features(out_a), **_features(out_b)} == _offline(log_records)
    shards = ShardMap(SHARDS)
    assert {shards.of(orjson.loads(o.value)["mint"]) for o in out_a} <= {0, 1}


def test_a_takeover_publishes_what_a_dead_owner_had_not(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    """Owner A dies after delivering part of a batch; B held everything and takes over."""
    sink = MemorySink(SHARDS)
    a, b = _replica(tmp_path), _replica(tmp_path)
    a.take_over(_all(SHARDS), 0.0)
    cut = len(log_records) * 2 // 3
    b.apply(log_records[:cut], 1.0)  # B owns nothing yet: every output held
    box = a.apply(log_records[: cut - 40], 1.0)
    sink.send(box.outputs[: len(box.outputs) * 3 // 4])  # the rest was in flight when A died
    reader = MemoryProgressReader(TOPICS)
    for topic in (TOPICS.scores, TOPICS.signals, TOPICS.outcomes):
        for part, mark in sink.marks(topic).items():
            reader.note(topic, part, mark)
    sink.send(b.take_over(reader.read(range(SHARDS)), 2.0).outputs)
    sink.send(b.apply(log_records[cut:], 3.0).outputs)
    delivered = [o for _, o in sink.outputs]
    assert set(_signals(delivered)) == set(_offline(log_records))  # nothing lost
    assert _features(delivered) == _offline(log_records)
    outcomes = [o for o in delivered if o.topic == TOPICS.outcomes]
    whole = _replica(tmp_path)
    whole.take_over(_all(SHARDS), 0.0)
    expected = Counter(orjson.loads(o.value)["event_id"]
                       for o in whole.apply(log_records, 1.0).outputs if o.topic == TOPICS.outcomes)  # fmt: skip
    assert set(Counter(orjson.loads(o.value)["event_id"] for o in outcomes)) == set(expected)


def test_a_restored_replica_continues_where_the_log_left_off(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    cut = len(log_records) // 2
    first = _replica(tmp_path)
    first.take_over(_all(SHARDS), 0.0)
    before = first.apply(log_records[:cut], 1.0).outputs
    state = EngineState.from_snapshot(first.engine.state.snapshot())
    restored = _replica(tmp_path, position=cut, engine=FeatureEngine(state=state))
    restored.take_over(_all(SHARDS), 0.0)
    after = restored.apply(log_records, 1.0).outputs  # records before `cut` are skipped
    assert _features(before + after) == _offline(log_records)


def test_an_owner_behind_the_progress_publishes_nothing_twice(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    whole = _replica(tmp_path)
    whole.take_over(_all(SHARDS), 0.0)
    first = whole.apply(log_records[:300], 1.0).outputs
    sink = MemorySink(SHARDS)
    sink.send(first)
    reader = MemoryProgressReader(TOPICS)
    for topic in (TOPICS.scores, TOPICS.signals, TOPICS.outcomes):
        for part, mark in sink.marks(topic).items():
            reader.note(topic, part, mark)
    behind = _replica(tmp_path)  # a restarted worker replaying from the log's start
    behind.take_over(reader.read(range(SHARDS)), 0.0)
    again = behind.apply(log_records, 1.0).outputs
    assert not set(_signals(first)) & set(_signals(again))
    assert _features(first + again) == _offline(log_records)


def test_an_engine_refusal_is_dead_lettered_by_the_owner(tmp_path: Path) -> None:
    replica = _replica(tmp_path)
    replica.take_over(_all(SHARDS), 0.0)
    bad = LogRecord(0, KIND_EVENT, b"mintX", b'{"type": "wallet_buy"}', 0,
                    SourceRef("wallet-buy", 1, 7))  # fmt: skip
    outputs = replica.apply([bad], 1.0).outputs
    assert [o.topic for o in outputs] == [TOPICS.dead_letter]
    letter = orjson.loads(outputs[0].value)
    assert letter["source_topic"] == "wallet-buy" and letter["source_offset"] == 7
    assert letter["reason"]
    other = _replica(tmp_path)  # owns nothing: the owner writes it, not this worker
    assert other.apply([bad], 1.0).outputs == []


def test_evicted_held_outputs_are_counted_as_a_gap() -> None:
    buffer = HandoverBuffer(window_s=10.0, max_rows=2)
    for i in range(4):
        buffer.hold(Held(1, "rows", (i, 0), None, None, float(i)))
    assert buffer.evict(now_s=4.0) == 2 and len(buffer) == 2
    taken = buffer.take({1: ShardProgress(rows=(0, 0))})
    assert [h.mark for h in taken.held] == [(2, 0), (3, 0)]
    assert taken.gaps == 1  # (1, 0) was dropped and the old owner had not published it
    assert buffer.take({1: ShardProgress(rows=(5, 0))}).gaps == 0
    assert ShardProgress().of("rows") == NOTHING


def test_the_hot_loop_waits_for_shards_then_serves_commands(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    source, sink = MemoryLogSource(log_records[:400]), MemorySink(SHARDS)
    loop = HotLoop(_replica(tmp_path), source, sink, metrics=WorkerMetrics(), batch=100,
                   read_timeout_s=0.0)  # fmt: skip
    loop.step()
    assert source.next == 0 and not loop.state.assigned  # nothing read before an assignment
    loop.submit(TakeOver(_all(SHARDS)))
    for _ in range(6):
        loop.step()
    assert loop.state.assigned and loop.state.caught_up and source.next == 400
    published = len(sink.outputs)
    assert published > 0
    handoff = HandOff([0, 1, 2, 3])
    loop.submit(handoff)
    source.append(log_records[400:800])
    for _ in range(5):
        loop.step()
    assert handoff.done.is_set() and len(sink.outputs) == published  # held, not published
    assert len(loop.replica.buffer) > 0


def test_the_hot_loop_thread_writes_its_profile_at_exit(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    import pstats

    source, sink = MemoryLogSource(log_records[:300]), MemorySink(SHARDS)
    profile = tmp_path / "hot.pstats"
    loop = HotLoop(_replica(tmp_path), source, sink, metrics=WorkerMetrics(), batch=100,
                   read_timeout_s=0.0, profile_path=str(profile))  # fmt: skip
    loop.submit(TakeOver(_all(SHARDS)))
    loop.start()
    wait_until(  # the loop's own progress
        lambda: source.next >= 300,
        timeout_s=60,
        what="the hot loop to read the whole log",
        interval_s=0.01,
    )
    loop.stop()
    assert not loop.alive and profile.exists()
    functions = {name for (_, _, name) in pstats.Stats(str(profile)).stats}  # type: ignore[attr-defined]
    assert "apply" in functions and "step" in functions


def test_the_hot_loop_freezes_its_heap_between_steps_and_releases_it_at_exit(
    log_records: list[LogRecord], tmp_path: Path
) -> None:
    import gc

    source, sink = MemoryLogSource(log_records[:300]), MemorySink(SHARDS)
    metrics = WorkerMetrics()
    loop = HotLoop(_replica(tmp_path), source, sink, metrics=metrics, batch=50,
                   read_timeout_s=0.0, heap=HeapKeeper(1e-6))  # fmt: skip
    loop.submit(TakeOver(_all(SHARDS)))
    loop.start()
    wait_until(lambda: source.next >= 300, timeout_s=60, what="the whole log read",
               interval_s=0.01)  # fmt: skip
    wait_until(lambda: loop.heap.freezes >= 3, timeout_s=60, what="freezes between steps",
               interval_s=0.01)  # fmt: skip
    loop.stop()
    assert not loop.alive and gc.get_freeze_count() == 0  # released at exit
    collected = metrics.registry.get_sample_value("alphastream_gc_pause_seconds_count",
                                                  {"generation": "2"})  # fmt: skip
    assert collected is not None and collected >= 2  # settle's collection and release's


@given(st.binary(max_size=64))
def test_murmur2_is_kafkas(key: bytes) -> None:
    assert murmur2(key) == aiokafka_murmur2(key) & 0xFFFFFFFF
