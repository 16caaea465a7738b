"""Offline replay: an events JSONL file through the feature engine into Parquet training tables.

``replay(events_path, out_dir)`` writes

- ``buys.parquet`` / ``genesis.parquet``: one row per signal (event_id, ts, mint, wallet,
  creator, price, the registry's features as float64 columns, then the labels as nullable int8,
  the peaks, ``min_1h`` and ``label_resolved_ts``; labels are null when unresolved at end of data),
- ``outcomes.jsonl``: every outcome event,
- ``dead_letter.jsonl``: lines that failed to decode, with the reason,
- ``replay_meta.json``: feature set, counts and throughput.

Memory stays bounded on canonically ordered input (the simulator's): events stream through the
engine, feature rows go to Parquet in row groups, and only a small label record per signal is
held until the end, when the label columns are joined in one row group at a time. Input that is
not in ``(ts, event_id)`` order is detected and then loaded and sorted in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from streams.contracts.features import (
    FEATURE_SET_VERSION,
    GENESIS_NAMES,
    LABELS,
    PEAK_HORIZONS_MS,
    STANDARD_NAMES,
)
from streams.events import DecodeError, InputEvent, Outcome, decode_input, encode
from streams.events.decode import dead_letter_for
from streams.features.engine import EngineConfig, EngineOutput, FeatureEngine, SignalRow

LABEL_NAMES: tuple[str, ...] = tuple(LABELS)
PEAK_NAMES: tuple[str, ...] = (*PEAK_HORIZONS_MS, "min_1h")
ROW_GROUP_ROWS = 50_000

Progress = Callable[[int], None]  # called with bytes read so far


@dataclass(slots=True)
class ReplaySummary:
    events: int = 0
    bad_lines: int = 0
    buy_signals: int = 0
    genesis_signals: int = 0
    outcomes: int = 0
    late_events: int = 0
    resorted: bool = False
    seconds_total: float = 0.0
    seconds_engine: float = 0.0
    events_per_s: float = 0.0
    engine_events_per_s: float = 0.0
    feature_set: str = FEATURE_SET_VERSION
    engine_stats: dict[str, int] = field(default_factory=dict)


class _SignalWriter:
    """Buffers signal rows of one kind and writes them as row groups of a features-only file."""

    def __init__(self, path: Path, names: tuple[str, ...]) -> None:
        self.path = path
        self.names = names
        self.rows: list[SignalRow] = []
        self.count = 0
        self._writer: pq.ParquetWriter | None = None
        self.schema = pa.schema(
            [
                ("event_id", pa.string()), ("ts", pa.int64()), ("mint", pa.string()),
                ("wallet", pa.string()), ("creator", pa.string()), ("price", pa.float64()),
                *((n, pa.float64()) for n in names),
            ]
        )  # fmt: skip

    def add(self, row: SignalRow) -> None:
        self.rows.append(row)
        if len(self.rows) >= ROW_GROUP_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows and self._writer is not None:
            return
        rows, self.rows = self.rows, []
        matrix = np.vstack([r.features for r in rows]) if rows else np.empty((0, len(self.names)))
        columns: list[Any] = [
            pa.array([r.event_id for r in rows], pa.string()),
            pa.array([r.ts for r in rows], pa.int64()),
            pa.array([r.mint for r in rows], pa.string()),
            pa.array([r.wallet for r in rows], pa.string()),
            pa.array([r.creator for r in rows], pa.string()),
            pa.array([r.price for r in rows], pa.float64()),
            *(pa.array(matrix[:, j], pa.float64()) for j in range(len(self.names))),
        ]
        table = pa.Table.from_arrays(columns, schema=self.schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema)
        self._writer.write_table(table)
        self.count += len(rows)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()


class _LabelBook:
    """Per signal: labels, peaks, min_1h and the label resolution time (small, kept to the end)."""

    def __init__(self) -> None:
        self.records: dict[str, list[Any]] = {}

    def add(self, outcome: Outcome) -> None:
        rec = self.records.get(outcome.signal_event_id)
        if rec is None:
            rec = [None] * (len(LABEL_NAMES) + len(PEAK_NAMES) + 1)
            self.records[outcome.signal_event_id] = rec
        if outcome.stage == "1h":
            for i, name in enumerate(LABEL_NAMES):
                rec[i] = int(outcome.labels[name])
            rec[-1] = outcome.ts
        base = len(LABEL_NAMES)
        for j, name in enumerate(PEAK_NAMES):
            value = getattr(outcome, name)
            if value is not None:
                rec[base + j] = value

    def columns(self, event_ids: list[str]) -> list[tuple[str, pa.Array]]:
        empty = [None] * (len(LABEL_NAMES) + len(PEAK_NAMES) + 1)
        recs = [self.records.get(e, empty) for e in event_ids]
        out: list[tuple[str, pa.Array]] = []
        for i, name in enumerate(LABEL_NAMES):
            out.append((name, pa.array([r[i] for r in recs], pa.int8())))
        base = len(LABEL_NAMES)
        for j, name in enumerate(PEAK_NAMES):
            out.append((name, pa.array([r[base + j] for r in recs], pa.float64())))
        out.append(("label_resolved_ts", pa.array([r[-1] for r in recs], pa.int64())))
        return out


def _join_labels(
    features_path: Path, final_path: Path, book: _LabelBook, schema: pa.Schema
) -> None:
    """Copy the features file row group by row group, appending the label columns."""
    writer: pq.ParquetWriter | None = None
    if features_path.exists():
        source = pq.ParquetFile(features_path)
        for g in range(source.num_row_groups):
            table = source.read_row_group(g)
            for name, column in book.columns(table.column("event_id").to_pylist()):
                table = table.append_column(pa.field(name, column.type), column)
            if writer is None:
                writer = pq.ParquetWriter(final_path, table.schema)
            writer.write_table(table)
        features_path.unlink()
    if writer is None:
        fields = [*schema, *(pa.field(n, c.type) for n, c in book.columns([]))]
        pq.write_table(pa.Table.from_pylist([], schema=pa.schema(fields)), final_path)
    else:
        writer.close()


def _read_lines(path: Path, progress: Progress | None) -> Iterator[tuple[int, bytes]]:
    done = 0
    with path.open("rb") as fh:
        for line_no, line in enumerate(fh, start=1):
            done += len(line)
            if progress is not None and line_no % 4096 == 0:
                progress(done)
            if line.strip():
                yield line_no, line.rstrip(b"\r\n")
    if progress is not None:
        progress(done)


def _decoded(
    path: Path, dead: Any, summary: ReplaySummary, progress: Progress | None
) -> Iterator[InputEvent]:
    last_ts = 0
    for line_no, line in _read_lines(path, progress):
        try:
            event = decode_input(line)
        except DecodeError as exc:
            summary.bad_lines += 1
            record = dead_letter_for(
                line, exc, topic=f"replay:{path.name}", partition=None, offset=line_no, ts=last_ts
            )
            dead.write(encode(record) + b"\n")
            continue
        last_ts = event.ts
        yield event


def _is_canonical(path: Path) -> bool:
    prev: tuple[int, str] | None = None
    for _, line in _read_lines(path, None):
        try:
            obj = orjson.loads(line)
            key = (int(obj["ts"]), str(obj["event_id"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue  # a bad line is dead-lettered later; it does not affect order
        if prev is not None and key < prev:
            return False
        prev = key
    return True


def replay(
    events_path: Path | str, out_dir: Path | str, *, config: EngineConfig | None = None,
    progress: Progress | None = None, log_order: bool = False,
) -> ReplaySummary:  # fmt: skip
    """Replay an events JSONL file into ``out_dir`` (see the module docstring).

    ``log_order``: the file is a market log (``alphastream log dump``) whose order is the
    canonical order by definition; it is replayed as it is, never re-sorted."""
    events_path, out = Path(events_path), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = ReplaySummary()
    started = time.perf_counter()
    engine = FeatureEngine(config or EngineConfig())
    buys = _SignalWriter(out / "buys.features.tmp.parquet", STANDARD_NAMES)
    gens = _SignalWriter(out / "genesis.features.tmp.parquet", GENESIS_NAMES)
    book = _LabelBook()
    engine_seconds = 0.0

    with (
        (out / "dead_letter.jsonl").open("wb") as dead,
        (out / "outcomes.jsonl").open("wb") as outs,
    ):

        def take(result: EngineOutput) -> None:
            for sig in result.signals:
                (buys if sig.kind == "buy" else gens).add(sig)
            for outcome in result.outcomes:
                outs.write(encode(outcome) + b"\n")
                book.add(outcome)
                summary.outcomes += 1

        events: Iterator[InputEvent] | list[InputEvent] = _decoded(
            events_path, dead, summary, progress
        )
        if not log_order and not _is_canonical(events_path):
            summary.resorted = True
            events = sorted(events, key=lambda e: (e.ts, e.event_id))
        process = engine.process
        for event in events:
            t = time.perf_counter()
            result = process(event)
            engine_seconds += time.perf_counter() - t
            summary.events += 1
            if result.signals or result.outcomes:
                take(result)
        t = time.perf_counter()
        take(engine.flush())
        engine_seconds += time.perf_counter() - t
    buys.close()
    gens.close()
    _join_labels(buys.path, out / "buys.parquet", book, buys.schema)
    _join_labels(gens.path, out / "genesis.parquet", book, gens.schema)

    summary.buy_signals, summary.genesis_signals = buys.count, gens.count
    summary.late_events = engine.stats.late_events
    summary.engine_stats = asdict(engine.stats)
    summary.seconds_total = time.perf_counter() - started
    summary.seconds_engine = engine_seconds
    summary.events_per_s = summary.events / summary.seconds_total if summary.seconds_total else 0.0
    summary.engine_events_per_s = summary.events / engine_seconds if engine_seconds else 0.0
    (out / "replay_meta.json").write_bytes(
        orjson.dumps(
            {**asdict(summary), "events_path": str(events_path),
             "feature_names": {"buy": list(STANDARD_NAMES), "genesis": list(GENESIS_NAMES)}},
            option=orjson.OPT_INDENT_2,
        )
    )  # fmt: skip
    return summary
