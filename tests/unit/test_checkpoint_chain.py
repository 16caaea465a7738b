"""Checkpoint chains (a base, then deltas of what changed): restoring the newest link gives the
writer's state exactly, after every checkpoint of a market and on both state backends; a chain
rebases after ``max_deltas``, drops the chain before the previous one, and starts over with a base
whenever a link could be missing (a failed write, a stretch without the Kafka role)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from streams.checkpoints import Checkpointer, LocalState, MemoryCheckpointTopic, restore_engine
from streams.checkpoints.codec import choose, manifests
from streams.events import InputEvent
from streams.features.engine import FeatureEngine
from streams.testing import random_market

INF = float("inf")  # no rebase on size: the chain's shape follows max_deltas alone


def _market(seed: int) -> list[InputEvent]:
    return list(random_market(seed, n_tokens=12, n_wallets=30, minutes=90, trades_per_token=25))


def _segments(events: list[InputEvent], n: int) -> list[list[InputEvent]]:
    size = len(events) // n + 1
    return [events[i : i + size] for i in range(0, len(events), size)]


def _checkpoint(writer: Checkpointer, engine: FeatureEngine, position: int, to_kafka: bool = True
                ) -> None:  # fmt: skip
    assert writer.take(engine, position, to_kafka=to_kafka)
    writer.wait()


def _advance(writer: Checkpointer, engine: FeatureEngine, segment: list[InputEvent],
             position: int, to_kafka: bool = True) -> int:  # fmt: skip
    """Apply ``segment``, checkpoint, and return the new log position."""
    for event in segment:
        engine.process(event)
    position += len(segment)
    _checkpoint(writer, engine, position, to_kafka)
    return position


class FailingOnce(MemoryCheckpointTopic):
    """A topic whose next write fails (the broker refused it), then works again."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False

    def write(self, records: Sequence[tuple[str, bytes | None]], timeout_s: float = 60.0) -> None:
        if self.fail_next:
            self.fail_next = False
            raise OSError("broker unavailable")
        super().write(records, timeout_s)


@pytest.mark.parametrize("in_child", [False, True], ids=["in-thread", "in-forked-child"])
def test_every_link_restores_the_writers_state_exactly(in_child: bool) -> None:
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_min_bytes=0,
                          serialize_in_child=in_child)  # fmt: skip
    writer.costs.value_s = INF  # every delta with changes forks too (not only the big ones)
    engine, position = FeatureEngine(), 0
    for segment in _segments(_market(1), 8):
        position = _advance(writer, engine, segment, position)
        restored = restore_engine(FeatureEngine, "fs", topic, None)
        assert (restored.source, restored.position) == ("checkpoint", position)
        assert restored.engine.state.snapshot() == engine.state.snapshot()
    # the market grows, so its deltas outgrow the first small base: the chain rebased
    written = manifests(topic.read())
    bases = [m for m in written if m.base_epoch is None]
    assert len(bases) >= 2 and len(written) > len(bases)
    assert writer.chain[0].base_epoch is None and len(writer.chain) >= 2
    assert all(m.base_epoch == writer.chain[0].epoch for m in writer.chain[1:])
    assert sum(m.size for m in writer.chain[1:-1]) <= writer.chain[0].size  # why it rebases


def test_a_chain_on_the_rocksdb_backend_carries_the_local_commits_changes(tmp_path: Path) -> None:
    topic = MemoryCheckpointTopic()
    local = LocalState(tmp_path / "state", cache_limit=50)
    try:
        engine = FeatureEngine(state=local.from_snapshot(None))
        writer = Checkpointer(topic, local, "fs", interval_s=60.0, rebase_ratio=INF)
        position = 0
        for segment in _segments(_market(2), 5):
            position = _advance(writer, engine, segment, position)
            chosen = choose(topic.read(), "fs")
            assert chosen is not None and chosen[0].log_offset == position
            assert chosen[1] == engine.state.snapshot()
        assert len(writer.chain) == 5 and local.peek("fs") is not None
    finally:
        local.close()


def test_rebasing_keeps_two_chains_and_tombstones_older_ones() -> None:
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, max_deltas=2, rebase_ratio=INF)
    engine, position = FeatureEngine(), 0
    for segment in _segments(_market(3), 9):
        position = _advance(writer, engine, segment, position)
    live = manifests(topic.read())
    assert sorted((m.epoch, m.base_epoch) for m in live) == [
        (4, None), (5, 4), (6, 4), (7, None), (8, 7), (9, 7)]  # fmt: skip
    named = {k for m in live for k in m.chunk_keys()}
    assert {k for k in topic.read() if k.startswith("c/")} == named
    restored = restore_engine(FeatureEngine, "fs", topic, None)
    assert restored.engine.state.snapshot() == engine.state.snapshot()


@pytest.mark.parametrize("in_child", [False, True], ids=["in-thread", "in-forked-child"])
def test_a_failed_write_or_a_stretch_without_the_kafka_role_starts_a_new_base(
    in_child: bool,
) -> None:
    topic = FailingOnce()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_ratio=INF,
                          serialize_in_child=in_child)  # fmt: skip
    writer.costs.value_s = INF  # every delta with changes forks too (not only the big ones)
    engine, position = FeatureEngine(), 0
    segments = _segments(_market(4), 6)
    plan = [("kafka", None), ("kafka", 1), ("fail", None), ("kafka", None), ("not_writer", None),
            ("kafka", None)]  # fmt: skip
    for segment, (step, expected_base) in zip(segments, plan, strict=True):
        for event in segment:
            engine.process(event)
        position += len(segment)
        topic.fail_next = step == "fail"
        _checkpoint(writer, engine, position, to_kafka=step != "not_writer")
        if step == "kafka":
            assert writer.chain[-1].base_epoch == expected_base, step
            restored = restore_engine(FeatureEngine, "fs", topic, None)
            assert restored.engine.state.snapshot() == engine.state.snapshot()
    assert writer.chain[-1].epoch == 6


def test_a_chain_with_a_missing_link_is_passed_over_for_an_earlier_complete_one() -> None:
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_ratio=INF)
    engine, position, offsets = FeatureEngine(), 0, []
    for segment in _segments(_market(5), 4):
        for event in segment:
            engine.process(event)
        position += len(segment)
        offsets.append(position)
        _checkpoint(writer, engine, position)
    topic.write([(writer.chain[2].chunk_keys()[0], None)])  # link 3 compacted away
    chosen = choose(topic.read(), "fs")
    assert chosen is not None and chosen[0].log_offset == offsets[1]  # links 1-2 still restore
    topic.write([(writer.chain[0].key, None)])  # the base gone: nothing restores
    assert choose(topic.read(), "fs") is None


class HeldTopic(MemoryCheckpointTopic):
    """A topic whose writes wait until ``release`` is set (a slow broker)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write(self, records: Sequence[tuple[str, bytes | None]], timeout_s: float = 60.0) -> None:
        assert self.release.wait(timeout_s)
        super().write(records, timeout_s)


def test_a_checkpoint_due_while_the_previous_write_runs_waits_for_it() -> None:
    topic = HeldTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0)
    engine = FeatureEngine()
    for event in _market(6):
        engine.process(event)
    assert writer.take(engine, 10, to_kafka=True)
    assert writer.take(engine, 20, to_kafka=True) is False  # not taken: its delta would be lost
    topic.release.set()
    writer.final(engine, 30, to_kafka=True)
    assert [m.log_offset for m in manifests(topic.read())] == [10, 30]
    assert writer.chain[-1].base_epoch == writer.chain[0].epoch


def test_max_deltas_zero_writes_only_bases() -> None:
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, max_deltas=0)
    engine, position = FeatureEngine(), 0
    for segment in _segments(_market(7), 3):
        position = _advance(writer, engine, segment, position)
    assert all(m.base_epoch is None for m in manifests(topic.read()))
    assert len(manifests(topic.read())) == 2  # the newest base and the one before it


def test_an_earlier_writers_checkpoints_go_once_two_chains_of_ours_are_further() -> None:
    topic = MemoryCheckpointTopic()
    before = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_ratio=INF)
    other_version = Checkpointer(topic, None, "fs-old", interval_s=60.0, rebase_ratio=INF)
    engine, position = FeatureEngine(), 0
    segments = _segments(_market(8), 5)
    for segment in segments[:2]:
        position = _advance(before, engine, segment, position)
    _checkpoint(other_version, engine, position)
    restored = restore_engine(FeatureEngine, "fs", topic, None)
    assert {m.writer for m in restored.found} == {before.writer, other_version.writer}
    after = Checkpointer(topic, None, "fs", interval_s=60.0, max_deltas=1, rebase_ratio=INF,
                         inherited=restored.found)  # fmt: skip
    engine, position = restored.engine, restored.position
    writers = []
    for segment in segments[2:]:  # base, delta, base
        position = _advance(after, engine, segment, position)
        writers.append({m.writer for m in manifests(topic.read())})
    assert before.writer in writers[1]  # until our second base, the earlier chain stays
    assert writers[2] == {after.writer, other_version.writer}  # another feature set's stays
    assert not [k for k in topic.read() if k.startswith(f"c/{before.writer}/")]
    assert restore_engine(FeatureEngine, "fs", topic, None).engine.state.snapshot() == (
        engine.state.snapshot()
    )
