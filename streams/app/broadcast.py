"""Group-less reader of the input partitions a worker does not own (and of warm-up ranges).

A confluent-kafka consumer driven from one dedicated thread (every call goes through the same
single-thread executor, so librdkafka never sees two callers at once). It never subscribes and
never commits: ``group.id`` is set only so it can read the group's committed offsets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, TopicPartition

from streams.contracts.types import TP
from streams.settings import Settings

R = TypeVar("R")


class BroadcastReader:
    def __init__(self, settings: Settings, group_id: str) -> None:
        conf: dict[str, Any] = dict(settings.kafka_client_config())
        conf.update(
            {
                "group.id": group_id,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 50,
                "session.timeout.ms": 6000,
            }
        )
        self._consumer = Consumer(conf)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="broadcast")
        self.assigned: set[TP] = set()
        self._cached_marks: dict[TP, int] = {}  # written by the reader thread only
        self._closed = False

    async def _call(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def partitions(self, topics: Iterable[str], timeout_s: float = 10.0) -> list[TP]:
        meta = await self._call(lambda: self._consumer.list_topics(timeout=timeout_s))
        out: list[TP] = []
        for topic in topics:
            tmeta = meta.topics.get(topic)
            if tmeta is None or tmeta.error is not None:
                raise RuntimeError(
                    f"input topic {topic!r} does not exist (create the topic plan first)"
                )
            out.extend((topic, p) for p in sorted(tmeta.partitions))
        return out

    async def committed(self, tps: Iterable[TP], timeout_s: float = 10.0) -> dict[TP, int | None]:
        """The consumer group's committed offset per partition (None when nothing committed)."""
        wanted = [TopicPartition(t, p) for t, p in tps]
        if not wanted:
            return {}
        got = await self._call(lambda: self._consumer.committed(wanted, timeout=timeout_s))
        return {(tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in got}

    async def marks(self, tps: Iterable[TP], timeout_s: float = 10.0) -> dict[TP, tuple[int, int]]:
        """(low, high) offsets per partition, asked of the broker."""

        def ask() -> dict[TP, tuple[int, int]]:
            out = {}
            for t, p in tps:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(t, p), timeout=timeout_s
                )
                out[(t, p)] = (int(low), int(high))
            return out

        return await self._call(ask)

    def highwater(self, tp: TP) -> int | None:
        """End offset seen in the latest fetch response, as noted by the last poll.

        Read on the reader's own thread right after ``consume``: asking librdkafka from the
        event loop contends with the fetch in progress (a third of the loop's time with 2
        workers, measured with py-spy)."""
        return self._cached_marks.get(tp)

    def _note_cached_marks(self) -> None:
        for tp in tuple(self.assigned):  # the loop thread may replace the set meanwhile
            try:
                marks = self._consumer.get_watermark_offsets(TopicPartition(*tp), cached=True)
            except Exception:
                continue
            if marks is not None and marks[1] >= 0:
                self._cached_marks[tp] = int(marks[1])

    def _consume(self, max_messages: int, timeout_s: float) -> list[Message]:
        # consume(n, t) waits until n messages or t: take what is queued now, and block only
        # for the first message when nothing is (a partial batch must not wait out t)
        msgs = self._consumer.consume(max_messages, 0)
        if not msgs:
            msgs = self._consumer.consume(1, timeout_s)
            if msgs and max_messages > 1:
                msgs += self._consumer.consume(max_messages - 1, 0)
        self._note_cached_marks()
        return msgs

    async def assign(self, offsets: dict[TP, int]) -> None:
        """Replace the whole assignment; each partition starts at the given offset."""
        tps = [
            TopicPartition(t, p, o if o >= 0 else OFFSET_BEGINNING) for (t, p), o in offsets.items()
        ]
        await self._call(self._consumer.assign, tps)
        self.assigned = set(offsets)

    async def add(self, offsets: dict[TP, int]) -> None:
        fresh = {tp: o for tp, o in offsets.items() if tp not in self.assigned}
        if fresh:
            tps = [
                TopicPartition(t, p, o if o >= 0 else OFFSET_BEGINNING)
                for (t, p), o in fresh.items()
            ]
            await self._call(self._consumer.incremental_assign, tps)
            self.assigned |= set(fresh)

    async def remove(self, tps: Iterable[TP]) -> None:
        gone = [tp for tp in tps if tp in self.assigned]
        if gone:
            await self._call(
                self._consumer.incremental_unassign, [TopicPartition(t, p) for t, p in gone]
            )
            self.assigned -= set(gone)

    async def poll(
        self, max_messages: int = 1000, timeout_s: float = 0.05
    ) -> tuple[list[Message], set[TP]]:
        """Next messages and the partitions that reached their end (EOF) in this poll."""
        if not self.assigned or self._closed:
            await asyncio.sleep(timeout_s)
            return [], set()
        try:
            msgs = await self._call(self._consume, max_messages, timeout_s)
        except RuntimeError:
            if self._closed:  # closed while this poll was queued: shutting down
                return [], set()
            raise
        data: list[Message] = []
        eof: set[TP] = set()
        for m in msgs:
            err = m.error()
            if err is None:
                data.append(m)
            elif err.code() == KafkaError._PARTITION_EOF:
                eof.add((str(m.topic()), int(m.partition() or 0)))
        return data, eof

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self._call(self._consumer.close)
            self._executor.shutdown(wait=False)
