"""The connector benchmark's input: repeats of the capture with unique event ids."""

from __future__ import annotations

from streams.devtools.bench.connector import DEFAULT_CAPTURE, repeated_frames
from streams.ingest.solana_logs import SolanaLogsDecoder
from streams.ingest.testing import load_capture


def test_each_repeat_decodes_to_new_event_ids() -> None:
    frames = load_capture(DEFAULT_CAPTURE)
    decoder = SolanaLogsDecoder()
    ids = [e["event_id"] for f in repeated_frames(frames, 3) for e in decoder.decode(f, 0).events]
    once = [e["event_id"] for f in frames for e in decoder.decode(f, 0).events]
    assert once and len(ids) == 3 * len(once) == len(set(ids))
