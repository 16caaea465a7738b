"""``python -m streams.devtools.bench.connector``: how many ``logsSubscribe`` frames per second one connector
turns into validated events (websocket read, decode, dedup, validate, JSONL sink).

A local websocket server sends the Helius capture ``--repeat`` times as fast as it can; each
repeat moves the notification's slot, so event ids stay unique and every event is validated and
written (no repeat is dropped as a duplicate). Server and connector share one event loop and
one core, so the figure is a floor for the connector alone. Compare it with the rate a
``mentions`` subscription on pump.fun delivers (~328 frames/s, fixture README).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
from pathlib import Path

from streams.ingest.connector import Connector, ConnectorConfig
from streams.ingest.metrics import IngestMetrics
from streams.ingest.sinks import JsonlSink
from streams.ingest.solana_logs import SolanaLogsDecoder
from streams.ingest.testing import ScriptedFeedServer, Session, load_capture

DEFAULT_CAPTURE = (
    Path(__file__).resolve().parents[3]
    / "tests/fixtures/real-feeds/helius/logs_subscribe_pumpfun.jsonl"
)
_SLOT = re.compile(r'"context":\{"slot":(\d+)\}')


def repeated_frames(frames: list[str], repeat: int) -> list[str]:
    """The capture ``repeat`` times, repeat ``r`` shifted by ``r * 10**6`` slots."""
    out: list[str] = []
    for r in range(repeat):

        def shift(match: re.Match[str], r: int = r) -> str:
            return f'"context":{{"slot":{int(match.group(1)) + r * 1_000_000}}}'

        out.extend(_SLOT.sub(shift, frame) for frame in frames)
    return out


async def measure(frames: list[str], out_dir: Path) -> tuple[float, float, IngestMetrics]:
    """(wall seconds, process CPU seconds, metrics) to take every frame in."""
    metrics = IngestMetrics()
    sink = JsonlSink(out_dir)
    async with ScriptedFeedServer([Session(frames, "hold")]) as server:
        connector = Connector(SolanaLogsDecoder(), sink, ConnectorConfig(url=server.url), metrics)
        stop = asyncio.Event()
        wall, cpu = time.perf_counter(), time.process_time()
        task = asyncio.ensure_future(connector.run(stop))
        while metrics.value("alphastream_ingest_frames_total", source="solana-logs") < len(frames):
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stop.set()
        await task
    sink.close()
    return wall, cpu, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--capture", type=Path, default=DEFAULT_CAPTURE)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    frames = repeated_frames(load_capture(args.capture), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu, metrics = asyncio.run(measure(frames, Path(tmp)))
    events = sum(metrics.summary("solana-logs").get("events", {}).values())
    print(f"{len(frames):,} frames, {events:,.0f} events in {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"{len(frames) / wall:,.0f} frames/s wall, {len(frames) / cpu:,.0f} frames/s per CPU-s")


if __name__ == "__main__":
    main()
