"""Shared steps of the connector integration tests: replay a capture through a local websocket
server that drops the connection midway and resends frames, into real Kafka topics; read the
topics back to their high-water marks; have a worker score what arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from streams.app import TopicNames
from streams.devtools.harness import Collector
from streams.devtools.pipeline import InProcessWorker
from streams.events import INPUT_TYPES
from streams.ingest.backoff import BackoffPolicy
from streams.ingest.connector import Connector, ConnectorConfig
from streams.ingest.frames import FrameDecoder
from streams.ingest.metrics import IngestMetrics
from streams.ingest.sinks import KafkaSink
from streams.ingest.testing import ScriptedFeedServer, Session, load_capture
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from streams.topics import DEAD_LETTER
from tests.conftest import unique_id
from tests.waiting import poll_until, wait_until_async

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real-feeds"


@dataclass
class Record:
    topic: str  # without the run's prefix
    key: bytes | None
    value: dict[str, Any]


@dataclass
class FeedRun:
    prefix: str
    settings: Settings
    metrics: IngestMetrics
    source: str
    frames_sent: list[str]  # every frame the server sent, resends included
    unique_frames: list[str]  # the capture once
    resent_frames: list[str]  # sent on both connections
    records: list[Record] = field(default_factory=list)
    delivered: int = 0  # records the sink saw acknowledged (events and dead letters)
    marks: dict[tuple[str, int], int] = field(default_factory=dict)  # partition -> mark read to

    def on(self, topic: str) -> list[Record]:
        return [r for r in self.records if r.topic == topic]


def expected_events(decoder: FrameDecoder, frames: list[str]) -> list[dict[str, Any]]:
    """What the decoder makes of the capture, each frame once (the receive time only feeds ts)."""
    out: list[dict[str, Any]] = []
    for i, frame in enumerate(frames):
        out.extend(decoder.decode(frame, 1_780_000_000_000 + i).events)
    return out


def expected_dead(decoder: FrameDecoder, frames: list[str]) -> int:
    return sum(len(decoder.decode(frame, 1_780_000_000_000).dead) for frame in frames)


def broken_frames(frames: list[str]) -> list[str]:
    """Frames no decoder can map: a truncated real frame, a JSON array, not JSON at all."""
    longest = max(frames, key=len)
    return [longest[: len(longest) // 2], "[1, 2, 3]", "\x00\x01 not json"]


def replay_through_kafka(
    settings: Settings, make_decoder: Callable[[], FrameDecoder], capture: Path, *, resend: int
) -> FeedRun:
    """The capture over two connections: the first drops after half the frames, the second
    starts ``resend`` frames earlier (a reconnect that replays recent frames), after a few
    :func:`broken_frames`."""
    frames = load_capture(capture)
    cut = len(frames) // 2
    second = [*broken_frames(frames), *frames[cut - resend :]]
    sessions = [Session(frames[:cut], "drop"), Session(second, "hold")]
    prefix = unique_id("ingest") + "."
    create_prefixed_topics(settings, prefix)
    decoder = make_decoder()
    run = FeedRun(prefix, settings, IngestMetrics(), decoder.source,
                  [f for s in sessions for f in s.frames], frames, frames[cut - resend : cut])  # fmt: skip
    sink = KafkaSink(settings, topic_prefix=prefix)
    config = ConnectorConfig(url="", silence_s=60.0, seed=1,
                             backoff=BackoffPolicy(base_s=0.05, cap_s=0.2))  # fmt: skip

    async def main() -> None:
        subscribe_count = len(decoder.subscribe_messages())
        async with ScriptedFeedServer(sessions, subscribe_count=subscribe_count) as server:
            connector = Connector(decoder, sink, replace(config, url=server.url), run.metrics)
            stop = asyncio.Event()
            task = asyncio.ensure_future(connector.run(stop))
            frames_in = "alphastream_ingest_frames_total"

            def arrived() -> bool:
                if run.metrics.value(frames_in, source=run.source) >= len(run.frames_sent):
                    return True
                assert not task.done(), "frames did not all arrive (the connector ended)"
                return False

            await wait_until_async(
                arrived, timeout_s=120, what="every frame at the connector", interval_s=0.05
            )
            stop.set()
            await asyncio.wait_for(task, 30)

    asyncio.run(main())
    sink.close()
    run.delivered = sink.delivered
    run.records = read_to_end(settings, prefix, at_least=run.delivered, marks=run.marks)
    return run


_LEADERSHIP_SETTLING = (
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
)


def _high_water(consumer: Consumer, tp: TopicPartition, timeout_s: float = 60.0) -> int:
    """The partition's high-water mark, asking again while leadership settles (a fresh broker
    answers NOT_LEADER_FOR_PARTITION for a moment)."""
    settling: list[KafkaException] = []

    def high_water() -> int | None:  # None: ask again
        try:
            return int(consumer.get_watermark_offsets(tp, 10)[1])
        except KafkaException as exc:
            error = exc.args[0]
            if not (error.retriable() or error.code() in _LEADERSHIP_SETTLING):
                raise
            settling.append(exc)
            return None

    answer = poll_until(
        high_water, until=lambda mark: mark is not None, timeout_s=timeout_s, interval_s=0.2
    )
    if answer is None:
        raise settling[-1]
    return answer


def read_to_end(
    settings: Settings,
    prefix: str,
    at_least: int = 0,
    timeout_s: float = 60.0,
    marks: dict[tuple[str, int], int] | None = None,
) -> list[Record]:
    """Every record on the run's input and dead-letter topics, up to their high-water marks.
    With ``at_least`` (what the producer saw acknowledged) the marks are asked again until that
    many records were read, so a mark answered too early cannot hide a record."""
    names = [prefix + topic for _, topic in INPUT_TYPES.values()] + [prefix + DEAD_LETTER]
    consumer = Consumer({**settings.kafka_client_config(), "group.id": unique_id("read"),
                         "enable.auto.commit": False})  # fmt: skip
    records: list[Record] = []
    done: dict[tuple[str, int], int] = {}  # partition -> next offset to read

    def read_round() -> int:
        ends = _ends(consumer, names)
        _read_until(consumer, ends, done, records, prefix)
        if marks is not None:  # what the last round read to (a failing test shows it)
            marks.clear()
            marks.update(ends)
        return len(records)

    try:
        poll_until(read_round, until=lambda n: n >= at_least, timeout_s=timeout_s, interval_s=0.2)
        return records
    finally:
        consumer.close()


def _ends(consumer: Consumer, names: list[str]) -> dict[tuple[str, int], int]:
    """The high-water mark of every partition of ``names`` that holds a record."""
    meta = consumer.list_topics(timeout=10)
    ends: dict[tuple[str, int], int] = {}
    for name in names:
        for p in meta.topics[name].partitions:
            high = _high_water(consumer, TopicPartition(name, p))
            if high > 0:
                ends[(name, p)] = high
    return ends


def _read_until(consumer: Consumer, ends: dict[tuple[str, int], int],
                done: dict[tuple[str, int], int], records: list[Record], prefix: str) -> None:  # fmt: skip
    """Read each partition from where ``done`` says up to its mark in ``ends``."""
    if not any(done.get(tp, 0) < high for tp, high in ends.items()):
        return
    consumer.assign([TopicPartition(t, p, done.get((t, p), 0)) for (t, p) in ends])
    while any(done.get(tp, 0) < high for tp, high in ends.items()):
        for m in consumer.consume(500, 1.0):
            if m.error() is not None:
                raise RuntimeError(str(m.error()))
            topic, partition = str(m.topic()), int(m.partition() or 0)
            done[(topic, partition)] = int(m.offset() or 0) + 1
            records.append(
                Record(topic.removeprefix(prefix), m.key(), orjson.loads(m.value() or b"{}"))
            )


def score_with_worker(run: FeedRun, buy_ids: set[str], timeout_s: float = 180.0) -> set[str]:
    """Run one worker over the run's topics until every buy in ``buy_ids`` has a score; returns
    the buy ids that got one."""
    topics = TopicNames.prefixed(run.prefix)
    collector = Collector(run.settings, [topics.scores])
    try:
        with InProcessWorker(run.settings, topics):
            collector.wait_for(lambda: collector.has_scored(topics.scores, buy_ids), timeout_s)
    finally:
        collector.close()
    return {s["source_event_id"] for s in collector.records[topics.scores] if s["kind"] == "buy"}
