"""``python -m streams.devtools.capture_stats CAPTURE.jsonl``: frame sizes of a ``logsSubscribe``
capture, split by failed (``err`` set) and successful transactions, and what a feed of the same
mix costs in frame text per 5 minutes at a given frame rate.

The README's bandwidth estimate comes from this: the rate and the failed share default to what
the capture's author measured over 5 minutes (98,383 frames, about 90% failed).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from streams.ingest.testing import load_capture


def frame_sizes(frames: list[str]) -> tuple[list[int], list[int]]:
    """(failed, successful) notification frame sizes in bytes of UTF-8 text."""
    failed: list[int] = []
    succeeded: list[int] = []
    for raw in frames:
        frame = orjson.loads(raw)
        if frame.get("method") != "logsNotification":
            continue
        value = frame["params"]["result"]["value"]
        (failed if value.get("err") is not None else succeeded).append(len(raw.encode()))
    return failed, succeeded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path)
    parser.add_argument("--frames-per-5min", type=int, default=98_383)
    parser.add_argument("--failed-share", type=float, default=0.9)
    args = parser.parse_args()
    frames = load_capture(args.capture)
    print(f"{len(frames):,} frames, {sum(len(f.encode()) for f in frames):,} B of frame text")
    failed, succeeded = frame_sizes(frames)
    if not failed and not succeeded:
        return  # not a logsSubscribe capture: the totals are all there is
    mean_failed = sum(failed) / max(1, len(failed))
    mean_ok = sum(succeeded) / max(1, len(succeeded))
    mix = args.failed_share * mean_failed + (1 - args.failed_share) * mean_ok
    print(f"failed frames: {len(failed)}, mean {mean_failed:,.0f} B")
    print(f"successful frames: {len(succeeded)}, mean {mean_ok:,.0f} B")
    print(f"mix at {args.failed_share:.0%} failed: {mix:,.0f} B per frame")
    print(f"{args.frames_per_5min:,} frames per 5 min: {mix * args.frames_per_5min / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
