"""RocksDB backend of the engine state (rocksdict): live values in a write-back cache.

The engine mutates values in place and puts them back, so a store keeps the deserialized
values it handed out (``cache``) and remembers which keys changed (``dirty``) or went away
(``deleted``), exactly like :class:`~streams.features.state.InMemoryStore`. Nothing reaches
RocksDB between checkpoints: :meth:`RocksState.begin_commit` drains every store's changes into
one ``WriteBatch`` (plus whatever records the caller adds, e.g. its manifest), so the database
always holds one consistent checkpoint. After the batch is written, values not changed lately
are evicted down to ``cache_limit`` per store and re-read with ``from_bytes`` when asked for.

Stores whose values the engine keeps references to across calls (the regime and meta singletons,
pending signals held by the due queues) are pinned: never evicted. Keys are
``{store}/{key}`` in the default column family; ``#`` keys are the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, cast

import orjson
from rocksdict import Options, Rdict, WriteBatch

from streams.features.state import EngineState, V, Value

# the engine holds these values across calls; "seen" is bounded by the dedup window, and a
# lookup of a new event id must not cost a RocksDB read
PINNED = frozenset({"regime", "meta", "pending", "seen"})
COUNTS_KEY = b"#counts"


class RocksStore(Generic[V]):
    """One named store over a shared Rdict (raw bytes keys and values)."""

    __slots__ = (
        "_absent",
        "_complete",
        "_inflight",
        "_limbo",
        "_n",
        "_prefix",
        "cache",
        "db",
        "deleted",
        "dirty",
        "limit",
        "name",
        "value_type",
    )

    def __init__(
        self, db: Rdict, name: str, value_type: type[V], count: int, limit: int | None
    ) -> None:
        self.db = db
        self.name = name
        self.value_type = value_type
        self.limit = limit  # None: pinned (every value stays cached)
        self.cache: dict[str, V] = {}
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()
        self._prefix = f"{name}/".encode()
        self._n = count
        self._absent: set[str] = set()  # looked up and not found since the last commit
        self._limbo: set[str] = set()  # deletes drained into a batch not written yet
        self._inflight: set[str] = set()  # puts drained into a batch not written yet
        self._complete = True  # the cache holds every key
        if count:
            if limit is None:
                self._load_all()
            else:
                self._complete = False

    def _load_all(self) -> None:
        loads = self.value_type.from_bytes
        for key, raw in self._scan():
            self.cache[key] = loads(raw)

    def _scan(self) -> Iterator[tuple[str, bytes]]:
        cut = len(self._prefix)
        for raw_key, raw in scan_prefix(self.db, self._prefix):
            yield raw_key[cut:].decode(), raw

    def _stored(self, key: str) -> bool:
        """Whether ``key`` (not cached) is in this store's current view."""
        if self._complete or key in self.deleted or key in self._limbo or key in self._absent:
            return False
        return self.db.get(self._prefix + key.encode()) is not None

    # --- the KVStore contract -----------------------------------------------------------------

    def get(self, key: str) -> V | None:
        value = self.cache.get(key)
        if value is not None or self._complete:
            return value
        if key in self.deleted or key in self._limbo or key in self._absent:
            return None
        raw = self.db.get(self._prefix + key.encode())
        if raw is None:
            self._absent.add(key)  # new keys are looked up, then put: one read, not two
            return None
        value = self.value_type.from_bytes(raw)
        self.cache[key] = value
        return value

    def put(self, key: str, value: V) -> None:
        cache = self.cache
        if key not in cache:
            if not self._stored(key):
                self._n += 1
            self._absent.discard(key)
        cache[key] = value
        self.dirty.add(key)

    def touch(self, key: str) -> None:
        """``value`` of ``key`` was mutated in place (it is cached: the engine just read it)."""
        if key in self.cache:
            self.dirty.add(key)
            return
        value = self.get(key)
        if value is not None:
            self.put(key, value)

    def delete(self, key: str) -> None:
        existed = self.cache.pop(key, None) is not None or self._stored(key)
        if existed:
            self._n -= 1
            self.dirty.discard(key)
            self.deleted.add(key)

    def items(self) -> Iterator[tuple[str, V]]:
        cache = self.cache
        if self._complete:
            return iter(list(cache.items()))
        skip = self.deleted | self._limbo
        loads = self.value_type.from_bytes
        out = [(k, loads(raw)) for k, raw in self._scan() if k not in cache and k not in skip]
        out.extend(cache.items())
        return iter(out)

    def __len__(self) -> int:
        return self._n

    def lookup(self) -> Callable[[str], V | None]:
        return self.get  # a cache miss may read the database: no shortcut

    def forget_changes(self) -> None:
        """Nothing to drop: this backend keeps its changes until they are committed."""

    def drain(self) -> tuple[dict[str, bytes], set[str]]:
        """Serialized values of changed keys and the deleted keys (as ``InMemoryStore.drain``);
        they stay "in flight" until :meth:`settle` (or :meth:`requeue` if never written)."""
        cache = self.cache
        puts = {k: cache[k].to_bytes() for k in self.dirty if k in cache}
        deleted = set(self.deleted)
        self._inflight |= puts.keys()
        self._limbo |= deleted
        self.dirty.clear()
        self.deleted.clear()
        return puts, deleted

    def write_into(self, batch: WriteBatch, puts: dict[str, bytes], deleted: set[str]) -> None:
        prefix = self._prefix
        for key in deleted:  # before the puts: a key deleted, then put again, is put
            batch.delete(prefix + key.encode())
        for key, raw in puts.items():
            batch.put(prefix + key.encode(), raw)

    def settle(self) -> None:
        """The drained batch is written: recently changed values move to the back of the cache
        (a cheap LRU by commit), then the oldest clean values are evicted down to ``limit``."""
        cache = self.cache
        if self.limit is not None:
            for key in self._inflight:
                value = cache.pop(key, None)
                if value is not None:
                    cache[key] = value
            excess = len(cache) - self.limit
            if excess > 0:
                dirty = self.dirty
                victims = [k for k in cache if k not in dirty][:excess]
                for key in victims:
                    del cache[key]
                self._complete = self._complete and not victims
        self._inflight.clear()
        self._limbo.clear()
        self._absent.clear()

    def requeue(self) -> None:
        """The drained batch was never written: its changes go back to dirty/deleted."""
        self.dirty |= {k for k in self._inflight if k in self.cache}
        self.deleted |= {k for k in self._limbo if k not in self.cache}
        self._inflight.clear()
        self._limbo.clear()


@dataclass
class Commit:
    """A drained checkpoint waiting to be written: the batch and what it holds."""

    batch: WriteBatch
    puts: int
    deletes: int
    size: int  # bytes of keys and values written
    changes: dict[str, tuple[dict[str, bytes], set[str]]] = field(default_factory=dict)


class RocksState:
    """An engine state whose stores live in one RocksDB database at ``path``."""

    def __init__(self, path: Path, cache_limit: int = 500_000) -> None:
        self.path = Path(path)
        self.cache_limit = cache_limit
        self.db = _open(self.path)
        self.closed = False
        self._state: EngineState | None = None  # built on first use (reading a manifest needs none)

    @property
    def state(self) -> EngineState:
        if self._state is None:
            self._state = self._build()
        return self._state

    def _build(self) -> EngineState:
        raw = self.db.get(COUNTS_KEY)
        counts: dict[str, int] = orjson.loads(raw) if raw is not None else {}
        stores: dict[str, Any] = {
            name: RocksStore(
                self.db,
                name,
                value_type,
                int(counts.get(name, 0)),
                None if name in PINNED else self.cache_limit,
            )
            for name, value_type in EngineState.STORE_TYPES.items()
        }
        state = EngineState.from_stores(stores)
        state.legacy_cooc = False  # written by this code: co-buyer tables carry ref_ts
        return state

    def stores(self) -> dict[str, RocksStore[Value]]:
        return self.state.stores()  # type: ignore[return-value]

    def get_meta(self, key: bytes) -> bytes | None:
        raw = self.db.get(key)
        return bytes(raw) if raw is not None else None

    def scan_meta(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        return scan_prefix(self.db, prefix)

    def begin_commit(self, extra: Iterable[tuple[bytes, bytes | None]] = ()) -> Commit:
        """Drain every store's changes and ``extra`` records (None: delete) into one batch.

        Runs where no engine step can interleave (the changes are the state as of now); the
        values are serialized here, so steps may run again before :meth:`write`."""
        batch = WriteBatch(raw_mode=True)
        puts = deletes = size = 0
        changes: dict[str, tuple[dict[str, bytes], set[str]]] = {}
        counts: dict[str, int] = {}
        for name, store in self.stores().items():
            values, gone = changes[name] = store.drain()
            store.write_into(batch, values, gone)
            puts += len(values)
            deletes += len(gone)
            size += sum(len(k) + len(v) for k, v in values.items())
            counts[name] = len(store)
        batch.put(COUNTS_KEY, orjson.dumps(counts))
        for key, value in extra:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
                size += len(key) + len(value)
        return Commit(batch, puts, deletes, size, changes)

    def write(self, commit: Commit) -> None:
        """Write the batch atomically, then let the stores evict."""
        self.db.write(commit.batch)
        for store in self.stores().values():
            store.settle()

    def abandon(self, commit: Commit) -> None:
        """The batch will not be written: its changes go into the next one."""
        del commit
        for store in self.stores().values():
            store.requeue()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.db.close()

    def reload(self) -> EngineState:
        """A new state over what the database holds (the last commit); the old one's unwritten
        changes are dropped."""
        self._state = self._build()
        return self._state

    def clear(self) -> EngineState:
        """Empty the database (the handle, and so its lock, is kept) and start a new state."""
        self.db.delete_range(b"", b"\xff")  # every key here is ASCII ("#..." or "{store}/...")
        return self.reload()

    @classmethod
    def fresh(cls, path: Path, cache_limit: int = 500_000) -> RocksState:
        """An empty database at ``path`` (whatever was there is removed)."""
        rocks = cls(path, cache_limit)
        rocks.clear()
        return rocks


def scan_prefix(db: Rdict, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Records whose key starts with ``prefix``, in key order (raw mode: bytes)."""
    items = cast(Iterator[tuple[bytes, bytes]], iter(db.items(from_key=prefix)))
    for key, raw in items:
        if not key.startswith(prefix):
            break
        yield key, raw


def _open(path: Path) -> Rdict:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return Rdict(str(path), options)
