"""The faust app: group membership that assigns shards, timers, the HTTP surface, lifecycle.

``create_app(settings)`` builds everything (no module-level app, no I/O at import). faust's
consumer group is joined on the ``score-shards`` topic, which carries no data: its partitions
are the shards, and the group's assignment decides which mints this worker scores and
publishes. The data path is not faust's: a :class:`~streams.app.loop.HotLoop` thread reads the
market log in batches with confluent-kafka and steps the :class:`~streams.app.replica.Replica`.
Rebalance callbacks become commands to that thread (hand off, take over); timers reload models.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.types import StreamT

from streams import package_version
from streams.app.handover import HandoverBuffer
from streams.app.http import WorkerHttp
from streams.app.logsource import KafkaLogSource
from streams.app.loop import Call, HandOff, HotLoop, TakeOver
from streams.app.metrics import WorkerMetrics
from streams.app.progress import KafkaProgressReader
from streams.app.raw_schema import RawSchema
from streams.app.replica import Replica
from streams.app.scoreview import ScoreView
from streams.app.shards import ShardMap
from streams.app.sink import KafkaSink
from streams.app.topology import check_shard_topics
from streams.checkpoints import Checkpointer, CheckpointLog, LocalState, restore_engine
from streams.contracts.features import FEATURE_SET_VERSION
from streams.features.engine import FeatureEngine
from streams.heap import HeapKeeper
from streams.scoring import ModelRegistry, Scorer, default_registry
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """Runtime knobs that are not part of the shared ``Settings``."""

    topics: TopicNames = field(default_factory=TopicNames)
    web: bool = False
    web_port: int = 6066
    http_port: int | None = None  # lookup/health/board server: None off, 0 any free port
    http_host: str = "127.0.0.1"
    read_timeout_s: float = 0.05  # longest wait for the log in one read
    profile_path: str | None = None  # cProfile of the hot loop's CPU time, written at exit


class StreamWorker:
    """What one worker process holds: registry, metrics, and once restored, replica and loop."""

    def __init__(
        self, app: faust.App, settings: Settings, options: WorkerOptions, registry: ModelRegistry,
        engine_factory: Callable[..., Any], metrics: WorkerMetrics,
    ) -> None:  # fmt: skip
        self.app = app
        self.settings = settings
        self.options = options
        self.topics = options.topics
        # opened first: a state dir another worker holds fails here, before any Kafka client
        self.local: LocalState | None = None
        if settings.state_backend == "rocksdb":
            self.local = LocalState(settings.state_path(), settings.state_cache_entries)
            self.local.open()
        self.registry = registry
        self.metrics = metrics
        self.engine_factory = engine_factory
        self.scorer = Scorer(registry)
        self.checkpoint_log = CheckpointLog(settings, self.topics.checkpoints)
        self.progress = KafkaProgressReader(settings, self.topics)
        self.view = ScoreView()
        self.view.note_models(registry.versions(), time.time())
        metrics.set_models(registry.versions())
        metrics.models_rejected.set(len(registry.rejections))
        metrics.set_build(package_version(), FEATURE_SET_VERSION)
        self.replica: Replica | None = None
        self.loop: HotLoop | None = None
        self.restored = asyncio.Event()
        self.restored_from = ""
        self._stopping = False
        self._assign_lock = asyncio.Lock()
        self.http: WorkerHttp | None = None
        if options.http_port is not None:
            self.http = WorkerHttp(self, options.http_host, options.http_port)

    # --- what the HTTP endpoints read -------------------------------------------------------

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason): restored, shards taken over, and the log read to its end once."""
        if self._stopping:
            return False, "stopping"
        if self.loop is None or self.replica is None:
            return False, "restoring the engine"
        state = self.loop.state
        if state.failed is not None:
            return False, f"failed: {state.failed}"
        if not state.assigned:
            return False, "waiting for a shard assignment"
        if not state.caught_up:
            return False, "replaying the market log"
        return True, f"scoring {len(self.replica.owned)} shards"

    def owner_partition(self, mint: str) -> tuple[int | None, bool]:
        """The shard of ``mint`` (None: the engine never saw it) and whether this worker owns it."""
        replica = self.replica
        if replica is None or replica.engine.state.tokens.get(mint) is None:
            return None, False
        shard = replica.shards.of(mint)
        return shard, shard in replica.owned

    def owned_shards(self) -> list[int]:
        return sorted(self.replica.owned) if self.replica is not None else []

    @property
    def metrics_registry(self) -> Any:
        return self.metrics.registry

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Restore the engine (thread), then start the hot loop; it reads once shards arrive.
        The HTTP server listens first, so /healthz answers and /ready says why not yet."""
        if self.http is not None:
            await self.http.start()
        loop = asyncio.get_running_loop()
        shard_count = await loop.run_in_executor(None, check_shard_topics, self.settings,
                                                 self.topics)  # fmt: skip
        kafka = self.checkpoint_log if self.settings.checkpoint_interval_s > 0 else None
        restored = await loop.run_in_executor(None, restore_engine, self.engine_factory,
                                              FEATURE_SET_VERSION, kafka, self.local)  # fmt: skip
        self.metrics.restores.labels(restored.source).inc()
        self.metrics.restored_offset.set(restored.position)
        self.restored_from = restored.source
        s = self.settings
        self.replica = Replica(
            restored.engine, self.scorer, feature_set=FEATURE_SET_VERSION, topics=self.topics,
            shards=ShardMap(shard_count), metrics=self.metrics, position=restored.position,
            buffer=HandoverBuffer(s.handover_window_s, s.handover_max_rows),
            max_message_bytes=s.max_message_bytes,
        )  # fmt: skip
        source = KafkaLogSource(s, self.topics.log, restored.position)
        sink = KafkaSink(s, on_latency=self.metrics.e2e_latency.observe)
        checkpointer = Checkpointer(kafka, self.local, FEATURE_SET_VERSION,
                                    s.checkpoint_interval_s,
                                    on_written=self.metrics.checkpoint_written,
                                    inherited=restored.found,
                                    serialize_in_child=s.checkpoint_in_child)  # fmt: skip
        self.loop = HotLoop(
            self.replica, source, sink, metrics=self.metrics, checkpointer=checkpointer,
            heap=HeapKeeper(s.gc_freeze_interval_s), batch=s.log_batch, read_timeout_s=self.options.read_timeout_s,
            profile_path=self.options.profile_path,
            on_scores=lambda scores, now: _call_soon(loop, self.view.update, scores, now),
        )  # fmt: skip
        self.loop.start()
        self.restored.set()

    async def on_partitions_revoked(self, sender: Any, revoked: Any = (), **kw: Any) -> None:
        shards = [tp.partition for tp in revoked if tp.topic == self.topics.shards]
        if self.loop is None or not shards:
            return
        command = HandOff(shards)
        self.loop.submit(command)
        await asyncio.get_running_loop().run_in_executor(None, command.done.wait, 60.0)

    async def on_partitions_assigned(self, sender: Any, assigned: Any = (), **kw: Any) -> None:
        shards = {tp.partition for tp in assigned if tp.topic == self.topics.shards}
        self.metrics.planned.set(0)
        await self.restored.wait()
        async with self._assign_lock:
            assert self.loop is not None and self.replica is not None
            owned = set(self.replica.owned)
            if owned - shards:
                await self.on_partitions_revoked(sender, [
                    _Shard(self.topics.shards, s) for s in owned - shards])  # fmt: skip
            gained = sorted(shards - owned)
            progress = await asyncio.get_running_loop().run_in_executor(
                None, self.progress.read, gained
            )
            log.info("taking over shards %s", gained)
            self.loop.submit(TakeOver(progress))

    def reload_models(self) -> None:
        def reload() -> None:
            now = time.time()
            if self.registry.maybe_reload(now):
                self.metrics.set_models(self.registry.versions())
                self.metrics.models_rejected.set(len(self.registry.rejections))
            self.view.note_models(self.registry.versions(), now)

        if self.loop is not None:  # scoring and reloading never interleave
            self.loop.submit(Call(reload))

    async def watch(self) -> None:
        """Stop the app (non-zero exit) if the hot loop died."""
        while True:
            await asyncio.sleep(0.5)
            if self.loop is not None and self.loop.state.failed is not None:
                await self.app.crash(self.loop.state.failed)
                return

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self.http is not None:
            await self.http.stop()
        if self.loop is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._stop_loop)
        self.checkpoint_log.close()
        if self.local is not None:
            self.local.close()

    def _stop_loop(self) -> None:
        assert self.loop is not None and self.replica is not None
        loop = self.loop
        loop.stop()
        if loop.checkpointer is not None and loop.state.failed is None and loop.state.assigned:
            loop.checkpointer.final(self.replica.engine, self.replica.position,
                                    to_kafka=0 in self.replica.owned)  # fmt: skip
        loop.sink.close()
        loop.source.close()


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> None:
    loop.call_soon_threadsafe(fn, *args)


@dataclass(frozen=True)
class _Shard:
    topic: str
    partition: int


def _broker_urls(bootstrap: str) -> list[str]:
    return [f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip()]


def create_app(
    settings: Settings,
    options: WorkerOptions | None = None,
    *,
    registry: ModelRegistry | None = None,
    engine_factory: Callable[..., Any] | None = None,
    metrics: WorkerMetrics | None = None,
) -> faust.App:
    """A configured faust app for one worker; ``app.alphastream`` is its :class:`StreamWorker`."""
    opts = options or WorkerOptions()
    datadir = settings.data_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        broker=_broker_urls(settings.kafka_bootstrap),
        broker_credentials=credentials(settings),
        autodiscover=False,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=opts.web,
        web_port=opts.web_port,
        topic_allow_declare=False,  # topics are pre-created (tansu, locked-down clusters)
        topic_disable_leader=True,
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="latest",
        datadir=str(datadir),
        store="memory://",
    )
    worker = StreamWorker(app, settings, opts, registry or default_registry(settings),
                          engine_factory or FeatureEngine, metrics or WorkerMetrics())  # fmt: skip
    app.alphastream = worker  # type: ignore[attr-defined]

    async def member(stream: StreamT) -> None:
        async for _ in stream:  # the shard topic carries no data: membership only
            pass

    app.agent(app.topic(opts.topics.shards, schema=RawSchema()), name=f"{settings.app_id}.shards")(
        member
    )

    async def reload_models() -> None:
        worker.reload_models()

    app.timer(max(0.5, settings.model_reload_interval_s / 4), name=f"{settings.app_id}.reload")(
        reload_models
    )
    app.task(worker.start)
    app.task(worker.watch)
    app.on_partitions_revoked.connect(worker.on_partitions_revoked)  # type: ignore[arg-type]
    app.on_partitions_assigned.connect(worker.on_partitions_assigned)  # type: ignore[arg-type]

    async def on_shutdown(sender: Any, *args: Any, **kwargs: Any) -> None:
        await worker.stop()

    app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]
    return app


def credentials(settings: Settings) -> Any:
    """faust's broker credentials from the settings' security options (None: plaintext)."""
    proto = settings.kafka_security_protocol.upper()
    ssl_context = None
    if proto in ("SSL", "SASL_SSL"):
        import ssl

        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        ssl_context = ssl.create_default_context(cafile=cafile)
    if proto.startswith("SASL") and settings.kafka_sasl_username:
        secret = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=secret.get_secret_value() if secret else "",
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=ssl_context,
        )
    return faust.SSLCredentials(ssl_context) if proto == "SSL" else None
