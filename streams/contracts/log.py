"""The market log's record format: what the sequencer writes and every worker and replay reads.

The log is one partition. Its order is the canonical order of the market: a worker applies every
record in log order, and the offline replay of the same log gives the same state. Each record
carries a kind header:

- ``event``: an input event that passed the decoder. Value and key are the input record's bytes,
  unchanged; the timestamp is the input record's (so produce -> score latency can be read off it);
  the ``src`` header names the input record (plan topic name, partition, offset); ``w`` the
  sequencer's wall-clock ms at writing (for the per-stage latency a worker reports).
- ``skip``: an input record the sequencer dead-lettered. Value: the dead-letter record's bytes
  (the same ones it writes to ``dead-letter``, reason included); key and timestamp: the input's;
  ``src`` names it, so a sequencer taking over knows the record was handled, and can publish
  the letter again if it may have been lost (readers apply nothing of a skip).
- ``marker``: the sequencer's position: for every input partition, the next offset not yet in
  the log (everything before it is at or before the marker). Value: JSON. A new leader starts
  from the last marker plus the ``src`` of every record after it.

Within one input partition the log keeps offset order, so "the last ``src`` seen" of a partition
is where that partition stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import orjson

HEADER_KIND = "k"
HEADER_SOURCE = "src"
HEADER_WRITTEN = "w"  # wall-clock ms the sequencer wrote it (where latency goes, per stage)
KIND_EVENT = b"event"
KIND_SKIP = b"skip"
KIND_MARKER = b"marker"

Headers = Sequence[tuple[str, bytes | None]]


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One input record: plan topic name (no prefix), partition, offset."""

    topic: str
    partition: int
    offset: int

    def encode(self) -> bytes:
        return f"{self.topic}:{self.partition}:{self.offset}".encode()

    @classmethod
    def decode(cls, raw: bytes) -> SourceRef:
        topic, partition, offset = raw.decode().rsplit(":", 2)
        return cls(topic, int(partition), int(offset))

    @property
    def partition_key(self) -> str:
        return f"{self.topic}:{self.partition}"


@dataclass(frozen=True, slots=True)
class Marker:
    """Next offset per input partition (``"topic:partition"``) and the sequencer's clock."""

    positions: Mapping[str, int]
    at_ms: int

    def encode(self) -> bytes:
        return orjson.dumps({"positions": dict(self.positions), "at_ms": self.at_ms})

    @classmethod
    def decode(cls, raw: bytes) -> Marker:
        obj = orjson.loads(raw)
        return cls({str(k): int(v) for k, v in obj["positions"].items()}, int(obj["at_ms"]))


def header(headers: Headers | None, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value
    return None


def event_headers(ref: SourceRef) -> list[tuple[str, bytes]]:
    return [(HEADER_KIND, KIND_EVENT), (HEADER_SOURCE, ref.encode())]


def skip_headers(ref: SourceRef) -> list[tuple[str, bytes]]:
    return [(HEADER_KIND, KIND_SKIP), (HEADER_SOURCE, ref.encode())]


def marker_headers() -> list[tuple[str, bytes]]:
    return [(HEADER_KIND, KIND_MARKER)]


def resume_positions(marker: Marker | None, later_sources: Iterable[SourceRef]) -> dict[str, int]:
    """Where a new leader starts: the last marker, moved past every record written after it."""
    positions = dict(marker.positions) if marker is not None else {}
    for ref in later_sources:
        key = ref.partition_key
        if ref.offset + 1 > positions.get(key, 0):
            positions[key] = ref.offset + 1
    return positions
