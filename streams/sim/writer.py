"""Write a run to ``DIR/events.jsonl`` and ``DIR/truth.jsonl`` (streamed, orjson lines)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import orjson

from streams.sim.config import SimConfig
from streams.sim.market import simulate

EVENTS_FILE = "events.jsonl"
TRUTH_FILE = "truth.jsonl"


@dataclass(slots=True)
class RunSummary:
    events_path: Path
    truth_path: Path
    by_type: Counter[str] = field(default_factory=Counter)
    first_ts: int | None = None
    last_ts: int | None = None

    @property
    def events(self) -> int:
        return sum(self.by_type.values())

    def count(self, event: dict[str, Any]) -> None:
        self.by_type[event["type"]] += 1
        if self.first_ts is None:
            self.first_ts = event["ts"]
        self.last_ts = event["ts"]


class RunWriter:
    """Open both files; ``event`` and ``truth`` append one JSON line each."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.summary = RunSummary(out_dir / EVENTS_FILE, out_dir / TRUTH_FILE)
        self._events: IO[bytes] = self.summary.events_path.open("wb", buffering=1 << 20)
        self._truth: IO[bytes] = self.summary.truth_path.open("wb", buffering=1 << 20)

    def event(self, event: dict[str, Any]) -> None:
        self._events.write(orjson.dumps(event) + b"\n")
        self.summary.count(event)

    def truth(self, record: dict[str, Any]) -> None:
        self._truth.write(orjson.dumps(record) + b"\n")

    def close(self) -> None:
        self._events.close()
        self._truth.close()

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_run(
    config: SimConfig,
    out_dir: Path,
    on_progress: Callable[[int], None] | None = None,
    progress_every: int = 10_000,
) -> RunSummary:
    """Simulate ``config`` into ``out_dir``; ``on_progress(ts)`` is called every N events."""
    with RunWriter(out_dir) as writer:
        for n, event in enumerate(simulate(config, writer.truth), start=1):
            writer.event(event)
            if on_progress is not None and n % progress_every == 0:
                on_progress(event["ts"])
    if on_progress is not None and writer.summary.last_ts is not None:
        on_progress(writer.summary.last_ts)
    return writer.summary
