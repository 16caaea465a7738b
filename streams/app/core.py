"""The per-worker stream core: re-sequence, run the engine, score, build output records.

No Kafka and no faust here: the adapters (``streams.app.faust_app``, ``streams.app.broadcast``)
hand in decoded events with their partition/offset and ack callbacks, and publish what
:meth:`StreamCore.step` returns, running the acks only after the records are delivered.

Ownership. Every worker feeds every input partition through its engine (broadcast state). A
partition is *assigned* when the consumer group gave it to this worker; the engine then tracks
its signals (``owned=True``) so outcomes can be resolved. Outputs are published only for
assigned partitions and only from ``owned_from[tp]`` on (the group's committed offset when the
partition was gained): earlier offsets were served by the previous owner and are replayed only
to rebuild state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

import numpy as np

from streams.app.metrics import WorkerMetrics
from streams.app.ordering import Resequencer
from streams.app.outputs import (
    SignalRowLike,
    build_events,
    headline_scores,
    signal_event_id,
)
from streams.contracts.events import Score
from streams.contracts.types import FAMILY_OF_KIND, TP
from streams.events import InputEvent, Outcome, encode
from streams.events.decode import dead_letter_for
from streams.scoring import BatchScores, RollingPercentile
from streams.topics import (
    TopicNames,
)

log = logging.getLogger(__name__)

AckFn = Callable[[], object]
Record = tuple[str, bytes, bytes]  # topic, key, value


class EngineOutputLike(Protocol):
    signals: Sequence[Any]
    outcomes: Sequence[Outcome]
    duplicates: int  # inputs dropped because their event_id was already applied


class EngineLike(Protocol):
    def process(self, event: InputEvent, owned: bool = True) -> Any: ...


class ScorerLike(Protocol):
    def score_batch(self, family: str, X: np.ndarray) -> BatchScores: ...


@dataclass(slots=True)
class Inbound:
    """One decoded input message waiting for its turn."""

    tp: TP
    offset: int
    event: InputEvent
    key: bytes | None
    payload: bytes
    produced_s: float | None  # Kafka message timestamp (produce time), for e2e latency
    acks: list[AckFn] = field(default_factory=list)


@dataclass(slots=True)
class _GenesisHold:
    ts: int
    publish: bool
    acks: list[AckFn]


@dataclass
class Outbox:
    """Records to publish, then acks to run once they are delivered."""

    records: list[Record] = field(default_factory=list)
    acks: list[AckFn] = field(default_factory=list)
    produced_s: list[float] = field(default_factory=list)  # of each published buy score
    scores: list[Score] = field(default_factory=list)  # the published scores, for the lookup
    scored: int = 0

    def __bool__(self) -> bool:
        return bool(self.records or self.acks)


def dead_letter_record(
    topics: TopicNames, payload: bytes, error: Exception, tp: TP, offset: int, key: bytes | None
) -> Record:
    letter = dead_letter_for(
        payload,
        error,
        topic=tp[0],
        partition=tp[1],
        offset=offset,
        ts=int(time.time() * 1000),
        key=key,
    )
    return (topics.dead_letter, key or b"", encode(letter))


class StreamCore:
    def __init__(
        self,
        engine_factory: Callable[[], EngineLike],
        scorer: ScorerLike,
        feature_set: str,
        metrics: WorkerMetrics,
        topics: TopicNames | None = None,
        *,
        idle_s: float,  # the worker passes Settings.idle_s; no second default here
        settle_s: float = 0.0,
        marks_exact: bool = True,
        max_buffer: int = 200_000,
        genesis_hold_ms: int = 180_000,
    ) -> None:
        self.engine_factory = engine_factory
        self.scorer = scorer
        self.feature_set = feature_set
        self.metrics = metrics
        self.topics = topics or TopicNames()
        self.idle_s = idle_s
        self.settle_s = settle_s
        self.marks_exact = marks_exact
        self.max_buffer = max_buffer
        self.genesis_hold_ms = genesis_hold_ms
        self.assigned: set[TP] = set()
        self.owned_from: dict[TP, int] = {}
        self.percentiles = {kind: RollingPercentile() for kind in FAMILY_OF_KIND}
        self._reset(now=time.monotonic())

    # --- generations ----------------------------------------------------------------------

    def _reset(self, now: float) -> None:
        self.engine = self.engine_factory()
        self.reseq: Resequencer[Inbound] = Resequencer(
            max_buffer=self.max_buffer,
            idle_s=self.idle_s,
            settle_s=self.settle_s,
            marks_exact=self.marks_exact,
        )
        self._pending: dict[tuple[TP, int], Inbound] = {}
        self._genesis: dict[str, _GenesisHold] = {}
        self._handover_ts: dict[int, int] = {}  # partition -> ts of its last replayed event
        self._mint_partition: dict[str, int] = {}
        self._released_next: dict[TP, int] = {}
        self._late_seen = 0
        # every genesis event applied (owned or not) until its hold horizon: for checkpoints
        self._genesis_seen: dict[str, tuple[TP, int, int, str]] = {}  # id -> tp, offset, ts, mint
        self._skip: dict[TP, set[int]] = {}  # applied offsets above a restored resume offset
        self._held_at: dict[tuple[TP, int], str] = {}  # restored genesis hold by its offset

    def rebuild(
        self,
        marks: dict[TP, tuple[int, int]],
        assigned: Iterable[TP],
        owned_from: dict[TP, int],
        now: float,
        engine: EngineLike | None = None,
    ) -> list[AckFn]:
        """Start over with a fresh engine fed from the beginning of every partition.

        ``marks``: tp -> (low, high) offsets; returns acks of dropped buffered items (not to be
        run: the group redelivers them from the committed offset). ``engine``: an empty engine
        to use instead of a new one from the factory (e.g. on a fresh RocksDB state).
        """
        self._reset(now)
        if engine is not None:
            self.engine = engine
        self.assigned = set(assigned)
        self.owned_from = dict(owned_from)
        for tp, (low, high) in marks.items():
            self.reseq.add_source(tp, now, next_offset=low)
            self.reseq.note_highwater(tp, high)
        self.metrics.rebuilds.inc()
        return []

    def restore(
        self,
        engine: EngineLike,
        highs: dict[TP, int],
        start: dict[TP, int],
        skip: dict[TP, tuple[int, ...]],
        assigned: Iterable[TP],
        owned_from: dict[TP, int],
        mint_partition: dict[str, int],
        windows: Iterable[tuple[str, TP, int, int, str]],
        now: float,
    ) -> None:
        """Start over from a checkpointed engine instead of an empty one.

        ``start``: offset per partition where replay resumes, ``skip``: offsets at or after it
        that the checkpoint already applied; ``windows``: its open genesis windows
        ``(event_id, tp, offset, ts, mint)``. Holds are recreated for the assigned partitions'
        windows (published unless the group already committed past them: the previous owner
        scored those), so a genesis window open at the checkpoint is still scored here.
        """
        self._reset(now)
        self.engine = engine
        self.assigned = set(assigned)
        self.owned_from = dict(owned_from)
        self._mint_partition = dict(mint_partition)
        for tp, offset in start.items():
            self.reseq.add_source(tp, now, next_offset=offset)
            self.reseq.note_highwater(tp, highs.get(tp))
            applied = skip.get(tp, ())
            self._released_next[tp] = max([offset, *(o + 1 for o in applied)])
            if applied:
                self._skip[tp] = set(applied)
        for event_id, tp, offset, ts, mint in windows:
            self._genesis_seen[event_id] = (tp, offset, ts, mint)
            if tp in self.assigned:
                publish = offset >= self.owned_from.get(tp, 0)
                self._genesis[event_id] = _GenesisHold(ts, publish, [])
                self._held_at[(tp, offset)] = event_id

    def consistency_point(self) -> tuple[dict[TP, int], dict[TP, tuple[int, ...]]]:
        """Per partition: where replay must resume so that exactly the buffered (not yet applied)
        events are replayed, and the offsets at or after that which are already applied.

        Call between steps. Resume = the smallest buffered offset, else the source's next offset
        (which also counts skipped and dead-lettered messages as applied).
        """
        lowest: dict[TP, int] = {}
        for tp, offset in self._pending:
            if offset < lowest.get(tp, offset + 1):
                lowest[tp] = offset
        resume: dict[TP, int] = {}
        skip: dict[TP, tuple[int, ...]] = {}
        for source, state in self.reseq.sources.items():
            tp = cast(TP, source)
            nxt = state.next_offset
            if nxt is None:
                continue
            first = lowest.get(tp, nxt)
            resume[tp] = first
            applied = {o for o in range(first, nxt) if (tp, o) not in self._pending}
            applied |= {o for o in self._skip.get(tp, ()) if o >= first}
            if applied:
                skip[tp] = tuple(sorted(applied))
        return resume, skip

    def open_genesis_windows(self) -> list[tuple[str, TP, int, int, str]]:
        """``(event_id, tp, offset, ts, mint)`` of every applied genesis (owned or not) whose
        window the engine has not closed yet."""
        tokens = self.engine.state.tokens  # type: ignore[attr-defined]
        out = []
        for event_id, (tp, offset, ts, mint) in self._genesis_seen.items():
            tok = tokens.get(mint)
            if tok is not None and tok.gen_pending and tok.genesis_event_id == event_id:
                out.append((event_id, tp, offset, ts, mint))
        return out

    @property
    def mint_partition(self) -> dict[str, int]:
        return self._mint_partition

    def set_assignment(self, assigned: Iterable[TP], owned_from: dict[TP, int]) -> None:
        """A rebalance that needs no rebuild: revoked partitions just stop being published."""
        self.assigned = set(assigned)
        self.owned_from.update(owned_from)

    def released_next(self, tp: TP) -> int:
        """Offset after the last event of ``tp`` that went through the engine (0 when none)."""
        return self._released_next.get(tp, 0)

    def next_offset(self, tp: TP) -> int | None:
        return self.reseq.next_offset(tp)

    def consumer_lags(self) -> list[tuple[str, int, int]]:
        """(topic, partition, lag) per owned partition with a known high-water mark: messages
        not yet through the engine. Before any event of a partition went through (just
        restored), the lag counts from the offset it is owned from."""
        sources = self.reseq.sources
        out = []
        for tp in sorted(self.assigned):
            state = sources.get(tp)
            if state is not None and state.highwater is not None:
                done = self._released_next.get(tp) or self.owned_from.get(tp, 0)
                out.append((tp[0], tp[1], max(0, state.highwater - done)))
        return out

    # --- input ----------------------------------------------------------------------------

    def accept(self, item: Inbound, now: float) -> list[AckFn]:
        """Buffer one event; returns acks to run right away (duplicates already handled)."""
        if item.tp not in self.reseq.sources:
            self.reseq.add_source(item.tp, now, next_offset=item.offset)
        key = (item.event.ts, item.event.event_id)
        late_before = self.reseq.stats.late
        if self.reseq.push(item.tp, item.offset, key, item, now):
            self._pending[(item.tp, item.offset)] = item
            if self.reseq.stats.late > late_before and self.reseq.stats.late <= 5:
                self._log_late(item, now)
            return []
        return self.accept_duplicate(item.tp, item.offset, item.acks)

    def _log_late(self, item: Inbound, now: float) -> None:
        """The first few late events, with what it takes to tell a producer's out-of-order
        write from a worker-side ordering fault."""
        last = self.reseq.last_released
        source = self.reseq.sources.get(item.tp)
        log.warning(
            "late event %s at %s@%d: ts %d is %d ms behind the last released %s; source "
            "high-water %s, produced %.0f ms ago",
            item.event.event_id,
            item.tp,
            item.offset,
            item.event.ts,
            (last[0] - item.event.ts) if last else 0,
            last[1] if last else None,
            source.highwater if source else None,
            (time.time() - item.produced_s) * 1000.0 if item.produced_s else -1.0,
        )

    def accept_duplicate(self, tp: TP, offset: int, acks: list[AckFn]) -> list[AckFn]:
        """A message already fed by the other consumer: ack it together with the original."""
        waiting = self._pending.get((tp, offset))
        if waiting is not None:
            waiting.acks.extend(acks)
            return []
        held = self._genesis.get(self._held_at.pop((tp, offset), ""))
        if held is not None:  # a restored open genesis window: ack once it is scored
            held.acks.extend(acks)
            return []
        return acks

    def skip(self, tp: TP, offset: int, now: float) -> None:
        """A message that is not an event (dead-lettered) still moves its partition on."""
        state = self.reseq.sources.get(tp)
        if state is not None and (state.next_offset is None or offset >= state.next_offset):
            state.next_offset = offset + 1

    def is_duplicate(self, tp: TP, offset: int) -> bool:
        """Already applied: below the source's next offset, or an offset a restored checkpoint
        had applied out of offset order (consumed here, moving the source past it)."""
        nxt = self.reseq.next_offset(tp)
        if nxt is not None and offset < nxt:
            return True
        skips = self._skip.get(tp)
        if skips and offset in skips:
            skips.discard(offset)
            self.skip(tp, offset, 0.0)  # partitions deliver in offset order: all below arrived
            return True
        return False

    def note_highwater(self, tp: TP, highwater: int | None) -> None:
        self.reseq.note_highwater(tp, highwater)

    # --- processing -----------------------------------------------------------------------

    def marks_to_confirm(self) -> list[TP]:
        """Sources whose release decision rests on looking caught up (or on an unknown mark):
        the worker asks the broker for fresh high-water marks of these before a step. A source
        with a known backlog holds the watermark either way (marks only grow)."""
        return [
            cast(TP, tp)
            for tp, state in self.reseq.sources.items()
            if state.highwater is None or state.caught_up()
        ]

    def step(self, now: float, cutoff: int | None = None) -> Outbox:
        """Release what the watermark allows, run the engine, score, and build the outbox.

        ``cutoff``: a ``reseq.push_mark()`` taken before the high-water marks were refreshed;
        items that arrived after it wait for the next step."""
        released = self.reseq.pop_ready(now, cutoff)
        self.metrics.reorder_buffer.set(len(self.reseq))
        late = self.reseq.stats.late
        if late > self._late_seen:
            self.metrics.late_events.inc(late - self._late_seen)
            self._late_seen = late
        box = Outbox()
        if not released:
            return box
        rows: dict[str, list[tuple[SignalRowLike, float | None]]] = {"buy": [], "genesis": []}
        watermark_ts = released[-1].event.ts
        for item in released:
            self._run_one(item, rows, box)
        self._expire_genesis_holds(watermark_ts, box)
        for kind, kind_rows in rows.items():
            if kind_rows:
                self._score(kind, kind_rows, box)
        return box

    def _run_one(
        self, item: Inbound, rows: dict[str, list[tuple[SignalRowLike, float | None]]], box: Outbox
    ) -> None:
        tp, offset, event = item.tp, item.offset, item.event
        self._pending.pop((tp, offset), None)
        self._released_next[tp] = max(self._released_next.get(tp, 0), offset + 1)
        self._mint_partition[event.mint] = tp[1]
        if event.type == "token_genesis":  # a duplicate (other offset) keeps the original's
            self._genesis_seen.setdefault(event.event_id, (tp, offset, event.ts, event.mint))
        tracked = tp in self.assigned
        publish = tracked and offset >= self.owned_from.get(tp, 0)
        if tracked and not publish:
            self._handover_ts[tp[1]] = max(self._handover_ts.get(tp[1], 0), event.ts)
        try:
            out = self.engine.process(event, owned=tracked)
        except Exception as exc:  # valid by schema but unusable: dead-letter, keep going
            log.warning("engine rejected %s at %s@%d: %s", event.event_id, tp, offset, exc)
            if publish:
                box.records.append(
                    dead_letter_record(self.topics, item.payload, exc, tp, offset, item.key)
                )
                self.metrics.dead_lettered.labels("processing_error").inc()
            box.acks.extend(item.acks)
            return
        if out.duplicates:  # the engine had applied this event_id (another offset): done
            self.metrics.duplicate_events.inc(out.duplicates)
            box.acks.extend(item.acks)
            return
        if event.type == "token_genesis" and tracked:
            # keep the ack until the genesis window is scored, so a crash cannot lose it
            self._genesis[event.event_id] = _GenesisHold(event.ts, publish, list(item.acks))
        else:
            box.acks.extend(item.acks)
        for row in out.signals:
            if row.kind == "genesis":
                hold = self._genesis.pop(row.event_id.removesuffix(":g60"), None)
                if hold is not None:
                    box.acks.extend(hold.acks)
                if hold is not None and hold.publish:
                    rows["genesis"].append((row, None))
            elif publish:
                rows["buy"].append((row, item.produced_s))
        for outcome in out.outcomes:
            if self._publish_outcome(outcome):
                # outcomes name the published signal event (":f"), which store + monitor join on
                served = replace(outcome, signal_event_id=signal_event_id(outcome.signal_event_id))
                box.records.append((self.topics.outcomes, outcome.mint.encode(), encode(served)))
                self.metrics.outcomes.inc()

    def _publish_outcome(self, outcome: Outcome) -> bool:
        part = self._mint_partition.get(outcome.mint)
        if part is None or (self.topics.buys, part) not in self.assigned:
            return False  # another worker owns this token now
        # resolved before the handover: the previous owner already published it
        return outcome.ts > self._handover_ts.get(part, -1)

    def _expire_genesis_holds(self, watermark_ts: int, box: Outbox) -> None:
        horizon = watermark_ts - self.genesis_hold_ms
        for event_id in [e for e, h in self._genesis.items() if h.ts < horizon]:
            box.acks.extend(self._genesis.pop(event_id).acks)
        seen = self._genesis_seen
        for event_id in [e for e, g in seen.items() if g[2] < horizon]:
            del seen[event_id]

    def _score(
        self, kind: str, rows: list[tuple[SignalRowLike, float | None]], box: Outbox
    ) -> None:
        family = FAMILY_OF_KIND[kind]
        signal_rows = [r for r, _ in rows]
        X = np.vstack([r.features for r in signal_rows])
        started = time.perf_counter()
        batch = self.scorer.score_batch(family, X)
        self.metrics.score_latency.labels(family).observe(time.perf_counter() - started)
        self.metrics.batch_size.labels(family).observe(len(signal_rows))
        tracker = self.percentiles[kind]
        heads = headline_scores(batch)
        pct: list[float | None] = [
            tracker.update(int(r.ts), float(h)) if np.isfinite(h) else None
            for r, h in zip(signal_rows, heads, strict=True)
        ]
        scored_at = int(time.time() * 1000)
        for (score, signal), (_, produced) in zip(
            build_events(signal_rows, batch, pct, scored_at, self.feature_set), rows, strict=True
        ):
            key = score.mint.encode()
            box.records.append((self.topics.scores, key, encode(score)))
            box.scores.append(score)
            box.records.append((self.topics.signals, key, encode(signal)))
            if produced is not None:
                box.produced_s.append(produced)
        box.scored += len(rows)
        self.metrics.scored.labels(kind).inc(len(rows))
