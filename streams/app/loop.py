"""The worker's hot loop: read a batch of the market log, step the replica, publish. One thread.

Everything that changes the replica happens here, between steps: ownership changes and model
reloads arrive as commands from the faust event loop (rebalance callbacks, timers), so the
replica never needs a lock. The loop reads nothing until the first assignment is taken over, so
a fresh worker publishes its shards' outputs from the start of the log instead of holding them.
"""

from __future__ import annotations

import cProfile
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from streams.app.handover import ShardProgress
from streams.app.logsource import LogSource
from streams.app.metrics import WorkerMetrics
from streams.app.replica import LogRecord, Outbox, Replica
from streams.app.sink import Sink
from streams.checkpoints import Checkpointer
from streams.contracts.events import Score
from streams.contracts.log import KIND_EVENT
from streams.heap import GcPauses, HeapKeeper

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TakeOver:
    progress: Mapping[int, ShardProgress]


@dataclass(frozen=True, slots=True)
class HandOff:
    shards: Sequence[int]
    done: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True, slots=True)
class Call:
    """Run ``fn`` in the loop's thread between steps (model reloads)."""

    fn: Callable[[], None]


Command = TakeOver | HandOff | Call


@dataclass(slots=True)
class LoopState:
    """What the loop has done, for readiness, the HTTP surface and the tests."""

    assigned: bool = False  # the first assignment has been taken over
    caught_up: bool = False  # the log was read to its end at least once since starting
    steps: int = 0
    applied: int = 0
    failed: BaseException | None = None


class HotLoop:
    def __init__(
        self,
        replica: Replica,
        source: LogSource,
        sink: Sink,
        *,
        metrics: WorkerMetrics,
        on_scores: Callable[[list[Score], float], None] | None = None,
        checkpointer: Checkpointer | None = None,
        heap: HeapKeeper | None = None,
        batch: int = 500,
        read_timeout_s: float = 0.05,
        profile_path: str | None = None,
    ) -> None:
        self.replica = replica
        self.source = source
        self.sink = sink
        self.on_scores = on_scores  # the HTTP view, updated on its own event loop
        self.metrics = metrics
        self.checkpointer = checkpointer
        self.heap = heap or HeapKeeper(0.0)  # freezes the heap between steps (streams.heap)
        self.batch = batch
        self.read_timeout_s = read_timeout_s
        self.profile_path = profile_path  # cProfile of this thread's CPU time, written at exit
        self.state = LoopState()
        self._sequencer_stage = metrics.stage_latency.labels("sequencer")
        self._log_stage = metrics.stage_latency.labels("log")
        self.commands: queue.SimpleQueue[Command] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- from other threads -----------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="hot-loop", daemon=True)
        self._thread.start()

    def submit(self, command: Command) -> None:
        self.commands.put(command)

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> None:
        profiler = cProfile.Profile(time.thread_time) if self.profile_path else None
        if profiler is not None:
            profiler.enable()
        pauses = GcPauses(self.metrics.gc_pauses)
        self.heap.settle()  # restored state and loaded models: collected once, then frozen
        try:
            while not self._stop.is_set():
                self.step()
        except BaseException as exc:  # the worker reports it and exits non-zero
            log.exception("the hot loop failed")
            self.state.failed = exc
        finally:
            self.sink.poll()
            self._release_heap()
            pauses.close()
            if profiler is not None and self.profile_path:
                profiler.disable()
                profiler.dump_stats(self.profile_path)

    def step(self) -> None:
        """Serve commands, then read, apply and publish one batch (the unit tests call this)."""
        self._serve_commands(block=not self.state.assigned)
        if not self.state.assigned:
            return
        records = self.source.read(self.batch, self.read_timeout_s)
        now = time.time()
        if records:
            self._stages(records, now)
            started = time.perf_counter()
            box = self.replica.apply(records, now)
            self.metrics.step_seconds.observe(time.perf_counter() - started)
            self._publish(box, now)
            self.state.applied += len(records)
        else:
            self.state.caught_up = True
            self.replica.buffer.evict(now)
        self.state.steps += 1
        self.sink.poll()
        self._lag()
        self.heap.tick(time.monotonic())
        checkpointer = self.checkpointer
        if checkpointer is not None and checkpointer.due(time.monotonic()):
            started = time.perf_counter()
            if checkpointer.take(self.replica.engine, self.replica.position,
                                 to_kafka=0 in self.replica.owned):  # fmt: skip
                stall = self.metrics.checkpoint_stall.labels(checkpointer.serialized_in)
                stall.observe(time.perf_counter() - started)

    def _release_heap(self) -> None:
        if self.heap.on:
            frozen = self.heap.frozen()
            unreachable = self.heap.release()
            log.info("heap at exit: %d objects were frozen; a full collection found %d "
                     "unreachable (cycles the freezes kept, and the loop's last garbage)",
                     frozen, unreachable)  # fmt: skip

    def _serve_commands(self, block: bool) -> None:
        while True:
            try:
                command = self.commands.get(timeout=0.1) if block else self.commands.get_nowait()
            except queue.Empty:
                return
            self._serve(command)
            block = False

    def _serve(self, command: Command) -> None:
        if isinstance(command, TakeOver):
            now = time.time()
            self._publish(self.replica.take_over(command.progress, now), now)
            self.state.assigned = True
            self.metrics.planned.set(1)
        elif isinstance(command, HandOff):
            self.replica.hand_off(command.shards)
            self.metrics.planned.set(0)
            self.sink.flush(30.0)  # the next owner reads our progress off the broker
            command.done.set()
        else:
            command.fn()

    def _publish(self, box: Outbox, now: float) -> None:
        if box.outputs:
            started = time.thread_time()
            self.sink.send(box.outputs)
            self.metrics.owned_seconds.inc(time.thread_time() - started)
        if box.scores and self.on_scores is not None:
            self.on_scores(box.scores, now)

    def _stages(self, records: Sequence[LogRecord], now: float) -> None:
        """Per-stage latency of the batch's newest event (one sample per step)."""
        last = records[-1]
        if last.written_ms is not None and last.kind == KIND_EVENT:
            now_ms = now * 1000.0
            self._sequencer_stage.observe(max(0.0, last.written_ms - last.timestamp_ms) / 1000.0)
            self._log_stage.observe(max(0.0, now_ms - last.written_ms) / 1000.0)

    def _lag(self) -> None:
        end = self.source.end_offset()
        if end is not None:
            lag = max(0, end - self.replica.position)
            self.metrics.consumer_lag.labels(self.replica.topics.log, "0").set(lag)
