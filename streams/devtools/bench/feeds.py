"""Decoder throughput on a capture: frames/s and µs per frame, to set against a feed's rate.

A ``logsSubscribe`` on pump.fun delivers about 328 frames/s (the capture's README); a decoder
must stay well above that on one core, with the connector and producer on top.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from streams.ingest.anchor import b58encode
from streams.ingest.frames import FrameDecoder, FrameResult

CAPTURES = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "real-feeds"


@dataclass(frozen=True, slots=True)
class DecoderBench:
    source: str
    frames: int  # frames decoded in total (capture size x repeat)
    events: int
    skipped: int
    dead: int
    seconds: float

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds

    @property
    def us_per_frame(self) -> float:
        return self.seconds / self.frames * 1e6


def load_capture(path: Path) -> list[str]:
    """The raw frames of a capture file (one ``{"t_wall": ..., "raw": ...}`` per line)."""
    return [json.loads(line)["raw"] for line in path.read_text().splitlines() if line.strip()]


def bench_decoder(decoder: FrameDecoder, frames: list[str], repeat: int) -> DecoderBench:
    """Decode every frame ``repeat`` times; the time covers ``decode`` calls only. The base58
    cache is emptied before each pass, so a pass costs what the capture's first sight costs."""
    total = FrameResult()
    elapsed = 0.0
    for _ in range(repeat):
        b58encode.cache_clear()
        start = time.perf_counter()
        results = [decoder.decode(raw, 0) for raw in frames]
        elapsed += time.perf_counter() - start
        for result in results:
            total.extend(result)
    return DecoderBench(
        decoder.source, len(frames) * repeat, len(total.events), len(total.skipped),
        len(total.dead), elapsed,
    )  # fmt: skip
