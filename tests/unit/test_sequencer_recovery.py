"""Recovery from the market log's tail: the chunks read backwards, the fold into positions, and
the dead letters published again; and the records the sequencer writes, read back."""

from __future__ import annotations

import itertools

import orjson
from hypothesis import given
from hypothesis import strategies as st

from streams.contracts.events import DeadLetter
from streams.contracts.log import (
    HEADER_KIND,
    HEADER_SOURCE,
    KIND_EVENT,
    KIND_MARKER,
    KIND_SKIP,
    Marker,
    SourceRef,
    header,
)
from streams.events.decode import DecodeError, dead_letter_for
from streams.sequencer.admit import InputRecord
from streams.sequencer.records import Outgoing, event_record, marker_record, skip_record
from streams.sequencer.recovery import LogEntry, chunks, fold_tail, recover


def _entry(offset: int, rec: Outgoing) -> LogEntry:
    src = header(rec.headers, HEADER_SOURCE)
    return LogEntry(
        offset, header(rec.headers, HEADER_KIND), SourceRef.decode(src) if src else None,
        rec.key, rec.value,
    )  # fmt: skip


def _input(partition: int, offset: int, value: bytes = b"{}") -> InputRecord:
    return InputRecord("p.wallet-buy", "wallet-buy", partition, offset, b"mint", value)


def _letter(record: InputRecord) -> DeadLetter:
    return dead_letter_for(
        record.value, DecodeError("bad_json", "x"), topic=record.topic,
        partition=record.partition, offset=record.offset, ts=5, key=record.key,
    )  # fmt: skip


def test_records_carry_the_input_unchanged_and_name_their_source() -> None:
    record = _input(3, 17, b'{"a": 1}')
    event = event_record(record, timestamp_ms=1234, arrival_s=0.5)
    assert (event.key, event.value, event.timestamp_ms) == (b"mint", b'{"a": 1}', 1234)
    assert header(event.headers, HEADER_KIND) == KIND_EVENT
    assert header(event.headers, HEADER_SOURCE) == b"wallet-buy:3:17"  # the plan's name
    skip = skip_record(record, _letter(record), timestamp_ms=1234, arrival_s=0.5)
    assert header(skip.headers, HEADER_KIND) == KIND_SKIP and skip.reason == "bad_json"
    assert orjson.loads(skip.value)["source_offset"] == 17
    marker = marker_record({"wallet-buy:3": 18}, at_ms=99)
    assert header(marker.headers, HEADER_KIND) == KIND_MARKER
    assert Marker.decode(marker.value) == Marker({"wallet-buy:3": 18}, 99)


def test_the_fold_starts_after_the_last_marker_and_republishes_later_letters() -> None:
    bad_early, bad_late = _input(0, 1, b"nope"), _input(1, 5, b"nope")
    log = [
        event_record(_input(0, 0), 1, 0.0),
        skip_record(bad_early, _letter(bad_early), 1, 0.0),
        marker_record({"wallet-buy:0": 2, "wallet-buy:1": 5}, 1),
        event_record(_input(0, 2), 1, 0.0),
        skip_record(bad_late, _letter(bad_late), 1, 0.0),
        event_record(_input(1, 6), 1, 0.0),
    ]
    got = fold_tail([_entry(i, r) for i, r in enumerate(log)])
    assert got.positions == {"wallet-buy:0": 3, "wallet-buy:1": 7}
    assert got.letters == [(b"mint", log[4].value)]  # only the one after the marker
    assert (got.marker_offset, got.read) == (2, 6)


def test_without_a_marker_the_whole_log_is_folded() -> None:
    log = [event_record(_input(0, 0), 1, 0.0), event_record(_input(2, 4), 1, 0.0)]
    got = fold_tail([_entry(i, r) for i, r in enumerate(log)])
    assert got.positions == {"wallet-buy:0": 1, "wallet-buy:2": 5}
    assert got.marker_offset is None
    assert fold_tail([]).positions == {}


@given(st.integers(0, 50), st.integers(0, 5000))
def test_chunks_cover_the_log_backwards_without_gaps(low: int, length: int) -> None:
    ranges = list(chunks(low, low + length, first=8, growth=4))
    assert sum(b - a for a, b in ranges) == length
    if ranges:
        assert ranges[0][1] == low + length and ranges[-1][0] == low
        assert all(prev[0] == nxt[1] for prev, nxt in itertools.pairwise(ranges))


@given(st.lists(st.integers(0, 3), max_size=400), st.integers(0, 400), st.integers(0, 30))
def test_recover_reads_only_back_to_the_last_marker_and_agrees_with_the_whole_fold(
    partitions: list[int], marker_at: int, low: int
) -> None:
    """A log of events over 4 partitions with a marker somewhere (or none); the tail read in
    chunks folds to what folding the whole log gives."""
    log: list[Outgoing] = []
    nxt = [0, 0, 0, 0]
    for i, p in enumerate(partitions):
        if i == marker_at:
            log.append(marker_record({f"wallet-buy:{q}": nxt[q] for q in range(4)}, 1))
        log.append(event_record(_input(p, nxt[p]), 1, 0.0))
        nxt[p] += 1
    entries = [_entry(low + i, r) for i, r in enumerate(log)]
    asked: list[tuple[int, int]] = []

    def read(start: int, end: int) -> list[LogEntry]:
        asked.append((start, end))
        return entries[start - low : end - low]

    got = recover(read, low, low + len(entries))
    assert got.positions == fold_tail(entries).positions
    marked = marker_at < len(partitions)
    assert got.positions == {f"wallet-buy:{q}": n for q, n in enumerate(nxt) if n or marked}
    if marked:  # reading stopped at the chunk that holds the marker
        start, end = asked[-1]
        assert start <= low + marker_at < end
        assert got.marker_offset == low + marker_at
