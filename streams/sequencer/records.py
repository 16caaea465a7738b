"""The records the sequencer writes, built from input records (pure; the format is
``streams.contracts.log``).

- event: the input's key, value bytes and timestamp unchanged, headers ``k=event``, ``src``;
- skip: the input's key and timestamp, the dead letter's bytes as value, ``k=skip``, ``src``;
  the same bytes go to the dead-letter topic (the worker's format);
- marker: every input partition's next offset not yet in the log, ``k=marker``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from streams.contracts.events import DeadLetter
from streams.contracts.log import Marker, SourceRef, event_headers, marker_headers, skip_headers
from streams.events.decode import encode
from streams.sequencer.admit import InputRecord


@dataclass(slots=True)
class Outgoing:
    """One record for the market log (and, for a skip, the dead letter to publish with it)."""

    key: bytes | None
    value: bytes
    timestamp_ms: int
    headers: list[tuple[str, bytes]]
    arrival_s: float = 0.0  # when the sequencer consumed the input (monotonic)
    reason: str | None = None  # a skip: the dead letter's reason

    @property
    def is_skip(self) -> bool:
        return self.reason is not None


def source_ref(record: InputRecord) -> SourceRef:
    return SourceRef(record.plan_topic, record.partition, record.offset)


def event_record(record: InputRecord, timestamp_ms: int, arrival_s: float) -> Outgoing:
    headers = event_headers(source_ref(record))
    return Outgoing(record.key, record.value, timestamp_ms, headers, arrival_s)


def skip_record(
    record: InputRecord, letter: DeadLetter, timestamp_ms: int, arrival_s: float
) -> Outgoing:
    headers = skip_headers(source_ref(record))
    return Outgoing(record.key, encode(letter), timestamp_ms, headers, arrival_s, letter.reason)


def marker_record(positions: Mapping[str, int], at_ms: int) -> Outgoing:
    return Outgoing(None, Marker(dict(positions), at_ms).encode(), at_ms, marker_headers())
