"""The decoder benchmark counts what it decoded (its timing is reported, never asserted)."""

from __future__ import annotations

from streams.devtools.bench.feeds import CAPTURES, bench_decoder, load_capture
from streams.ingest.pumpportal import PumpPortalDecoder


def test_bench_decoder_counts_every_pass() -> None:
    frames = load_capture(CAPTURES / "pumpportal" / "session1.jsonl")
    result = bench_decoder(PumpPortalDecoder(), frames, repeat=2)
    assert (result.source, result.frames) == ("pumpportal", 2 * 208)
    assert (result.events, result.skipped, result.dead) == (2 * 371, 2 * 4, 0)
    assert result.seconds > 0 and result.frames_per_s > 0
