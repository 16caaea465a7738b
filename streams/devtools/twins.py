"""The worker's adapters in memory: the market log, the output sink and the reader of published
progress, so the worker's core and its hot loop run in unit tests without a broker."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from streams.app.handover import NOTHING, Mark, ShardProgress, decode_mark
from streams.app.progress import combine
from streams.app.replica import MARK_HEADER, LogRecord, Output
from streams.app.shards import partition_of
from streams.topics import TopicNames


class MemoryLogSource:
    """A log in a list (unit tests): ``append`` records, ``read`` them from a position."""

    def __init__(self, records: Iterable[LogRecord] = (), start: int = 0) -> None:
        self.records: list[LogRecord] = list(records)
        self.next = start
        self.closed = False

    def append(self, records: Sequence[LogRecord]) -> None:
        self.records.extend(records)

    def read(self, max_records: int, timeout_s: float) -> list[LogRecord]:
        batch = [r for r in self.records[self.next : self.next + max_records]]
        self.next += len(batch)
        return batch

    def end_offset(self) -> int | None:
        return len(self.records)

    def close(self) -> None:
        self.closed = True


class MemorySink:
    """Outputs kept in a list with the partition Kafka would give them (unit tests)."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.outputs: list[tuple[int, Output]] = []
        self.closed = False

    def send(self, outputs: Sequence[Output]) -> None:
        for out in outputs:
            part = partition_of(out.key, self.partitions) if out.key else 0
            self.outputs.append((part, out))

    def poll(self) -> None:
        return None

    def flush(self, timeout_s: float) -> int:
        return 0

    def close(self) -> None:
        self.closed = True

    def marks(self, topic: str) -> dict[int, Mark]:
        """The newest mark per partition of ``topic`` (what a progress reader would find)."""
        last: dict[int, Mark] = {}
        for part, out in self.outputs:
            if out.topic == topic and out.headers:
                mark = decode_mark(dict(out.headers).get(MARK_HEADER))
                last[part] = max(last.get(part, mark), mark)
        return last


class MemoryProgressReader:
    """Progress from outputs kept in memory (unit tests): the newest mark per (topic, partition)."""

    def __init__(self, topics: TopicNames) -> None:
        self.topics = topics
        self.last: dict[tuple[str, int], Mark] = {}

    def note(self, topic: str, partition: int, mark: Mark) -> None:
        self.last[(topic, partition)] = max(self.last.get((topic, partition), NOTHING), mark)

    def read(self, shards: Iterable[int]) -> dict[int, ShardProgress]:
        return combine(self.last, self.topics, shards)
