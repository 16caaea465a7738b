"""The faust app: agents and timers as thin adapters around :class:`streams.app.core.StreamCore`.

``create_app(settings)`` builds everything (no module-level app, no I/O at import). Data path:

* the ``score`` agent consumes the partitions the consumer group assigned to this worker
  (``token-genesis``, ``wallet-buy``, ``wallet-sell``, keyed by mint) in batches
  (``stream.noack_take``), decodes them (bad -> ``dead-letter``, acked at once) and hands the
  events to the core; acks wait until the outputs are delivered (at-least-once);
* a :class:`~streams.app.broadcast.BroadcastReader` feeds every other input partition to the
  same core with ``owned=False`` semantics (broadcast state), and replays owned partitions up to
  the committed offset when the engine is (re)built;
* a ticker releases events whose watermark moved on wall time (idle partitions); a timer hot
  reloads the models.

Rebalances: partitions lost just move to the broadcast reader. Partitions gained whose events
this worker already ran through its engine past the group's committed offset force a rebuild:
a fresh engine replays the retained input topics from the beginning (the same path as a
restart), publishing only from the committed offsets on. See docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import faust
from confluent_kafka import Message
from faust.types import EventT, StreamT

from streams.app.broadcast import BroadcastReader
from streams.app.checkpoint import (
    CODEC,
    DELTA,
    MAX_RECORD_BYTES,
    GenesisWindow,
    Manifest,
    WriterLog,
    assemble,
    candidates,
    choose,
    decode_payload,
    delta_records,
    delta_view,
    encode_payload,
    largest_change,
    local_unusable_reason,
    new_generation,
    orphan_chunks,
    set_ownership,
    split_chunks,
    stale_state_keys,
)
from streams.app.checkpoint_io import CheckpointLog
from streams.app.core import (
    TP,
    AckFn,
    Inbound,
    Outbox,
    Record,
    StreamCore,
    TopicNames,
    dead_letter_record,
)
from streams.app.fast_drain import FastDrainApp
from streams.app.highwater import HighwaterProbe
from streams.app.http import WorkerHttp
from streams.app.local_state import LocalState
from streams.app.metrics import WorkerMetrics
from streams.app.publisher import Publisher
from streams.app.raw_schema import RawSchema
from streams.app.scoreview import ScoreView
from streams.contracts.features import FEATURE_SET_VERSION, GENESIS_NAMES, STANDARD_NAMES
from streams.events import DecodeError, decode_input
from streams.features.engine import FeatureEngine
from streams.features.state import EngineState
from streams.scoring import ModelRegistry, Scorer
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.features.rocks import Commit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """Runtime knobs that are not part of the shared ``Settings``."""

    topics: TopicNames = field(default_factory=TopicNames)
    # re-sequencer grace and settle window; their defaults (and meaning) live in ``Settings``
    idle_s: float = Settings.model_fields["idle_s"].default
    settle_s: float = Settings.model_fields["settle_s"].default
    max_buffer: int = 200_000  # re-sequencer bound (events)
    tick_s: float = 0.05  # how often the watermark is re-checked without new input
    backlog_gather_s: float = 0.002  # pause between steps while some partition is behind
    web: bool = False
    web_port: int = 6066
    http_port: int | None = None  # lookup/health/board server: None off, 0 any free port
    http_host: str = "127.0.0.1"
    lag_interval_s: float = 1.0  # how often the consumer-lag gauges are refreshed


def _broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def _credentials(settings: Settings) -> Any:
    proto = settings.kafka_security_protocol.upper()
    if proto.startswith("SASL") and settings.kafka_sasl_username:
        password = (
            settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        )
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=_ssl_context(settings) if proto == "SASL_SSL" else None,
        )
    if proto == "SSL":
        return faust.SSLCredentials(_ssl_context(settings))
    return None


def _ssl_context(settings: Settings) -> Any:
    import ssl

    return ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )


def default_engine_factory() -> Callable[[], Any]:
    return FeatureEngine


def default_registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry(
        settings.models_dir,
        {"standard": tuple(STANDARD_NAMES), "genesis": tuple(GENESIS_NAMES)},
        settings.model_reload_interval_s,
    )


def _feature_set() -> str:
    return FEATURE_SET_VERSION


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alphastream")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


@dataclass
class _Point:
    """A checkpoint as taken between two steps (what every manifest of it says), and what the
    Kafka writer writes: ``kind`` ``full`` (``snap`` chunked), ``generation`` (every value as a
    record) or ``epoch`` (``changes`` since the previous epoch)."""

    watermark: int
    created_ms: int
    resume: dict[TP, int]
    skip: dict[TP, tuple[int, ...]]
    owned: frozenset[TP]
    genesis: tuple[GenesisWindow, ...]
    counts: dict[str, int]
    kind: str = "full"
    snap: dict[str, dict[str, bytes]] = field(default_factory=dict)
    changes: dict[str, tuple[dict[str, bytes], set[str]]] | None = None
    mints: dict[str, int] = field(default_factory=dict)  # all (full, generation) or new ones
    mint_count: int = 0  # mints covered once written
    taken_s: float = 0.0  # spent in the event loop


class StreamWorker:
    """Everything one worker process holds: core, broadcast reader, registry, metrics."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        options: WorkerOptions,
        registry: ModelRegistry,
        engine_factory: Callable[[], Any],
        metrics: WorkerMetrics,
    ) -> None:
        self.app = app
        self.settings = settings
        self.options = options
        self.topics = options.topics
        # rocksdb backend: the engine runs on a local RocksDB copy, committed at every checkpoint.
        # Opened first: a state dir another worker holds fails here, before any Kafka client
        self.local: LocalState | None = None
        if settings.state_backend == "rocksdb":
            self.local = LocalState(settings.state_path(), settings.state_cache_entries)
            self.local.open()
        self.registry = registry
        self.metrics = metrics
        self.core = StreamCore(
            engine_factory,
            Scorer(registry),
            _feature_set(),
            metrics,
            options.topics,
            idle_s=options.idle_s,
            settle_s=options.settle_s if settings.kafka_list_offsets_exact else 0.0,
            marks_exact=settings.kafka_list_offsets_exact,
            max_buffer=options.max_buffer,
        )
        self.broadcast = BroadcastReader(settings, settings.app_id)
        self.publisher = Publisher(settings)
        self.highwater = HighwaterProbe(settings)
        self._work = asyncio.Event()  # set when the processor has something to look at
        self._inflight = asyncio.Semaphore(64)
        self._ack_tasks: set[asyncio.Future[None]] = set()
        self._faust_tps: dict[TP, Any] = {}
        self.ready = asyncio.Event()  # set when every owned partition is warmed up
        self.warming: set[TP] = set()
        self.all_tps: list[TP] = []
        self._built = False
        self._plan_task: asyncio.Task[None] | None = None
        self._plan_lock = asyncio.Lock()
        self.published = 0
        self._stopping = False
        self._engine_factory: Callable[..., Any] = engine_factory
        # checkpoints: written by the owner of (wallet-buy, 0), read on every (re)build
        self.checkpoint_log = CheckpointLog(settings, options.topics.checkpoints)
        self.writer_log = WriterLog(f"{socket.gethostname()[:24]}-{uuid.uuid4().hex[:8]}")
        self._checkpoint_lock = asyncio.Lock()
        self._final_checkpoint = False
        self._local_epoch = 0
        self._restored_from = "checkpoint"
        # delta checkpoints: this writer's generation (None: the next checkpoint starts one),
        # mints written in it, and the state records seen at restore (retired by a generation)
        self._delta_gen: int | None = None
        self._delta_mints = 0
        self._stale_keys: set[str] = set()
        metrics.set_models(registry.versions())
        metrics.models_rejected.set(len(registry.rejections))
        metrics.set_build(_version(), self.core.feature_set)
        # what the HTTP endpoints serve (filled as scores are delivered)
        self.view = ScoreView()
        self.view.note_models(registry.versions(), time.time())
        self.http: WorkerHttp | None = None
        if options.http_port is not None:
            self.http = WorkerHttp(self, options.http_host, options.http_port)
        self._lag_at = 0.0

    # --- what the HTTP endpoints read -----------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): the engine is built and every owned partition is warm."""
        if self._stopping:
            return False, "stopping"
        if not self._built:
            return False, "planning: restoring or replaying the engine"
        if self.warming:
            return False, f"warming up {len(self.warming)} owned partitions"
        if not self.ready.is_set():
            return False, "waiting for a partition assignment"
        return True, f"consuming {len(self.core.assigned)} owned partitions"

    def owner_partition(self, mint: str) -> tuple[int | None, bool]:
        """The input partition of ``mint`` (None: never seen) and whether this worker owns it."""
        partition = self.core.mint_partition.get(mint)
        if partition is None:
            return None, False
        return partition, (self.topics.buys, partition) in self.core.assigned

    @property
    def metrics_registry(self) -> Any:
        return self.metrics.registry

    async def start_http(self) -> None:
        if self.http is not None:
            await self.http.start()

    def _update_lag(self) -> None:
        """Consumer lag per owned partition from the cached high-water marks (no broker call)."""
        now = time.monotonic()
        if now - self._lag_at < self.options.lag_interval_s:
            return
        self._lag_at = now
        self.metrics.set_lag(self.core.consumer_lags())

    # --- rebalance ----------------------------------------------------------------------------

    async def on_partitions_assigned(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        assigned: Iterable[Any] = args[0] if args else kwargs["assigned"]
        inputs = set(self.topics.inputs)
        mine = {(tp.topic, tp.partition) for tp in assigned if tp.topic in inputs}
        self.ready.clear()
        self.metrics.planned.set(0)
        if self._plan_task is not None and not self._plan_task.done():
            self._plan_task.cancel()
        self._plan_task = asyncio.ensure_future(self._replan(mine))

    async def _replan(self, assigned: set[TP]) -> None:
        async with self._plan_lock:
            try:
                await self._replan_locked(assigned)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("re-planning after a rebalance failed; rebuilding from scratch")
                self._built = False
                try:
                    await self._replan_locked(assigned)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # no engine to run: stop rather than sit unready
                    log.exception("rebuilding the engine failed; stopping the worker")
                    await self.app.crash(exc)

    async def _replan_locked(self, assigned: set[TP]) -> None:
        core = self.core
        if not self.all_tps:
            self.all_tps = await self.broadcast.partitions(self.topics.inputs)
        committed = await self.broadcast.committed(assigned)
        gained = assigned - core.assigned
        overlap = [tp for tp in gained if core.released_next(tp) > (committed.get(tp) or 0)]
        if not self._built or overlap:
            self._built = False  # no step (or checkpoint) runs on the engine being replaced
            marks = await self.broadcast.marks(self.all_tps)
            committed_all = await self.broadcast.committed(self.all_tps)
            owned_from = {tp: max(committed.get(tp) or 0, marks[tp][0]) for tp in assigned}
            async with self._checkpoint_lock:
                start = await self._restore(marks, assigned, owned_from, committed_all)
                source = self._restored_from
                if start is None:
                    engine = await asyncio.to_thread(self._fresh_engine)
                    core.rebuild(marks, assigned, owned_from, time.monotonic(), engine)
                    start, source = {tp: low for tp, (low, _) in marks.items()}, "full"
            self.metrics.restores.labels(source).inc()
            replay = _replay_offsets(marks, start, committed_all)
            self.metrics.replay_events.set(replay)
            self.warming = {tp for tp in assigned if owned_from[tp] > start[tp]}
            await self.broadcast.assign(
                {tp: start[tp] for tp in self.all_tps if tp not in assigned or tp in self.warming}
            )
            self._built = True
            log.info(
                "engine (re)built from %s: %d owned partitions, %d warming, %d committed offsets "
                "to re-process",
                source,
                len(assigned),
                len(self.warming),
                replay,
            )
        else:
            revoked = core.assigned - assigned
            owned_from = {tp: committed.get(tp) or core.released_next(tp) for tp in gained}
            core.set_assignment(assigned, owned_from)
            await self.broadcast.add({tp: core.next_offset(tp) or 0 for tp in revoked})
            self.warming = {tp for tp in gained if (core.next_offset(tp) or 0) < owned_from[tp]}
            await self.broadcast.remove(gained - self.warming)
            log.info(
                "rebalance: +%d -%d partitions, %d warming",
                len(gained),
                len(revoked),
                len(self.warming),
            )
        self.metrics.planned.set(1)
        await self._check_warm(set())

    async def _restore(
        self,
        marks: dict[TP, tuple[int, int]],
        assigned: set[TP],
        owned_from: dict[TP, int],
        committed: dict[TP, int | None],
    ) -> dict[TP, int] | None:
        """Seed the core from the newest usable checkpoint; the offsets replay starts from, or
        None (no usable checkpoint: the caller replays everything)."""
        if self.settings.checkpoint_interval_s <= 0:
            return None
        started = time.perf_counter()
        self._delta_gen = None  # a new engine: the next Kafka checkpoint starts a generation
        feature_set = self.core.feature_set
        local = await asyncio.to_thread(self.local.peek, feature_set) if self.local else None
        manifest: Manifest | None = None
        latest: dict[str, bytes] = {}
        try:
            latest = await asyncio.to_thread(self.checkpoint_log.read)
        except Exception as exc:
            log.warning("checkpoints not readable (%s)", exc)
        else:
            found = candidates(latest, feature_set)
            every = candidates(latest, "", any_feature_set=True)
            self.writer_log.foreign = [m for m in every if m.writer != self.writer_log.writer]
            self.writer_log.orphans = orphan_chunks(latest)
            self._stale_keys = stale_state_keys(latest)
            manifest, passed = choose(found, marks, assigned, owned_from)
            for reason in passed:
                log.info("checkpoint passed over: %s", reason)
            if manifest is None:
                log.info("no usable checkpoint on Kafka (%d found)", len(found))
        if local is not None and not self._local_usable(
            local, manifest, marks, assigned, owned_from
        ):
            local = None
        if local is None and manifest is None:
            log.info("no usable checkpoint: full replay")
            return None
        try:
            if local is not None:
                engine, mints = await asyncio.to_thread(self._load_local, assigned)
                manifest, self._restored_from = local, "local"
            else:
                assert manifest is not None
                engine, mints = await asyncio.to_thread(
                    self._load_engine, manifest, latest, assigned
                )
                self._restored_from = "checkpoint"
        except Exception as exc:
            chosen = local or manifest
            assert chosen is not None
            log.warning(
                "checkpoint %s/%d unusable (%s): full replay", chosen.writer, chosen.epoch, exc
            )
            return None
        start = {tp: manifest.resume[tp] for tp in self.all_tps}
        windows = [(w.event_id, w.tp, w.offset, w.ts, w.mint) for w in manifest.genesis]
        highs = {tp: high for tp, (_, high) in marks.items()}
        skip = {tp: offs for tp, offs in manifest.skip.items() if tp in start}
        self.core.restore(
            engine, highs, start, skip, assigned, owned_from, mints, windows, time.monotonic()
        )
        full = _replay_offsets(marks, {tp: low for tp, (low, _) in marks.items()}, committed)
        replay = _replay_offsets(marks, start, committed)
        log.info(
            "engine restored from %s %s/%d (watermark %d, %.1f s old): replaying %d "
            "committed offsets instead of %d (full replay), %d newer offsets to process; read "
            "and loaded in %.2f s",
            "local checkpoint" if self._restored_from == "local" else "checkpoint",
            manifest.writer,
            manifest.epoch,
            manifest.watermark,
            time.time() - manifest.created_ms / 1000.0,
            replay,
            full,
            sum(max(0, highs[tp] - start[tp]) for tp in start) - replay,
            time.perf_counter() - started,
        )
        return start

    def _load_engine(
        self, manifest: Manifest, latest: dict[str, bytes], assigned: set[TP]
    ) -> tuple[Any, dict[str, int]]:
        """Decode a checkpoint into an engine with this worker's ownership flags (thread)."""
        if manifest.codec == DELTA:
            snap, mints = delta_view(manifest, latest)
        else:
            snap, mints = decode_payload(assemble(manifest, latest))
        if self.local is not None:  # the local copy becomes this checkpoint's state
            state = self.local.from_snapshot(snap)
        else:
            state = EngineState.from_snapshot(snap)
        set_ownership(state, mints, self._owned_partitions(assigned))
        return self._engine_factory(state=state), mints

    def _owned_partitions(self, assigned: set[TP]) -> dict[str, set[int]]:
        gen = {p for t, p in assigned if t == self.topics.genesis}
        buy = {p for t, p in assigned if t == self.topics.buys}
        return {"genesis": gen, "buy": buy}

    def _local_usable(
        self,
        local: Manifest,
        kafka: Manifest | None,
        marks: dict[TP, tuple[int, int]],
        assigned: set[TP],
        owned_from: dict[TP, int],
    ) -> bool:
        """The local checkpoint passes the rule Kafka candidates pass (``choose``) and is at
        least as new as the Kafka checkpoint chosen (engine watermark, then wall time)."""
        reason = local_unusable_reason(local, kafka, marks, assigned, owned_from)
        if reason is not None:
            log.info("local checkpoint %s/%d passed over: %s", local.writer, local.epoch, reason)
        return reason is None

    def _load_local(self, assigned: set[TP]) -> tuple[Any, dict[str, int]]:
        """The engine on the local checkpoint's state, with this worker's ownership (thread)."""
        assert self.local is not None
        state, mints = self.local.load()
        set_ownership(state, mints, self._owned_partitions(assigned))
        return self._engine_factory(state=state), mints

    def _fresh_engine(self) -> Any:
        """An empty engine for a full replay (on an emptied local database: rocksdb backend)."""
        if self.local is None:
            return self._engine_factory()
        return self._engine_factory(state=self.local.from_snapshot(None))

    # --- checkpoints ----------------------------------------------------------------------

    def is_checkpoint_writer(self) -> bool:
        """The owner of (wallet-buy, 0) writes: one worker, chosen by the group's assignment."""
        return (self.topics.buys, 0) in self.core.assigned

    async def run_checkpoints(self) -> None:
        interval = self.settings.checkpoint_interval_s
        if interval <= 0:
            return
        while not self._stopping:
            await asyncio.sleep(interval)
            if self._stopping:
                break
            try:
                await self.write_checkpoint()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writing a checkpoint failed; next try in %.0f s", interval)

    async def write_checkpoint(self) -> Manifest | None:
        """Checkpoint the engine between two steps; the Kafka manifest, or None when this
        worker is not the writer (or not built / still warming up). With the rocksdb backend
        every worker also commits its local copy."""
        async with self._checkpoint_lock:
            core = self.core
            writer = self.is_checkpoint_writer()
            if not writer:
                self._delta_gen = None  # becoming the writer again starts a new generation
                state = getattr(core.engine, "state", None)
                if self._built and self.local is None and state is not None:
                    # nobody reads this worker's change sets: keep them from growing forever
                    state.forget_changes()
            if not self._built or self.warming or not (writer or self.local is not None):
                return None
            # one synchronous block: no step can run in between (same event loop)
            started = time.perf_counter()
            engine: Any = core.engine
            resume, skip = core.consistency_point()
            windows = core.open_genesis_windows()
            all_tps = set(self.all_tps)
            point = _Point(
                watermark=int(engine.watermark),
                created_ms=int(time.time() * 1000),
                resume={tp: o for tp, o in resume.items() if tp in all_tps},
                skip=skip,
                owned=frozenset(core.assigned),
                genesis=tuple(
                    GenesisWindow(e, tp[0], tp[1], o, ts, m) for e, tp, o, ts, m in windows
                ),
                counts={name: len(store) for name, store in engine.state.stores().items()},
            )
            commit = None
            if self.local is not None:
                local = self._manifest(point, self._local_epoch)
                self._local_epoch += 1
                commit = self.local.begin(local, core.mint_partition)
            if writer:
                self._take_kafka_point(point, engine, commit)
            point.taken_s = time.perf_counter() - started
            # every output of the applied events must be delivered before the manifest exists
            try:
                await self.publisher.sent_delivered()
            except BaseException:
                self._delta_gen = None  # drained changes may be lost: the next one is whole
                if commit is not None and self.local is not None:
                    self.local.abandon(commit)
                raise
            if commit is not None and self.local is not None:
                self._write_local(local, commit, point)
            if not writer:
                return None
            try:
                if point.kind == "full":
                    return await self._write_full(point, started)
                return await self._write_delta(point, started)
            except BaseException:
                self._delta_gen = None
                raise

    def _manifest(self, point: _Point, epoch: int, **kw: Any) -> Manifest:
        return Manifest(
            writer=self.writer_log.writer, epoch=epoch, created_ms=point.created_ms,
            watermark=point.watermark, feature_set=self.core.feature_set, chunks=0, size=0,
            crc=0, resume=point.resume, skip=point.skip, delivered=point.owned,
            genesis=point.genesis, **kw,
        )  # fmt: skip

    def _take_kafka_point(self, point: _Point, engine: Any, commit: Commit | None) -> None:
        """What the Kafka checkpoint writes (in the synchronous block): the changes since the
        previous epoch of this writer's generation, or the whole state (a new generation, the
        ``full`` format, or a value too large for one record)."""
        mints = self.core.mint_partition
        if self.settings.checkpoint_format == "delta" and self._delta_gen is not None:
            changes = commit.changes if commit is not None else engine.state.drain_changes()
            if largest_change(changes) <= MAX_RECORD_BYTES:
                point.kind, point.changes = "epoch", changes
                point.mints = dict(itertools.islice(mints.items(), self._delta_mints, None))
                point.mint_count = len(mints)
                return
        elif self.settings.checkpoint_format == "delta":
            engine.state.forget_changes()  # the next epoch's changes start from this snapshot
        point.snap = engine.state.snapshot()
        point.mints, point.mint_count = dict(mints), len(mints)
        whole = {name: (values, set[str]()) for name, values in point.snap.items()}
        too_big = largest_change(whole) > MAX_RECORD_BYTES
        delta = self.settings.checkpoint_format == "delta" and not too_big
        point.kind = "generation" if delta else "full"
        if delta:
            point.changes = whole

    def _write_local(self, local: Manifest, commit: Commit, point: _Point) -> None:
        assert self.local is not None
        t = time.perf_counter()
        self.local.write(commit)
        mb = commit.size / 1e6
        log.info(
            "local checkpoint %s/%d committed: watermark %d, %d values written, %d deleted, "
            "%.2f MB; drained in the event loop %.0f ms (%.1f ms/MB), written %.0f ms",
            local.writer,
            local.epoch,
            point.watermark,
            commit.puts,
            commit.deletes,
            mb,
            point.taken_s * 1000,
            point.taken_s * 1000 / mb if mb else 0.0,
            (time.perf_counter() - t) * 1000,
        )

    async def _write_full(self, point: _Point, started: float) -> Manifest:
        """The whole state, compressed and chunked, then its manifest."""
        blob = await asyncio.to_thread(encode_payload, point.snap, point.mints)
        chunks = split_chunks(blob)
        manifest = self._manifest(point, self.writer_log.next_epoch(), codec=CODEC)
        manifest = dataclasses.replace(
            manifest, chunks=len(chunks), size=len(blob), crc=zlib.crc32(blob)
        )
        chunk_records, manifest_record = self.writer_log.records(manifest, chunks)
        await asyncio.to_thread(self.checkpoint_log.write, chunk_records)
        await asyncio.to_thread(self.checkpoint_log.write, [manifest_record])
        dead = self.writer_log.delivered(manifest)
        await asyncio.to_thread(self.checkpoint_log.write, [(k, None) for k in dead])
        self.metrics.checkpoints.inc()
        self.metrics.checkpoint_bytes.set(len(blob))
        raw_mb = sum(len(k) + len(v) for st in point.snap.values() for k, v in st.items()) / 1e6
        log.info(
            "checkpoint %s/%d written: watermark %d, %.1f MB state -> %d KiB in %d chunks; "
            "snapshot in the event loop %.0f ms (%.1f ms/MB), total %.2f s",
            manifest.writer,
            manifest.epoch,
            point.watermark,
            raw_mb,
            len(blob) // 1024,
            len(chunks),
            point.taken_s * 1000,
            point.taken_s * 1000 / max(raw_mb, 1e-9),
            time.perf_counter() - started,
        )
        return manifest

    async def _write_delta(self, point: _Point, started: float) -> Manifest:
        """The changed values (or, for a new generation, every value) as one record each,
        then the manifest; a new generation then tombstones the older state records."""
        assert point.changes is not None
        generation = self._delta_gen if point.kind == "epoch" else new_generation()
        assert generation is not None
        epoch = self.writer_log.next_epoch()
        records = delta_records(generation, epoch, point.changes, point.mints)
        size = sum(len(k) + len(v) for k, v in records if v is not None)
        manifest = self._manifest(
            point, epoch, codec=DELTA, generation=generation, counts=point.counts
        )
        manifest = dataclasses.replace(manifest, size=size)
        await asyncio.to_thread(self.checkpoint_log.write, records)
        await asyncio.to_thread(self.checkpoint_log.write, [(manifest.key, manifest.to_bytes())])
        dead = self.writer_log.delivered(manifest)
        if point.kind == "generation":
            dead += sorted(self._stale_keys - {k for k, _ in records})
            self._stale_keys = set()
        await asyncio.to_thread(self.checkpoint_log.write, [(k, None) for k in dead])
        self._delta_gen, self._delta_mints = generation, point.mint_count
        self.metrics.checkpoints.inc()
        self.metrics.checkpoint_bytes.set(size)
        mb = size / 1e6
        log.info(
            "checkpoint %s/%d written: %s %x/%d, watermark %d, %.1f MB state -> %d KiB in %d "
            "records; in the event loop %.0f ms (%.1f ms/MB), total %.2f s",
            manifest.writer,
            manifest.epoch,
            "new generation" if point.kind == "generation" else "delta of generation",
            generation,
            epoch,
            point.watermark,
            mb,
            size // 1024,
            len(records),
            point.taken_s * 1000,
            point.taken_s * 1000 / mb if mb else 0.0,
            time.perf_counter() - started,
        )
        return manifest

    async def _check_warm(self, eof: set[TP]) -> None:
        done = {
            tp
            for tp in self.warming
            if tp in eof or (self.core.next_offset(tp) or 0) >= self.core.owned_from.get(tp, 0)
        }
        if done:
            self.warming -= done
            await self.broadcast.remove(done)
        if not self.warming and self._built:
            self.ready.set()

    # --- input ----------------------------------------------------------------------------

    async def on_owned_batch(self, events: Sequence[EventT]) -> None:
        await self.ready.wait()
        now = time.monotonic()
        acks: list[AckFn] = []
        letters: list[Record] = []
        for ev in events:
            msg = ev.message
            tp = (str(msg.topic), int(msg.partition))
            offset = int(msg.offset)
            ack = ev.ack
            self.metrics.events_in.labels(msg.topic, "owned").inc()
            if self.core.is_duplicate(tp, offset):
                acks += self.core.accept_duplicate(tp, offset, [ack])
                continue
            payload = msg.value if isinstance(msg.value, bytes) else bytes(msg.value or b"")
            key = msg.key if isinstance(msg.key, bytes) or msg.key is None else bytes(msg.key)
            try:
                event = decode_input(
                    payload,
                    self.topics.canonical(tp[0]),
                    self.settings.max_message_bytes,
                    self.metrics.ignored_fields,
                )
            except DecodeError as exc:
                letters.append(dead_letter_record(self.topics, payload, exc, tp, offset, key))
                self.metrics.dead_lettered.labels(exc.reason).inc()
                self.core.skip(tp, offset, now)
                acks.append(ack)
                continue
            item = Inbound(tp, offset, event, key, payload, msg.timestamp, [ack])
            acks += self.core.accept(item, now)
        if letters:
            await self.publish(letters)
        for fn in acks:
            fn()
        self.wake()

    async def run_broadcast(self) -> None:
        """Feed the partitions this worker does not own (and warm-up ranges) forever."""
        while not self._stopping:
            msgs, eof = await self.broadcast.poll()
            now = time.monotonic()
            for m in msgs:
                self._feed_broadcast(m, now)
            if self.warming:
                await self._check_warm(eof)
            if msgs:
                self.wake()

    def _feed_broadcast(self, m: Message, now: float) -> None:
        topic, partition, offset = str(m.topic()), int(m.partition() or 0), int(m.offset() or 0)
        tp = (topic, partition)
        if tp not in self.broadcast.assigned or self.core.is_duplicate(tp, offset):
            return
        self.metrics.events_in.labels(topic, "broadcast").inc()
        payload = m.value() or b""
        try:
            event = decode_input(
                payload, self.topics.canonical(topic), self.settings.max_message_bytes
            )
        except DecodeError:
            self.core.skip(tp, offset, now)  # its owner dead-letters it
            return
        ts_type, ts_ms = m.timestamp()
        produced = ts_ms / 1000.0 if ts_type and ts_ms > 0 else None
        self.core.accept(Inbound(tp, offset, event, m.key(), payload, produced), now)

    # --- output ---------------------------------------------------------------------------

    def _refresh_highwaters(self) -> None:
        """Re-read the high-water marks the watermark may depend on.

        A source known to have a backlog (next offset < high-water) holds the watermark either
        way and its mark only grows, so only sources that look caught up are asked again.
        """
        consumer = self.app.consumer
        sources = self.core.reseq.sources
        faust_tps = self._faust_tps
        for tp in self.core.assigned:
            state = sources.get(tp)
            if state is not None and not state.caught_up() and state.highwater is not None:
                continue
            ftp = faust_tps.get(tp)
            if ftp is None:
                ftp = faust_tps[tp] = faust.types.TP(*tp)
            try:
                hw = consumer.highwater(ftp)
            except Exception:
                hw = None
            self.core.note_highwater(tp, hw)
        for tp in self.broadcast.assigned:
            self.core.note_highwater(tp, self.broadcast.highwater(tp))

    async def _confirm_highwaters(self) -> int | None:
        """Ask the broker for the marks of sources that look caught up (or are unknown).

        Returns the re-sequencer's push mark taken before asking (the step releases only what
        arrived before it), or None when no source needed asking or an answer failed. The
        caller does not step when the core was rebuilt meanwhile."""
        core = self.core
        unsure = core.marks_to_confirm()
        if not unsure:
            return None
        reseq = core.reseq
        cutoff = reseq.push_mark(time.monotonic())
        asked = time.perf_counter()
        fresh = await self.highwater.latest(unsure)
        self.metrics.highwater_query.observe(time.perf_counter() - asked)
        if len(fresh) < len(unsure):  # some answer failed: decide on cached marks (with grace)
            return None
        sources = reseq.sources
        for tp, mark in fresh.items():
            state = sources.get(tp)
            cached = state.highwater if state is not None and state.highwater is not None else -1
            # never lower a mark a fetch response already showed
            core.note_highwater(tp, max(mark, cached))
        return cutoff

    def wake(self) -> None:
        """New input or wall time passed: let the processor look at the watermark."""
        self._work.set()

    async def run_processor(self) -> None:
        """The one place that steps the core: whatever arrived while the previous step ran is
        processed together (bigger batches under load, no wait when idle)."""
        while not self._stopping:
            await self._work.wait()
            self._work.clear()
            await self.pump()
            # let the consumers hand in what they fetched meanwhile; while a partition is
            # known to be behind, gather a little longer so one step scores a bigger batch
            await asyncio.sleep(self.options.backlog_gather_s if self._behind() else 0)
            if self.core.reseq.unsettled():  # look again when the waiting events have settled
                await asyncio.sleep(self.options.settle_s / 3)
                self._work.set()

    def _behind(self) -> bool:
        return any(not s.caught_up() for s in self.core.reseq.sources.values())

    async def pump(self) -> None:
        """Release, process and publish what the watermark allows; ack after delivery."""
        if not self._built or self._stopping or not len(self.core.reseq):
            return
        self._refresh_highwaters()
        reseq = self.core.reseq
        cutoff = await self._confirm_highwaters()
        if self.core.reseq is not reseq or self._stopping:
            return  # rebuilt (or stopping) while the broker answered
        box = self.core.step(time.monotonic(), cutoff)
        if not box:
            return
        delivered = self.publisher.send(box.records)
        self.published += len(box.records)
        await self._inflight.acquire()  # bound the boxes awaiting delivery
        task = asyncio.ensure_future(self._ack_when_delivered(delivered, box))
        self._ack_tasks.add(task)
        task.add_done_callback(self._ack_tasks.discard)

    async def _ack_when_delivered(self, delivered: asyncio.Future[None], box: Outbox) -> None:
        try:
            await delivered
        except Exception as exc:  # inputs stay unacked: redelivered after the restart
            log.exception("publishing %d records failed; crashing the worker", len(box.records))
            await self.app.crash(exc)
            return
        finally:
            self._inflight.release()
        for fn in box.acks:
            fn()
        done = time.time()
        if box.scores:
            self.view.update(box.scores, done)
        for produced in box.produced_s:
            self.metrics.e2e_latency.observe(max(0.0, done - produced))

    async def publish(self, records: list[Record]) -> None:
        await self.publisher.publish(records)
        self.published += len(records)

    async def tick(self) -> None:
        self.wake()
        self._update_lag()

    def _log_ordering_stats(self) -> None:
        sample = self.metrics.registry.get_sample_value
        asked = sample("alphastream_highwater_query_seconds_count") or 0.0
        spent = sample("alphastream_highwater_query_seconds_sum") or 0.0
        stats = self.core.reseq.stats
        log.info(
            "ordering: %d events released, %d late, %d forced out; %d high-water questions, "
            "mean %.1f ms",
            stats.released,
            stats.late,
            stats.forced,
            asked,
            1000.0 * spent / asked if asked else 0.0,
        )

    def reload_models(self) -> None:
        now = time.time()
        if self.registry.maybe_reload(now):
            self.metrics.set_models(self.registry.versions())
            self.metrics.models_rejected.set(len(self.registry.rejections))
            self.view.note_models(self.registry.versions(), now)

    async def stop(self) -> None:
        self._stopping = True  # no step runs after this: the final checkpoint is consistent
        self._log_ordering_stats()
        if self._plan_task is not None:
            self._plan_task.cancel()
        if not self._final_checkpoint and self.settings.checkpoint_interval_s > 0:
            self._final_checkpoint = True
            try:
                await self.write_checkpoint()
            except Exception:
                log.exception("final checkpoint failed")
        if self.http is not None:
            await self.http.stop()
        await self.broadcast.close()
        self.publisher.close()
        self.checkpoint_log.close()
        if self.local is not None:
            async with self._checkpoint_lock:
                self.local.close()


def _replay_offsets(
    marks: dict[TP, tuple[int, int]], start: dict[TP, int], committed: dict[TP, int | None]
) -> int:
    """Offsets a (re)build starting at ``start`` re-processes although the group already
    committed them (work done before); events after the committed offsets are new work either
    way."""
    done = {tp: min(high, max(low, committed.get(tp) or low)) for tp, (low, high) in marks.items()}
    return sum(max(0, done[tp] - start.get(tp, done[tp])) for tp in done)


def create_app(
    settings: Settings,
    options: WorkerOptions | None = None,
    *,
    registry: ModelRegistry | None = None,
    engine_factory: Callable[[], Any] | None = None,
    metrics: WorkerMetrics | None = None,
) -> faust.App:
    """A configured faust app for one worker; ``app.alphastream`` is its :class:`StreamWorker`."""
    opts = options or WorkerOptions()
    datadir = settings.data_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app_class = FastDrainApp if settings.fast_drain else faust.App
    app = app_class(
        settings.app_id,
        broker=_broker_urls(settings.kafka_bootstrap),
        broker_credentials=_credentials(settings),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=opts.web,
        web_port=opts.web_port,
        topic_allow_declare=False,  # topics are pre-created (tansu, locked-down clusters)
        topic_disable_leader=True,
        stream_wait_empty=False,  # events wait in the re-sequencer, unacked, across rebalances
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        broker_commit_interval=1.0,
        broker_commit_livelock_soft_timeout=600.0,
        consumer_auto_offset_reset="earliest",
        datadir=str(datadir),
        store="memory://",
    )
    worker = StreamWorker(
        app,
        settings,
        opts,
        registry or default_registry(settings),
        engine_factory or default_engine_factory(),
        metrics or WorkerMetrics(),
    )
    app.alphastream = worker  # type: ignore[attr-defined]
    inputs = app.topic(*opts.topics.inputs, schema=RawSchema())

    async def score(stream: StreamT) -> None:
        batches = stream.noack_take(settings.batch_size, within=settings.batch_within_s)  # type: ignore[attr-defined]
        async for events in batches:
            await worker.on_owned_batch(events)

    app.agent(inputs, name=f"{settings.app_id}.score")(score)
    app.timer(opts.tick_s, name=f"{settings.app_id}.tick")(worker.tick)

    async def reload_models() -> None:
        worker.reload_models()

    app.timer(max(0.5, settings.model_reload_interval_s / 4), name=f"{settings.app_id}.reload")(
        reload_models
    )
    app.task(worker.run_broadcast)
    app.task(worker.run_processor)
    app.task(worker.run_checkpoints)
    app.task(worker.start_http)
    app.on_partitions_assigned.connect(worker.on_partitions_assigned)  # type: ignore[arg-type]

    async def on_shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        await worker.stop()

    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]
    return app
