"""What a checkpoint writer and a restore need of the checkpoint topic, and an in-memory one
(unit tests, benches: the same compacted view as the Kafka topic, without a broker)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from streams.checkpoints.codec import latest_values


class CheckpointTopic(Protocol):
    def read(self, timeout_s: float = 60.0) -> dict[str, bytes]:
        """The compacted view: latest value per key, tombstoned keys dropped."""
        ...

    def write(self, records: Sequence[tuple[str, bytes | None]], timeout_s: float = 60.0) -> None:
        """Deliver ``records`` in order (``None`` value: tombstone), or raise."""
        ...


class MemoryCheckpointTopic:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def read(self, timeout_s: float = 60.0) -> dict[str, bytes]:
        return latest_values(self.records)

    def write(self, records: Sequence[tuple[str, bytes | None]], timeout_s: float = 60.0) -> None:
        self.records += [(key.encode(), value) for key, value in records]
