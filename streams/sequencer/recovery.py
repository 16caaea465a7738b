"""Where a new leader starts: the market log's tail, folded into input positions.

Pure: the reading is a callable (``read(start, end)`` returns the log's records in that offset
range, in order), so the fold is tested on lists. The tail is read backwards in growing chunks
until a chunk holds a marker (or the log's start is reached); then

- every partition starts at the last marker's position, moved past the ``src`` of every event
  and skip record written after it (``resume_positions``: a partition never moves back);
- the dead letters of the skip records after the marker are published again: the marker is
  written only once every dead letter before it was delivered, so only those after it may have
  been lost with the previous leader (at-least-once, like every dead letter).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from streams.contracts.log import KIND_MARKER, KIND_SKIP, Marker, SourceRef, resume_positions

FIRST_CHUNK = 256
GROWTH = 4


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One market-log record as recovery needs it."""

    offset: int
    kind: bytes | None
    src: SourceRef | None
    key: bytes | None
    value: bytes | None


@dataclass
class Recovery:
    positions: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> next offset
    letters: list[tuple[bytes | None, bytes]] = field(default_factory=list)  # (key, dead letter)
    marker_offset: int | None = None  # the last marker's log offset (None: no marker)
    read: int = 0  # log records read


def chunks(
    low: int, high: int, first: int = FIRST_CHUNK, growth: int = GROWTH
) -> Iterator[tuple[int, int]]:
    """``[start, end)`` ranges from the log's end back to ``low``, each ``growth`` times longer."""
    end, size = high, max(1, first)
    while end > low:
        start = max(low, end - size)
        yield start, end
        end, size = start, size * growth


def fold_tail(entries: Sequence[LogEntry]) -> Recovery:
    """Fold a suffix of the log (in log order) that holds its last marker, or the whole log."""
    last = next(
        (i for i in range(len(entries) - 1, -1, -1) if entries[i].kind == KIND_MARKER), None
    )
    marker = None
    if last is not None:
        value = entries[last].value
        marker = Marker.decode(value) if value is not None else None
    later = entries[last + 1 :] if last is not None else entries
    sources = [e.src for e in later if e.src is not None and e.kind != KIND_MARKER]
    letters = [(e.key, e.value) for e in later if e.kind == KIND_SKIP and e.value is not None]
    return Recovery(
        positions=resume_positions(marker, sources),
        letters=letters,
        marker_offset=entries[last].offset if last is not None else None,
        read=len(entries),
    )


def recover(read: Callable[[int, int], list[LogEntry]], low: int, high: int) -> Recovery:
    """Read the log's tail backwards chunk by chunk until a marker, then fold it."""
    tail: list[LogEntry] = []
    for start, end in chunks(low, high):
        got = read(start, end)
        tail = got + tail
        if any(e.kind == KIND_MARKER for e in got):
            break
    return fold_tail(tail)
