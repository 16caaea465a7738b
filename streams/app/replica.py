"""The worker's core: apply the market log to the engine, publish only what this worker owns.

No Kafka and no threads: the loop hands it log records and the wall time (which only ages the
handover buffer and stamps ``scored_at``), it hands back the records to publish. Every worker runs the same log through the same engine, so every
worker holds the same state (state-machine replication); ownership only decides which outputs a
worker scores and publishes. Outputs of shards this worker does not own wait in the
:class:`~streams.app.handover.HandoverBuffer`; :meth:`Replica.take_over` publishes what a
previous owner had not.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple, Protocol

import numpy as np

from streams.app.handover import (
    OUTCOMES,
    ROWS,
    HandoverBuffer,
    Held,
    Mark,
    ShardProgress,
    encode_mark,
)
from streams.app.metrics import WorkerMetrics
from streams.app.outputs import build_events, headline_scores, signal_event_id
from streams.app.shards import ShardMap
from streams.contracts.events import Score
from streams.contracts.log import KIND_EVENT, SourceRef
from streams.contracts.types import FAMILY_OF_KIND
from streams.events import DecodeError, InputEvent, Outcome, decode_input, encode
from streams.events.decode import dead_letter_for
from streams.scoring import BatchScores, RollingPercentile
from streams.topics import TopicNames

log = logging.getLogger(__name__)

MARK_HEADER = "mark"


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One market-log record as the worker reads it."""

    offset: int
    kind: bytes
    key: bytes | None
    value: bytes | None
    timestamp_ms: int
    source: SourceRef | None
    written_ms: int | None = None  # when the sequencer wrote it (wall clock), if it says


class Output(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] | None
    produced_ms: int | None  # a buy score: when its buy was produced (latency), else None


@dataclass(slots=True)
class Outbox:
    outputs: list[Output] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    scored: int = 0

    def extend(self, other: Outbox) -> None:
        self.outputs.extend(other.outputs)
        self.scores.extend(other.scores)
        self.scored += other.scored


class EngineLike(Protocol):
    state: Any

    @property
    def watermark(self) -> int: ...

    def process(self, event: InputEvent, owned: bool = True) -> Any: ...


class ScorerLike(Protocol):
    def score_batch(self, family: str, X: np.ndarray) -> BatchScores: ...


@dataclass(slots=True)
class _Step:
    """The outputs of one apply() call this worker publishes now, by stream."""

    rows: dict[str, list[Held]] = field(default_factory=lambda: {"buy": [], "genesis": []})
    outcomes: list[Held] = field(default_factory=list)
    box: Outbox = field(default_factory=Outbox)
    events_in: dict[str, int] = field(default_factory=dict)  # by plan topic


class Replica:
    def __init__(
        self,
        engine: EngineLike,
        scorer: ScorerLike,
        *,
        feature_set: str,
        topics: TopicNames,
        shards: ShardMap,
        buffer: HandoverBuffer,
        metrics: WorkerMetrics,
        position: int = 0,
        max_message_bytes: int = 64 * 1024,
    ) -> None:
        self.engine = engine
        self.scorer = scorer
        self.feature_set = feature_set
        self.topics = topics
        self.shards = shards
        self.buffer = buffer
        self.metrics = metrics
        self.position = position  # the next log offset to apply
        self.max_message_bytes = max_message_bytes
        self.owned: dict[int, ShardProgress] = {}  # shard -> publish only after this progress
        self.percentiles = {kind: RollingPercentile() for kind in FAMILY_OF_KIND}
        self._late_seen = getattr(getattr(engine, "stats", None), "late_events", 0)
        self._by_kind = {  # the labelled metrics a batch updates, looked up once
            kind: (metrics.score_latency.labels(f), metrics.batch_size.labels(f),
                   metrics.scored.labels(kind))
            for kind, f in FAMILY_OF_KIND.items()
        }  # fmt: skip

    # --- ownership --------------------------------------------------------------------------

    def take_over(self, progress: Mapping[int, ShardProgress], now_s: float) -> Outbox:
        """Own these shards from now on; publish what they hold after each shard's progress."""
        taken = self.buffer.take(progress)
        if taken.gaps:
            log.warning("%d shard streams taken over with a gap (held outputs evicted)", taken.gaps)
            self.metrics.handover_gaps.inc(taken.gaps)
        self.owned.update(progress)
        step = _Step()
        for held in taken.held:
            self._route_owned(held, step)
        self.metrics.handover_published.inc(len(taken.held))
        self._finish(step)
        self.metrics.owned_shards.set(len(self.owned))
        return step.box

    def hand_off(self, shards: Sequence[int]) -> None:
        """Stop publishing these shards (their outputs are held from the next record on)."""
        for shard in shards:
            self.owned.pop(shard, None)
        self.metrics.owned_shards.set(len(self.owned))

    # --- the log ----------------------------------------------------------------------------

    def apply(self, records: Sequence[LogRecord], now_s: float) -> Outbox:
        step = _Step()
        started = time.thread_time()  # CPU, not wall: a starved thread must not look busy
        for record in records:
            if record.offset < self.position:
                continue  # read twice (a re-seek): already applied
            self.position = record.offset + 1
            if record.kind == KIND_EVENT and record.value is not None:
                self._apply_event(record, now_s, step)
        self.buffer.evict(now_s)
        applied = time.thread_time()
        for topic, n in step.events_in.items():
            self.metrics.events_in.labels(topic, "log").inc(n)
        late = getattr(getattr(self.engine, "stats", None), "late_events", 0)
        if late > self._late_seen:  # applied below the engine's watermark (clamped, counted)
            self.metrics.late_events.inc(late - self._late_seen)
            self._late_seen = late
        self.metrics.handover_rows.set(len(self.buffer))
        self.metrics.log_position.set(self.position)
        self._finish(step)
        self.metrics.replicated_seconds.inc(applied - started)
        self.metrics.owned_seconds.inc(time.thread_time() - applied)
        return step.box

    def _apply_event(self, record: LogRecord, now_s: float, step: _Step) -> None:
        assert record.value is not None
        topic = record.source.topic if record.source is not None else None
        try:
            event = decode_input(record.value, topic, self.max_message_bytes)
            out = self.engine.process(event)
        except Exception as exc:  # the sequencer passed it, so the engine refused it
            self._dead_letter(record, exc, step)
            return
        step.events_in[topic or "unknown"] = step.events_in.get(topic or "unknown", 0) + 1
        if out.duplicates:
            self.metrics.duplicate_events.inc(out.duplicates)
            return
        offset = record.offset
        for ordinal, row in enumerate(out.signals):
            produced = record.timestamp_ms if row.kind == "buy" else None
            held = Held(self.shards.of(row.mint), ROWS, (offset, ordinal), row, produced, now_s)
            self._route(held, step)
        for ordinal, outcome in enumerate(out.outcomes):
            held = Held(self.shards.of(outcome.mint), OUTCOMES, (offset, ordinal), outcome, None,
                        now_s)  # fmt: skip
            self._route(held, step)

    def _route(self, held: Held, step: _Step) -> None:
        progress = self.owned.get(held.shard)
        if progress is None:
            self.buffer.hold(held)
        elif held.mark > progress.of(held.stream):
            self._route_owned(held, step)
        # else: the previous owner published it already (this worker is replaying behind it)

    def _route_owned(self, held: Held, step: _Step) -> None:
        if held.stream == ROWS:
            step.rows[held.item.kind].append(held)
        else:
            step.outcomes.append(held)

    def _dead_letter(self, record: LogRecord, exc: Exception, step: _Step) -> None:
        shard = self.shards.of(record.key.decode(errors="replace")) if record.key else 0
        if shard not in self.owned:
            return  # the owner of its shard writes it
        reason = exc.reason if isinstance(exc, DecodeError) else "processing_error"
        log.warning("log record %d refused: %s", record.offset, exc)
        src = record.source
        letter = dead_letter_for(
            record.value or b"", exc, topic=src.topic if src else self.topics.log,
            partition=src.partition if src else 0, offset=src.offset if src else record.offset,
            ts=int(time.time() * 1000), key=record.key,
        )  # fmt: skip
        payload = encode(letter)
        step.box.outputs.append(Output(self.topics.dead_letter, record.key, payload, None, None))
        self.metrics.dead_lettered.labels(reason).inc()

    # --- scoring and encoding ---------------------------------------------------------------

    def _finish(self, step: _Step) -> None:
        """Score each family in one call, then emit in mark order (the progress rule needs a
        shard's outputs on the broker in mark order, across families)."""
        scored: list[tuple[Mark, Output, Output, Score]] = []
        for kind, rows in step.rows.items():
            if rows:
                scored += self._score(kind, rows)
        scored.sort(key=lambda item: item[0])
        box = step.box
        for _, score_out, signal_out, score in scored:
            box.outputs += (score_out, signal_out)
            box.scores.append(score)
        box.scored += len(scored)
        for held in step.outcomes:
            outcome: Outcome = held.item
            # outcomes name the published signal event (":f"), which store + monitor join on
            served = replace(outcome, signal_event_id=signal_event_id(outcome.signal_event_id))
            box.outputs.append(Output(self.topics.outcomes, outcome.mint.encode(), encode(served),
                                      _headers(held.mark), None))  # fmt: skip
        if step.outcomes:
            self.metrics.outcomes.inc(len(step.outcomes))

    def _score(self, kind: str, rows: list[Held]) -> list[tuple[Mark, Output, Output, Score]]:
        family = FAMILY_OF_KIND[kind]
        signal_rows = [h.item for h in rows]
        latency, batch_size, scored = self._by_kind[kind]
        features = np.vstack([r.features for r in signal_rows])
        started = time.perf_counter()
        batch = self.scorer.score_batch(family, features)
        latency.observe(time.perf_counter() - started)
        batch_size.observe(len(rows))
        tracker = self.percentiles[kind]
        pct: list[float | None] = [
            tracker.update(int(r.ts), h) if math.isfinite(h) else None
            for r, h in zip(signal_rows, headline_scores(batch).tolist(), strict=True)
        ]
        scored_at = int(time.time() * 1000)
        out = []
        events = build_events(signal_rows, batch, pct, scored_at, self.feature_set, features)
        for (score, signal), held in zip(events, rows, strict=True):
            key, headers = score.mint.encode(), _headers(held.mark)
            out.append((held.mark,
                        Output(self.topics.scores, key, encode(score), headers, held.produced_ms),
                        Output(self.topics.signals, key, encode(signal), headers, None), score))  # fmt: skip
        scored.inc(len(rows))
        return out


def _headers(mark: Mark) -> list[tuple[str, bytes]]:
    return [(MARK_HEADER, encode_mark(mark))]
