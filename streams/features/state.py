"""Engine state: small stores behind a tiny key-value interface, with an in-memory backend.

Every value is a slotted object with ``to_bytes()`` / ``from_bytes()`` (orjson), so a
persistent backend (e.g. faust tables) can hold it. The engine mutates values in place and then
calls ``store.put(key, value)`` for every value it changed; :class:`InMemoryStore` records those
keys (``dirty``) and deletions (``deleted``) so a backend can write back exactly the changes
(``EngineState.drain_changes()``).
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import orjson

V = TypeVar("V", bound="Value")
_MINUTE_MS = 60_000
_HOUR_MS = 60 * _MINUTE_MS


class Value:
    """Base of stored values: serialize the slots; deque and array slots round-trip as such
    (both are JSON lists, so the bytes are the same as for plain lists)."""

    __slots__ = ()
    _DEQUES: ClassVar[tuple[str, ...]] = ()
    _ARRAYS: ClassVar[dict[str, str]] = {}  # slot -> array typecode

    def to_bytes(self) -> bytes:
        out: dict[str, Any] = {}
        name: str
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, deque):
                value = list(value)
            elif isinstance(value, array):
                value = value.tolist()
            elif name in self._DEQUES and isinstance(value, list):
                value = [list(v) if isinstance(v, deque) else v for v in value]
            out[name] = value
        return orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def from_bytes(cls: type[V], raw: bytes) -> V:
        obj = cls.__new__(cls)
        data = orjson.loads(raw)
        name: str
        for name in cls.__slots__:
            value = data[name]
            if name in cls._DEQUES and value is not None:
                value = [deque(v) for v in value] if name.endswith("_dqs") else deque(value)
            elif name in cls._ARRAYS:
                value = array(cls._ARRAYS[name], value)
            setattr(obj, name, value)
        obj._after_load()
        return obj

    def _after_load(self) -> None:
        """Hook: re-share or re-type values after ``from_bytes``."""


class KVStore(Protocol[V]):
    """What the engine needs from a store. Values are live objects; ``put`` after each change."""

    def get(self, key: str) -> V | None: ...
    def put(self, key: str, value: V) -> None: ...
    def delete(self, key: str) -> None: ...
    def items(self) -> Iterator[tuple[str, V]]: ...
    def __len__(self) -> int: ...


class StateStore(KVStore[V], Protocol[V]):
    """A store the engine state is made of: the KV contract plus change tracking. ``dirty``:
    keys changed since the last ``drain``; adding the key of a value just read (so held by the
    store) is how the engine marks an in-place change on its hot path."""

    dirty: set[str]

    def touch(self, key: str) -> None: ...
    def drain(self) -> tuple[dict[str, bytes], set[str]]: ...
    def lookup(self) -> Callable[[str], V | None]:
        """The cheapest callable that reads one value (the engine binds it on its hot path)."""
        ...

    def forget_changes(self) -> None:
        """The caller just took a whole snapshot: drop the change tracking it made moot."""
        ...


class InMemoryStore(Generic[V]):
    """Dict-backed store that remembers which keys changed since the last ``drain``."""

    __slots__ = ("data", "deleted", "dirty", "name")

    def __init__(self, name: str, data: dict[str, V] | None = None) -> None:
        self.name = name
        self.data: dict[str, V] = {} if data is None else data
        self.dirty: set[str] = set()
        self.deleted: set[str] = set()

    def lookup(self) -> Callable[[str], V | None]:
        return self.data.get  # the dict's own get: no method hop

    def forget_changes(self) -> None:
        self.dirty.clear()
        self.deleted.clear()

    def get(self, key: str) -> V | None:
        return self.data.get(key)

    def put(self, key: str, value: V) -> None:
        self.data[key] = value
        self.dirty.add(key)

    def touch(self, key: str) -> None:
        """The value of ``key`` was mutated in place."""
        if key in self.data:
            self.dirty.add(key)

    def delete(self, key: str) -> None:
        if self.data.pop(key, None) is not None:
            self.dirty.discard(key)
            self.deleted.add(key)

    def items(self) -> Iterator[tuple[str, V]]:
        return iter(list(self.data.items()))

    def __len__(self) -> int:
        return len(self.data)

    def drain(self) -> tuple[dict[str, bytes], set[str]]:
        """Serialized values of changed keys and the deleted keys; clears both sets."""
        return self.serialize(*self.detach())

    def detach(self) -> tuple[set[str], set[str]]:
        """The changed and the deleted keys, taken out: both sets are cleared in place (the
        engine holds ``dirty.add``). :meth:`serialize` turns them into what ``drain`` returns,
        later or in another process (``streams.checkpoints.forked``)."""
        dirty, deleted = set(self.dirty), set(self.deleted)
        self.dirty.clear()
        self.deleted.clear()
        return dirty, deleted

    def serialize(self, dirty: set[str], deleted: set[str]) -> tuple[dict[str, bytes], set[str]]:
        return {k: self.data[k].to_bytes() for k in sorted(dirty) if k in self.data}, deleted


class TokenState(Value):
    """Everything the engine knows about one mint (token features, price path, trackers)."""

    __slots__ = (
        "base",
        "bundle_wallets",
        "buy_sol_total",
        "cre_prev_launch_ts",
        "creator",
        "creator_buy_sol",
        "creator_sold",
        "early",
        "fate_grad",
        "fate_peak",
        "fate_pending",
        "fate_rug",
        "first_price",
        "gen_pending",
        "genesis_event_id",
        "genesis_slot",
        "graduated",
        "has_genesis",
        "holders",
        "initial_vsol",
        "last_price",
        "last_trade_ts",
        "launch_price",
        "max_buy_sol",
        "max_price",
        "mint",
        "n_buyers",
        "n_buys",
        "n_sells",
        "name",
        "open_signals",
        "out_dqs",
        "out_min",
        "out_r",
        "owned",
        "p_px",
        "p_sol",
        "p_ts",
        "real_tokens",
        "recent_first",
        "sell_sol_total",
        "smart_buyers",
        "sniper_buys",
        "symbol",
        "t0",
        "w5m",
        "w5m_n",
        "w5m_sell",
        "w5m_sol",
        "w60",
        "w60_n",
        "w60_sol",
        "wallets",
    )  # fmt: skip
    # price path as typed arrays (8 bytes a value instead of a boxed float/int + pointer)
    _ARRAYS: ClassVar[dict[str, str]] = {"p_ts": "q", "p_px": "d", "p_sol": "d"}

    def __init__(self, mint: str) -> None:
        self.mint = mint
        self.creator: str | None = None
        self.has_genesis = False
        self.owned = True
        self.t0: int | None = None
        self.genesis_event_id: str | None = None
        self.genesis_slot: int | None = None
        self.launch_price: float | None = None
        self.name: str | None = ""  # None: a v2 genesis without it (unknown, features NaN)
        self.symbol: str | None = ""
        self.initial_vsol = 0.0
        self.cre_prev_launch_ts: int | None = None
        self.gen_pending = False
        self.fate_pending = False
        self.fate_rug = 0
        self.fate_grad = 0
        self.fate_peak = 0.0
        self.n_buys = 0
        self.n_sells = 0
        self.buy_sol_total = 0.0
        self.sell_sol_total = 0.0
        self.max_buy_sol = 0.0
        self.first_price: float | None = None
        self.max_price = 0.0
        self.last_price: float | None = None
        self.last_trade_ts: int | None = None
        self.real_tokens = 0.0
        self.graduated = False
        self.creator_buy_sol = 0.0
        self.creator_sold = 0
        self.sniper_buys = 0
        self.bundle_wallets: list[str] = []
        self.smart_buyers = 0
        # wallet -> [n_buys, net token balance, buy SOL, first seen here (0/1)]
        self.wallets: dict[str, list[float]] = {}
        self.n_buyers = 0  # wallets with at least one buy
        self.holders = 0
        # first-minute trades: [ts, wallet, sol, is_buy, price, slot]; dropped after the genesis signal
        self.early: list[list[Any]] = []
        self.recent_first: list[list[Any]] = []  # [ts, wallet] of recent first buys (<= 9)
        # price path (absolute index = base + array index); sol is signed (+buy, -sell)
        self.base = 0
        self.p_ts = array("q")
        self.p_px = array("d")
        self.p_sol = array("d")
        # sliding windows as path pointers (first index inside the window) and running sums
        self.w60 = 0
        self.w60_n = 0
        self.w60_sol = 0.0
        self.w5m = 0
        self.w5m_n = 0
        self.w5m_sol = 0.0
        self.w5m_sell = 0.0
        # outcome trackers (None while no signal of this token is pending); lists used as deques
        self.open_signals: list[int] = []
        self.out_r: list[int] | None = None
        self.out_dqs: list[list[int]] | None = None  # one monotone max-list per peak horizon
        self.out_min: list[int] | None = None


class WalletState(Value):
    __slots__ = (
        "entry_age_n",
        "entry_age_sum",
        "first_ts",
        "last_buy_ts",
        "last_seen_ts",
        "n_buys",
        "n_created",
        "n_dead",
        "n_resolved",
        "n_sells",
        "n_tokens",
        "rate",
        "rate_ts",
        "sol_spent",
        "sum_log_peak",
        "wins_2x",
        "wins_3x",
    )  # fmt: skip

    def __init__(self, ts: int) -> None:
        self.first_ts = ts
        self.last_seen_ts = ts
        self.n_buys = 0
        self.n_sells = 0
        self.n_tokens = 0
        self.sol_spent = 0.0
        self.last_buy_ts: int | None = None
        self.rate = 0.0
        self.rate_ts = ts
        self.n_resolved = 0
        self.wins_2x = 0
        self.wins_3x = 0
        self.n_dead = 0
        self.sum_log_peak = 0.0
        self.n_created = 0
        self.entry_age_sum = 0.0
        self.entry_age_n = 0

    def win_rate(self) -> float:
        return self.wins_2x / self.n_resolved if self.n_resolved else float("nan")


class CreatorState(Value):
    __slots__ = ("last_launch_ts", "n_grad", "n_resolved", "n_rug", "n_tokens", "sum_peak")

    def __init__(self) -> None:
        self.n_tokens = 0
        self.n_resolved = 0
        self.n_rug = 0
        self.n_grad = 0
        self.sum_peak = 0.0
        self.last_launch_ts: int | None = None


COOC_REF_STEP_MS = 24 * _HOUR_MS  # reference times are whole days of event time
COOC_REBASE_MS = 7 * 24 * _HOUR_MS  # move the reference this far behind (weights stay < 2^40)


class CoocState(Value):
    """A wallet's co-buyers: partner -> weight as of ``ref_ts``; at most 2K entries.

    Exponential decay is the same factor for every partner of a table, so weights are kept
    against one reference time: the decayed weight at ``t`` is ``w * exp(-(t - ref_ts) * decay)``
    (one ``exp`` per table, not per partner) and a co-buy at ``t`` adds ``exp((t - ref_ts) *
    decay)``. ``ref_ts`` is a whole day (so most tables share it) and moves forward, rescaling the
    weights, once it is more than ``COOC_REBASE_MS`` behind.
    """

    __slots__ = ("last_ts", "partners", "ref_ts")

    def __init__(self, ref_ts: int = 0) -> None:
        self.partners: dict[str, float] = {}
        self.last_ts = 0
        self.ref_ts = ref_ts

    @classmethod
    def from_bytes(cls, raw: bytes) -> CoocState:
        data = orjson.loads(raw)
        obj = cls(data.get("ref_ts", LEGACY_REF_TS))
        obj.last_ts = data["last_ts"]
        # written before reference times (no ref_ts): partner -> [decayed weight at ts, ts], kept
        # as read until the engine rescales it with its configured decay (``upgrade_legacy``)
        obj.partners = data["partners"]
        return obj

    def upgrade_legacy(self, decay_per_ms: float) -> bool:
        """Rescale a table read in the old [weight, ts] format; True if it was one."""
        if self.ref_ts != LEGACY_REF_TS:
            return False
        old: dict[str, Any] = self.partners
        self.ref_ts = self.last_ts - self.last_ts % COOC_REF_STEP_MS
        self.partners = {
            p: w * math.exp((ts - self.ref_ts) * decay_per_ms) for p, (w, ts) in old.items()
        }
        return True


LEGACY_REF_TS = -1


class RegimeState(Value):
    """Market-wide windows: buys (ts, sol), launches, resolved buy outcomes, graduations."""

    __slots__ = (
        "buys",
        "buys_n",
        "buys_sol",
        "grads",
        "launches",
        "res_dead",
        "res_hit",
        "resolved",
    )  # fmt: skip
    _DEQUES = ("buys", "launches", "resolved", "grads")

    def __init__(self) -> None:
        self.buys: deque[list[float]] = deque()
        self.buys_n = 0
        self.buys_sol = 0.0
        self.launches: deque[int] = deque()
        self.resolved: deque[list[int]] = deque()  # [res_ts, hit, dead]
        self.res_hit = 0
        self.res_dead = 0
        self.grads: deque[int] = deque()


def _evict_regime_buys(regime: RegimeState, ts: int) -> None:
    cut = ts - _MINUTE_MS
    buys = regime.buys
    while buys and buys[0][0] <= cut:
        regime.buys_n -= 1
        regime.buys_sol -= buys.popleft()[1]
    if regime.buys_n == 0:
        regime.buys_sol = 0.0


def evict_regime(regime: RegimeState, ts: int) -> None:
    """Slide every market-wide window to end at ``ts``."""
    _evict_regime_buys(regime, ts)
    launches = regime.launches
    while launches and launches[0] <= ts - 10 * _MINUTE_MS:
        launches.popleft()
    resolved = regime.resolved
    while resolved and resolved[0][0] < ts - _HOUR_MS:
        _, hit, dead = resolved.popleft()
        regime.res_hit -= hit
        regime.res_dead -= dead
    grads = regime.grads
    while grads and grads[0] <= ts - _HOUR_MS:
        grads.popleft()


class PendingSignal(Value):
    """A signal waiting for its outcome stages (1h, then 24h)."""

    __slots__ = (
        "creator",
        "event_id",
        "idx",
        "kind",
        "labels",
        "min_1h",
        "mint",
        "owned",
        "peaks",
        "price",
        "seq",
        "stage",
        "ts",
        "wallet",
    )  # fmt: skip

    def __init__(
        self, seq: int, event_id: str, kind: str, mint: str, wallet: str | None,
        creator: str | None, ts: int, price: float, idx: int, owned: bool,
    ) -> None:  # fmt: skip
        self.seq = seq
        self.event_id = event_id
        self.kind = kind
        self.mint = mint
        self.wallet = wallet
        self.creator = creator
        self.ts = ts
        self.price = price
        self.idx = idx
        self.owned = owned
        self.stage = 0  # 0: waiting for 1h, 1: waiting for 24h
        self.peaks: list[float | None] | None = None  # made at the 1h stage (~100 B saved)
        self.min_1h: float | None = None
        self.labels: dict[str, bool] = _NO_LABELS  # shared, never mutated: replaced on resolution

    def _after_load(self) -> None:
        labels = self.labels
        self.labels = shared_labels(*(labels[n] for n in _LABEL_ORDER)) if labels else _NO_LABELS


_NO_LABELS: dict[str, bool] = {}
_LABEL_ORDER = ("reach_2x_1h", "reach_3x_30m", "reach_2x_10m", "is_dead_soon")


@cache
def shared_labels(
    reach_2x_1h: bool, reach_3x_30m: bool, reach_2x_10m: bool, is_dead_soon: bool
) -> dict[str, bool]:
    """One dict per label combination (16 in all), shared by every pending signal: treat as
    read-only (outcome events copy it)."""
    values = (reach_2x_1h, reach_3x_30m, reach_2x_10m, is_dead_soon)
    return dict(zip(_LABEL_ORDER, values, strict=True))


class MetaState(Value):
    """Engine clock and counters that must survive a restart."""

    __slots__ = ("next_sweep", "next_wallet_sweep", "seq", "watermark")

    def __init__(self) -> None:
        self.watermark = -1
        self.seq = 0
        self.next_sweep: int | None = None
        self.next_wallet_sweep: int | None = None


class SeenEvent(Value):
    """An event id the engine applied (store ``seen``, keyed by event_id): the ts it was
    applied at, so the sweep can forget it once it is older than the dedup window."""

    __slots__ = ("ts",)

    def __init__(self, ts: int) -> None:
        self.ts = ts


REGIME_KEY = "regime"
META_KEY = "meta"


class EngineState:
    """All engine state, as named stores. Pass one to ``FeatureEngine`` to resume from it."""

    def __init__(self) -> None:
        self.legacy_cooc = True  # co-buyer tables may be in the format before reference times
        self.tokens: StateStore[TokenState] = InMemoryStore("tokens")
        self.wallets: StateStore[WalletState] = InMemoryStore("wallets")
        self.creators: StateStore[CreatorState] = InMemoryStore("creators")
        self.cooc: StateStore[CoocState] = InMemoryStore("cooc")
        self.regime: StateStore[RegimeState] = InMemoryStore("regime")
        self.meta: StateStore[MetaState] = InMemoryStore("meta")
        self.pending: StateStore[PendingSignal] = InMemoryStore("pending")
        self.seen: StateStore[SeenEvent] = InMemoryStore("seen")

    @classmethod
    def from_stores(cls, stores: dict[str, StateStore[Any]]) -> EngineState:
        """A state over other backends' stores (one per name in ``STORE_TYPES``)."""
        state = cls()
        for name in cls.STORE_TYPES:
            setattr(state, name, stores[name])
        return state

    STORE_TYPES: ClassVar[dict[str, type[Value]]] = {
        "tokens": TokenState,
        "wallets": WalletState,
        "creators": CreatorState,
        "cooc": CoocState,
        "regime": RegimeState,
        "meta": MetaState,
        "pending": PendingSignal,
        "seen": SeenEvent,
    }

    def stores(self) -> dict[str, StateStore[Any]]:
        return {name: getattr(self, name) for name in self.STORE_TYPES}

    def drain_changes(self) -> dict[str, tuple[dict[str, bytes], set[str]]]:
        """Per store: serialized values written since the last drain, and deleted keys."""
        return {name: store.drain() for name, store in self.stores().items()}

    def forget_changes(self) -> None:
        """The caller just took a whole snapshot (each backend decides what that makes moot)."""
        for store in self.stores().values():
            store.forget_changes()

    def snapshot(self) -> dict[str, dict[str, bytes]]:
        """Every value of every store, serialized."""
        return {
            name: {k: v.to_bytes() for k, v in store.items()}
            for name, store in self.stores().items()
        }

    @classmethod
    def from_snapshot(cls, snap: dict[str, dict[str, bytes]]) -> EngineState:
        stores: dict[str, StateStore[Any]] = {
            name: InMemoryStore(
                name, {key: value_type.from_bytes(raw) for key, raw in snap.get(name, {}).items()}
            )
            for name, value_type in cls.STORE_TYPES.items()
        }
        return cls.from_stores(stores)
