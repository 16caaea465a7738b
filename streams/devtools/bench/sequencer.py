"""``alphastream bench sequencer``: the sequencer's CPU per input record without Kafka.

In-memory input records (a simulated market spread over 4 topics x ``partitions``, keyed by
mint like the producers) go through what the leader does with each: ``admit`` (the decoder and
the future-ts check), the log record's construction, the merge's ``add`` and, every ``batch``
records, ``release``. The clock is simulated (every source caught up, each batch released one
hold later), so this times the code, not a wait. CPU time (``process_time``), median of runs.
"""

from __future__ import annotations

import statistics
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from streams.contracts.events import DeadLetter
from streams.sequencer.admit import InputRecord, admit
from streams.sequencer.merge import Merge
from streams.sequencer.records import event_record, skip_record
from streams.topics import BUYS, GENESIS, MIGRATIONS, SELLS

_PLAN_TOPIC = {
    "token_genesis": GENESIS,
    "wallet_buy": BUYS,
    "wallet_sell": SELLS,
    "token_migrated": MIGRATIONS,
}
HOLD_S = 0.002


@dataclass(frozen=True, slots=True)
class SequencerBench:
    records: int
    sources: int
    admit_per_s: float  # decode + future check only
    merge_per_s: float  # add + release only (keys decided beforehand)
    total_per_s: float  # admit + log record + add + release
    us_per_record: float
    runs: int


def input_records(events: Sequence[dict[str, Any]], partitions: int = 6) -> list[InputRecord]:
    """The market as the input consumer would see it: per (topic, partition) offsets from 0."""
    nxt: dict[tuple[str, int], int] = {}
    out = []
    for event in events:
        topic = _PLAN_TOPIC[str(event["type"])]
        key = str(event["mint"]).encode()
        tp = (topic, zlib.crc32(key) % partitions)
        offset = nxt.get(tp, 0)
        nxt[tp] = offset + 1
        out.append(InputRecord(topic, topic, tp[1], offset, key, orjson.dumps(event)))
    return out


def _merge(records: Sequence[InputRecord]) -> Merge[Any]:
    merge: Merge[Any] = Merge(HOLD_S, 0.5)
    for r in records:
        merge.add_source(f"{r.plan_topic}:{r.partition}", 0)
    return merge


def _sequence(records: Sequence[InputRecord], now_ms: int, batch: int) -> int:
    """Everything the leader does per record, on a simulated clock; returns records released."""
    merge = _merge(records)
    names = [f"{r.plan_topic}:{r.partition}" for r in records]
    released, clock = 0, 0.0
    for start in range(0, len(records), batch):
        for i in range(start, min(start + batch, len(records))):
            r, name = records[i], names[i]
            decided = admit(r, now_ms, max_bytes=64 * 1024, max_future_skew_ms=60_000)
            if isinstance(decided, DeadLetter):
                merge.add(name, r.offset, None, clock, skip_record(r, decided, now_ms, clock))
            else:
                merge.add(name, r.offset, decided, clock, event_record(r, now_ms, clock))
            merge.note_highwater(name, r.offset + 1)  # caught up after each record
        clock += HOLD_S
        released += len(merge.release(clock))
    return released


def _merge_only(records: Sequence[InputRecord], keys: Sequence[Any], batch: int) -> int:
    merge = _merge(records)
    names = [f"{r.plan_topic}:{r.partition}" for r in records]
    released, clock = 0, 0.0
    for start in range(0, len(records), batch):
        for i in range(start, min(start + batch, len(records))):
            merge.add(names[i], records[i].offset, keys[i], clock, None)
            merge.note_highwater(names[i], records[i].offset + 1)
        clock += HOLD_S
        released += len(merge.release(clock))
    return released


def _cpu(fn: Any, *args: Any) -> float:
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def bench_sequencer(
    events: Sequence[dict[str, Any]], partitions: int = 6, batch: int = 500, runs: int = 5
) -> SequencerBench:
    records = input_records(events, partitions)
    now_ms = max(int(e["ts"]) for e in events) + 1
    decided = [admit(r, now_ms, max_bytes=64 * 1024, max_future_skew_ms=60_000) for r in records]
    keys = [None if isinstance(d, DeadLetter) else d for d in decided]
    assert _sequence(records, now_ms, batch) == len(records)  # everything comes out
    admit_s = [
        _cpu(
            lambda: [
                admit(r, now_ms, max_bytes=64 * 1024, max_future_skew_ms=60_000) for r in records
            ]
        )
        for _ in range(runs)
    ]
    merge_s = [_cpu(_merge_only, records, keys, batch) for _ in range(runs)]
    total_s = [_cpu(_sequence, records, now_ms, batch) for _ in range(runs)]
    n = len(records)
    total = statistics.median(total_s)
    return SequencerBench(
        records=n,
        sources=len({(r.plan_topic, r.partition) for r in records}),
        admit_per_s=n / statistics.median(admit_s),
        merge_per_s=n / statistics.median(merge_s),
        total_per_s=n / total,
        us_per_record=total / n * 1e6,
        runs=runs,
    )
