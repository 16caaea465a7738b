"""One leadership term of the sequencer: recover from the log, then merge and write.

A term starts when this process is assigned the lease and ends when the lease is revoked or
lost (or the process stops). It owns the merge buffer: ending the term drops it, and the next
leader re-reads those records from the inputs at the positions the log shows.

The loop step: take what the input consumer has (``consume(num_messages=...)``), decide each
record once (``admit``), buffer it in the merge, note the partitions' high-water marks from
the last fetch responses, write what the merge releases, and every
``sequencer_marker_interval_s`` write a marker when the positions moved. A marker is written
only when every dead letter produced before it was delivered (recovery republishes only the
letters after the last marker).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from streams.contracts.events import DeadLetter
from streams.contracts.log import HEADER_WRITTEN
from streams.sequencer import kafka_io
from streams.sequencer.admit import InputRecord, admit
from streams.sequencer.merge import Merge
from streams.sequencer.metrics import SequencerMetrics
from streams.sequencer.records import Outgoing, event_record, marker_record, skip_record
from streams.sequencer.recovery import Recovery, recover
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)

BATCH = 1000  # most input records taken per step
MAX_IDLE_S = 0.05  # longest wait in one step (the lease consumer is polled between steps)


@dataclass
class Clients:
    """What a term works with; the service owns and closes them."""

    settings: Settings
    topics: TopicNames
    metrics: SequencerMetrics
    producer: Producer
    inputs: Consumer
    reader: Consumer


class DeliveryFailed(RuntimeError):
    """A log or dead-letter record was not written: the log may have a gap; stop leading."""


class Term:
    def __init__(self, clients: Clients) -> None:
        self.c = clients
        s = clients.settings
        self.merge: Merge[Outgoing] = Merge(
            s.sequencer_hold_ms / 1e3, s.sequencer_max_wait_ms / 1e3
        )
        self.sources: dict[kafka_io.TP, str] = {}  # (topic, partition) -> "plan-topic:partition"
        self._marks: list[tuple[TopicPartition, str]] = []  # built once: read every step
        self.letters_in_flight = 0
        self.failure: KafkaError | None = None
        self.marked: dict[str, int] = {}  # positions of the last marker
        self.next_marker_s = 0.0
        self._counted = (0, 0)  # merge (late, forced) already added to the metrics

    # --- start ----------------------------------------------------------------------------

    def begin(self) -> Recovery:
        """Recover from the log's tail, publish its unsure dead letters, assign the inputs."""
        c = self.c
        low, high = kafka_io.watermarks(c.reader, (c.topics.log, 0))
        recovery = recover(
            lambda a, b: kafka_io.read_range(c.reader, c.topics.log, a, b), low, high
        )
        for key, letter in recovery.letters:
            kafka_io.produce(
                c.producer,
                c.topics.dead_letter,
                letter,
                key or b"",
                _now_ms(),
                None,
                self._on_letter,
            )
            self.letters_in_flight += 1
        c.metrics.republished.inc(len(recovery.letters))
        self._assign(recovery.positions)
        self.marked = self.merge.positions()
        self.next_marker_s = time.monotonic() + c.settings.sequencer_marker_interval_s
        log.info(
            "leading: %d log records read (last marker at %s), %d partitions, %d dead letters again",
            recovery.read, recovery.marker_offset, len(self.sources), len(recovery.letters),
        )  # fmt: skip
        return recovery

    def _assign(self, positions: dict[str, int]) -> None:
        c = self.c
        assignment = []
        for tp in kafka_io.partitions(c.reader, c.topics.inputs):
            name = f"{c.topics.canonical(tp[0])}:{tp[1]}"
            low, high = kafka_io.watermarks(c.reader, tp)
            start = positions.get(name, low)
            if start < low:
                log.warning("%s: resume offset %d was deleted; starting at %d", name, start, low)
                start = low
            elif start > high:  # the topic was emptied or re-created under the same name
                log.warning("%s: resume offset %d is past the end %d", name, start, high)
            self.sources[tp] = name
            # no high-water mark until the consumer's first fetch response for the partition:
            # one asked now goes stale while its fetch is still starting (offset validation,
            # metadata), and records appended meanwhile would look like nothing
            self.merge.add_source(name, start)
            self._marks.append((TopicPartition(tp[0], tp[1]), name))
            assignment.append(TopicPartition(tp[0], tp[1], start))
        c.inputs.assign(assignment)

    # --- the loop step --------------------------------------------------------------------

    def step(self) -> None:
        if self.failure is not None:
            raise DeliveryFailed(str(self.failure))
        now = time.monotonic()
        msgs = kafka_io.take(self.c.inputs, BATCH, self._wait_s(now))
        now = time.monotonic()
        if msgs:
            self._take(msgs, now, _now_ms())
        hold_end = self.merge.first_hold_end()
        if hold_end is not None and now >= hold_end:  # marks matter only to the ready rule
            self._note_highwaters()
        self._write(self.merge.release(now), now)
        self._count_merge()
        if now >= self.next_marker_s:
            self.mark(now)
            self._note_lag()
        self.c.producer.poll(0)
        self.c.metrics.buffered.set(len(self.merge))
        self.c.metrics.steps.inc()

    def _wait_s(self, now: float) -> float:
        wake = self.merge.wake_at()
        until = min(self.next_marker_s, wake if wake is not None else float("inf"))
        hold_end = self.merge.first_hold_end()
        if hold_end is not None and hold_end > now:  # marks are read from then on
            until = min(until, hold_end)
        return max(0.0, min(until - now, MAX_IDLE_S))

    def _take(self, msgs: list[Message], now: float, now_ms: int) -> None:
        c, s = self.c, self.c.settings
        skew_ms = int(s.max_future_skew_s * 1000)
        taken: dict[str, int] = {}  # per plan topic, counted once per step (labels() locks)
        for m in msgs:
            if m.error() is not None:
                log.warning("input: %s", m.error())
                continue
            topic, partition, offset = str(m.topic()), int(m.partition() or 0), int(m.offset() or 0)
            name = self.sources.get((topic, partition))
            if name is None or offset < self.merge.next_offset(name):
                continue  # not ours, or delivered again
            value = m.value() or b""
            record = InputRecord(
                topic, c.topics.canonical(topic), partition, offset, m.key(), value
            )
            taken[record.plan_topic] = taken.get(record.plan_topic, 0) + 1
            ts_type, ts_ms = m.timestamp()
            stamp = ts_ms if ts_type and ts_ms >= 0 else now_ms
            decided = admit(
                record, now_ms, max_bytes=s.max_message_bytes, max_future_skew_ms=skew_ms
            )
            if isinstance(decided, DeadLetter):
                self.merge.add(name, offset, None, now, skip_record(record, decided, stamp, now))
            else:
                self.merge.add(name, offset, decided, now, event_record(record, stamp, now))
        for plan_topic, n in taken.items():
            c.metrics.records_in.labels(plan_topic).inc(n)

    def _note_lag(self) -> None:
        """Consumer lag per input partition (from the cached marks; no broker call)."""
        lag = self.c.metrics.lag
        for tp, name in self._marks:
            high = kafka_io.cached_highwater(self.c.inputs, tp)
            if high is not None:
                lag.labels(tp.topic, str(tp.partition)).set(
                    max(0, high - self.merge.next_offset(name))
                )

    def _note_highwaters(self) -> None:
        inputs, note = self.c.inputs, self.merge.note_highwater
        for tp, name in self._marks:
            high = kafka_io.cached_highwater(inputs, tp)
            if high is not None:
                note(name, high)

    def _write(self, out: list[Outgoing], now: float) -> None:
        c = self.c
        written = [(HEADER_WRITTEN, str(_now_ms()).encode())]
        events = 0
        for rec in out:
            kafka_io.produce(
                c.producer,
                c.topics.log,
                rec.value,
                rec.key,
                rec.timestamp_ms,
                rec.headers + written,
                self._on_log,
            )
            c.metrics.hold.observe(now - rec.arrival_s)
            if rec.reason is None:
                events += 1
                continue
            kafka_io.produce(
                c.producer,
                c.topics.dead_letter,
                rec.value,
                rec.key or b"",
                _now_ms(),
                None,
                self._on_letter,
            )
            self.letters_in_flight += 1
            c.metrics.dead_lettered.labels(rec.reason).inc()
        if events:
            c.metrics.events_written.inc(events)

    def _count_merge(self) -> None:
        stats = self.merge.stats
        late, forced = self._counted
        if (stats.late, stats.forced) == (late, forced):
            return  # the usual step: nothing to add (an inc() takes a lock)
        self.c.metrics.late.inc(stats.late - late)
        self.c.metrics.forced.inc(stats.forced - forced)
        self._counted = (stats.late, stats.forced)

    def mark(self, now: float) -> None:
        """Write a marker when the positions moved and every earlier dead letter is delivered."""
        self.next_marker_s = now + self.c.settings.sequencer_marker_interval_s
        positions = self.merge.positions()
        if positions == self.marked:
            return
        self.c.producer.poll(0)
        if self.letters_in_flight:
            self.next_marker_s = now  # try again next step
            return
        rec = marker_record(positions, _now_ms())
        kafka_io.produce(
            self.c.producer,
            self.c.topics.log,
            rec.value,
            None,
            rec.timestamp_ms,
            rec.headers,
            self._on_log,
        )
        self.marked = positions
        self.c.metrics.markers.inc()

    # --- end ------------------------------------------------------------------------------

    def end(self, final_marker: bool, flush_s: float = 10.0) -> None:
        """Stop writing: deliver what was produced (and, on a clean stop, a last marker)."""
        c = self.c
        c.producer.flush(flush_s)
        if final_marker and self.failure is None:
            self.mark(time.monotonic())
            c.producer.flush(flush_s)
        c.inputs.unassign()
        c.metrics.buffered.set(0)

    # --- deliveries -----------------------------------------------------------------------

    def _on_log(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None and self.failure is None:
            self.failure = err

    def _on_letter(self, err: KafkaError | None, _msg: Any) -> None:
        self.letters_in_flight -= 1
        if err is not None and self.failure is None:
            self.failure = err


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
