"""The heap keeper: what a freeze keeps from the cyclic collector, and what it does not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from streams.heap import GcPauses, HeapKeeper, declare_gc_metrics
from streams.settings import Settings


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (the permanent generation is global)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_a_freeze_is_due_once_per_interval() -> None:
    keeper = HeapKeeper(1.0)
    assert keeper.tick(100.0)  # the first tick freezes
    assert not keeper.tick(100.5)
    assert keeper.tick(101.0)
    assert keeper.freezes == 2 and keeper.frozen() > 0


def test_interval_zero_leaves_the_collector_alone() -> None:
    keeper = HeapKeeper(0.0)
    keeper.settle()
    assert not keeper.tick(1e9)
    assert gc.get_freeze_count() == 0 and keeper.release() == 0


def test_a_negative_interval_is_refused_by_the_keeper_and_the_settings() -> None:
    with pytest.raises(ValueError, match="freeze_interval_s"):
        HeapKeeper(-1.0)
    with pytest.raises(ValueError, match="gc_freeze_interval_s"):
        Settings(gc_freeze_interval_s=-1.0)


def test_reference_counting_still_frees_frozen_objects() -> None:
    kept = Node()
    ref = weakref.ref(kept)
    HeapKeeper(1.0).settle()
    assert ref() is not None
    del kept
    assert ref() is None  # no collection needed: nothing referred to it


def test_a_frozen_cycle_waits_for_release() -> None:
    keeper = HeapKeeper(1.0)
    ref = _cycle()  # garbage already, but only the cyclic collector can see that
    keeper.tick(0.0)
    gc.collect()
    assert ref() is not None  # frozen: out of the collector's reach
    assert keeper.release() >= 2
    assert ref() is None


def test_settle_collects_what_is_garbage_before_it_freezes() -> None:
    ref = _cycle()
    HeapKeeper(1.0).settle()
    assert ref() is None


def test_every_collection_is_timed_by_generation_until_closed() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(declare_gc_metrics(registry, "t"))

    def count(generation: str) -> float:
        value = registry.get_sample_value("t_gc_pause_seconds_count", {"generation": generation})
        return value or 0.0

    before = count("2")
    gc.collect()
    assert count("2") == before + 1
    pauses.close()
    gc.collect()
    assert count("2") == before + 1
    HeapKeeper(1.0).tick(0.0)
    assert registry.get_sample_value("t_gc_frozen_objects") == gc.get_freeze_count() > 0
