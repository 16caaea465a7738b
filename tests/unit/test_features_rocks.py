"""The RocksDB state backend: the store contract (same as the in-memory store), eviction and
re-read, one atomic batch per commit, and engine parity: on a simulated market the engine on
RocksDB (small cache, commits throughout, a close and reopen mid-run) emits exactly what the
in-memory engine emits."""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from streams.events import InputEvent, decode_input, encode
from streams.features.engine import EngineOutput, FeatureEngine
from streams.features.rocks import RocksState, RocksStore
from streams.features.state import EngineState, InMemoryStore, WalletState


def _wallet(ts: int, n_buys: int = 0) -> WalletState:
    wallet = WalletState(ts)
    wallet.n_buys = n_buys
    return wallet


def _stored(rocks: RocksState, key: bytes) -> bytes:
    value = rocks.db.get(key)
    assert value is not None, key
    return value


@pytest.fixture
def rocks(tmp_path: Path) -> Iterator[RocksState]:
    state = RocksState(tmp_path / "db", cache_limit=2)
    yield state
    state.close()


@pytest.fixture(params=["memory", "rocksdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemoryStore[WalletState]("wallets")
        return
    state = RocksState(tmp_path / "db")
    yield state.state.wallets
    state.close()


def test_store_contract(store: Any) -> None:
    """get/put/delete/items/len/drain behave alike on both backends."""
    assert store.get("a") is None and len(store) == 0
    store.put("a", _wallet(1, 1))
    store.put("b", _wallet(2, 2))
    store.put("a", store.get("a"))  # a put of a known key does not count it twice
    assert len(store) == 2 and store.get("b").n_buys == 2
    store.delete("b")
    store.delete("missing")  # deleting an absent key is a no-op
    assert store.get("b") is None and len(store) == 1
    assert [(k, v.n_buys) for k, v in store.items()] == [("a", 1)]
    puts, deleted = store.drain()
    assert set(puts) == {"a"} and deleted == {"b"}
    assert WalletState.from_bytes(puts["a"]).to_bytes() == store.get("a").to_bytes()
    assert store.drain() == ({}, set())
    store.get("a").n_buys = 5
    store.touch("a")  # mutated in place
    assert store.drain()[0]["a"] == store.get("a").to_bytes()


def test_evicted_values_are_re_read(rocks: RocksState) -> None:
    wallets: RocksStore[WalletState] = rocks.state.wallets  # type: ignore[assignment]
    for i in range(5):
        wallets.put(f"w{i}", _wallet(i, i))
    rocks.write(rocks.begin_commit())
    assert len(wallets.cache) == 2 and len(wallets) == 5  # 3 were evicted
    first, second = sorted(k for k in (f"w{i}" for i in range(5)) if k not in wallets.cache)[:2]
    again = wallets.get(first)
    n = int(first[1:])
    assert again is not None and again.to_bytes() == _wallet(n, n).to_bytes()
    again.n_buys = 70
    wallets.put(first, again)  # an evicted key put back is not counted twice
    wallets.delete(second)  # an evicted key can be deleted
    assert len(wallets) == 4 and wallets.get(second) is None
    expected = {f"w{i}": i for i in range(5) if f"w{i}" != second} | {first: 70}
    assert dict((k, v.n_buys) for k, v in wallets.items()) == expected
    rocks.write(rocks.begin_commit())
    path = rocks.path
    rocks.close()
    reopened = RocksState(path, cache_limit=2)
    try:
        w = reopened.state.wallets
        assert len(w) == 4 and w.get(second) is None
        assert dict((k, v.n_buys) for k, v in w.items()) == expected
    finally:
        reopened.close()


def test_commit_is_one_batch_with_the_manifest(rocks: RocksState) -> None:
    """Values and the caller's manifest land together or not at all; an abandoned commit's
    changes go into the next one."""
    wallets = rocks.state.wallets
    wallets.put("a", _wallet(1, 1))
    rocks.write(rocks.begin_commit([(b"#manifest", b"one")]))
    wallets.get("a").n_buys = 2  # type: ignore[union-attr]
    wallets.touch("a")
    wallets.put("b", _wallet(2))
    commit = rocks.begin_commit([(b"#manifest", b"two")])
    assert commit.puts >= 2
    # drained but not written: the database still holds the first checkpoint, whole
    assert rocks.get_meta(b"#manifest") == b"one" and rocks.db.get(b"wallets/b") is None
    assert WalletState.from_bytes(_stored(rocks, b"wallets/a")).n_buys == 1
    rocks.abandon(commit)
    wallets.delete("b")
    rocks.write(rocks.begin_commit([(b"#manifest", b"three")]))
    assert rocks.get_meta(b"#manifest") == b"three" and rocks.db.get(b"wallets/b") is None
    assert WalletState.from_bytes(_stored(rocks, b"wallets/a")).n_buys == 2


# --- parity with the in-memory engine ---------------------------------------------------------


def _owned(mint: str) -> bool:
    return zlib.crc32(mint.encode()) % 4 != 0


def _market() -> list[InputEvent]:
    from streams.sim import SimConfig, simulate

    config = SimConfig(seed=5, hours=3.0, launch_rate_per_day=1_500.0)
    events = [decode_input(encode(e)) for e in simulate(config)]
    return sorted(events, key=lambda e: (e.ts, e.event_id))


def _rows(out: EngineOutput) -> list[tuple[Any, ...]]:
    return [
        (s.kind, s.event_id, s.ts, s.mint, s.wallet, s.price, s.features.tobytes())
        for s in out.signals
    ] + [(o.event_id, o.ts, repr(o)) for o in out.outcomes]


@pytest.mark.slow  # a simulated market through both backends
def test_engine_on_rocksdb_equals_memory(tmp_path: Path) -> None:
    events = _market()
    half = len(events) // 2
    memory = FeatureEngine()
    mem_out = EngineOutput()
    for event in events[:half]:
        mem_out.extend(memory.process(event, owned=_owned(event.mint)))
    memory = FeatureEngine(state=EngineState.from_snapshot(memory.state.snapshot()))
    for event in events[half:]:
        mem_out.extend(memory.process(event, owned=_owned(event.mint)))
    mem_out.extend(memory.flush())

    path = tmp_path / "state"
    rocks = RocksState.fresh(path, cache_limit=40)  # far fewer than the tokens and wallets
    engine = FeatureEngine(state=rocks.state)
    out = EngineOutput()
    evicted = 0
    for k, event in enumerate(events):
        out.extend(engine.process(event, owned=_owned(event.mint)))
        if k % 400 == 399:
            rocks.write(rocks.begin_commit())
            evicted += sum(not s._complete for s in rocks.stores().values())
        if k == half - 1:  # commit, close, reopen: the engine resumes from the database
            rocks.write(rocks.begin_commit())
            rocks.close()
            rocks = RocksState(path, cache_limit=40)
            engine = FeatureEngine(state=rocks.state)
    out.extend(engine.flush())
    try:
        assert evicted > 0, "the cache limit never evicted anything"
        assert len(out.signals) > 1000 and len(out.outcomes) > 500
        assert _rows(out) == _rows(mem_out)
        for a, b in zip(out.signals, mem_out.signals, strict=True):
            assert np.array_equal(a.features, b.features, equal_nan=True)
        assert rocks.state.snapshot() == memory.state.snapshot()
        assert {n: len(s) for n, s in rocks.stores().items()} == {
            n: len(s) for n, s in memory.state.stores().items()
        }
    finally:
        rocks.close()
    assert not math.isnan(float(len(events)))
