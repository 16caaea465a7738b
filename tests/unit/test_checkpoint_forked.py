"""Checkpoints serialized in a forked child: the same bytes as in the hot loop, the parent's
change tracking handed over exactly once, and a child that fails makes the next one a base."""

from __future__ import annotations

from typing import Any, cast

import pytest

from streams.checkpoints import Checkpointer, MemoryCheckpointTopic, restore_engine
from streams.checkpoints.codec import encode_changes
from streams.checkpoints.forked import (
    ChildFailed,
    detach_changes,
    forkable,
    payload_of,
    serialize_in_child,
)
from streams.checkpoints.writer import StallCosts
from streams.events import InputEvent
from streams.features.engine import FeatureEngine
from streams.features.state import InMemoryStore, TokenState
from streams.testing import random_market


def _market(seed: int) -> list[InputEvent]:
    return list(random_market(seed, n_tokens=10, n_wallets=25, minutes=60, trades_per_token=20))


def _engine(events: list[InputEvent]) -> FeatureEngine:
    engine = FeatureEngine()
    for event in events:
        engine.process(event)
    return engine


def test_a_childs_base_is_the_snapshot_the_hot_loop_would_have_encoded() -> None:
    engine = _engine(_market(1))
    assert forkable(engine.state)
    in_thread = encode_changes({n: (v, ()) for n, v in engine.state.snapshot().items()})
    assert serialize_in_child(engine.state, None).result() == in_thread


def test_a_childs_delta_holds_what_drain_would_and_the_parent_tracks_on() -> None:
    events = _market(2)
    first, later = events[: len(events) // 2], events[len(events) // 2 :]
    engine, twin = _engine(first), _engine(first)
    engine.state.drain_changes()
    twin.state.drain_changes()
    half = len(later) // 2
    for event in later[:half]:
        engine.process(event)
        twin.process(event)
    expected = encode_changes(twin.state.drain_changes())
    changed = detach_changes(engine.state)
    assert any(keys for keys, _ in changed.values())
    stores = cast("dict[str, InMemoryStore[Any]]", engine.state.stores())  # else detach raised
    assert all(not s.dirty and not s.deleted for s in stores.values())
    job = serialize_in_child(engine.state, changed)
    for event in later[half:]:  # the parent moves on while the child serializes
        engine.process(event)
        twin.process(event)
    assert job.result() == expected
    # what changed after the fork is the next delta's, tracked by the engine's bound dirty.add
    ours, theirs = engine.state.drain_changes(), twin.state.drain_changes()
    assert ours == theirs and any(puts for puts, _ in ours.values())


def test_payload_of_a_delta_is_what_drain_returns() -> None:
    events = _market(4)
    engine, twin = _engine(events), _engine(events)
    assert payload_of(engine.state, detach_changes(engine.state)) == twin.state.drain_changes()


class Unserializable(TokenState):
    def to_bytes(self) -> bytes:
        raise ValueError("cannot serialize this token")


def test_a_child_that_fails_is_reported_and_the_next_checkpoint_is_a_base() -> None:
    events = _market(3)
    engine, later = _engine(events[: len(events) // 2]), events[len(events) // 2 :]
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_ratio=float("inf"),
                          serialize_in_child=True)  # fmt: skip
    writer.costs.value_s = float("inf")  # every delta with changes forks
    assert writer.take(engine, 10, to_kafka=True)
    writer.wait()
    assert writer.chain[-1].base_epoch is None
    bad = Unserializable.__new__(Unserializable)
    engine.state.tokens.put("bad-mint", bad)
    with pytest.raises(ChildFailed, match="cannot serialize this token"):
        serialize_in_child(engine.state, {"tokens": ({"bad-mint"}, set())}).result()
    assert writer.take(engine, 20, to_kafka=True)  # the delta's child fails: not written
    writer.wait()
    assert [m.log_offset for m in writer.chain] == [10]
    engine.state.tokens.delete("bad-mint")
    for event in later:
        engine.process(event)
    assert writer.take(engine, 30, to_kafka=True)
    writer.wait()
    assert writer.chain[-1].base_epoch is None and writer.chain[-1].log_offset == 30
    restored = restore_engine(FeatureEngine, "fs", topic, None)
    assert restored.position == 30
    assert restored.engine.state.snapshot() == engine.state.snapshot()


def test_a_delta_forks_only_when_serializing_it_in_the_loop_would_stall_longer() -> None:
    events = _market(5)
    engine = _engine(events[:10])
    costs = StallCosts(fork_s=0.05, value_s=10e-6)  # 5,000 changed values cost one fork
    changed = sum(len(s.dirty) for s in engine.state.stores().values())
    assert 0 < changed < 5_000 and not costs.fork_is_cheaper(engine.state)
    costs.value_s = 0.05 / changed
    assert costs.fork_is_cheaper(engine.state)
    assert StallCosts().fork_is_cheaper(engine.state)  # no fork timed yet: the next one is
    costs.values_serialized(50, 1.0)  # too few values to time them
    assert costs.value_s == 0.05 / changed
    costs.values_serialized(1_000, 0.01)
    assert costs.value_s == 1e-5


def test_a_writer_in_child_mode_keeps_small_deltas_in_the_loop_and_restores_exactly() -> None:
    events = _market(6)
    topic = MemoryCheckpointTopic()
    writer = Checkpointer(topic, None, "fs", interval_s=60.0, rebase_ratio=float("inf"),
                          serialize_in_child=True)  # fmt: skip
    engine = _engine(events[:-3])
    assert writer.take(engine, 1, to_kafka=True)  # the base forks, which times the fork
    writer.wait()
    fork_s = writer.costs.fork_s
    assert fork_s is not None and fork_s > 0
    writer.costs.fork_s = 1.0  # a fork as slow as a big process's: three events' changes stay
    for event in events[-3:]:
        engine.process(event)
    assert writer.take(engine, 2, to_kafka=True)
    writer.wait()
    assert writer.costs.fork_s == 1.0  # not forked
    assert writer.chain[-1].base_epoch == writer.chain[0].epoch
    restored = restore_engine(FeatureEngine, "fs", topic, None)
    assert restored.engine.state.snapshot() == engine.state.snapshot()
