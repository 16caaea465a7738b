"""``alphastream record`` -> ``replay`` -> features, offline: the CLI records the real captures
from a local websocket server (which drops the connection midway and resends frames), and the
recording replays through the feature engine into training tables."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from streams.cli import _register, app
from streams.ingest.frames import FrameDecoder
from streams.ingest.pumpportal import PumpPortalDecoder
from streams.ingest.solana_logs import SolanaLogsDecoder
from streams.ingest.testing import ScriptedFeedServer, Session, load_capture
from streams.replay import replay
from tests.integration.ingest_feeds import FIXTURES, expected_events

pytestmark = [pytest.mark.integration]

CASES = [
    pytest.param("pumpportal", PumpPortalDecoder, FIXTURES / "pumpportal" / "session1.jsonl",
                 id="pumpportal"),
    pytest.param("solana-logs", SolanaLogsDecoder,
                 FIXTURES / "helius" / "logs_subscribe_pumpfun.jsonl", id="solana-logs"),
]  # fmt: skip


@contextmanager
def feed_server(sessions: list[Session], subscribe_count: int) -> Iterator[str]:
    """A scripted server on its own loop in a thread (the CLI runs its loop in this one)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        async with ScriptedFeedServer(sessions, subscribe_count=subscribe_count) as server:
            holder["url"] = server.url
            holder["stop"] = stop = asyncio.Event()
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(30), "the feed server did not start"
    try:
        yield str(holder["url"])
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(30)


@pytest.mark.parametrize(("source", "make_decoder", "capture"), CASES)
def test_record_then_replay(
    source: str, make_decoder: type[FrameDecoder], capture: Path, tmp_path: Path
) -> None:
    frames = load_capture(capture)
    expected = expected_events(make_decoder(), frames)
    cut = len(frames) // 2
    sessions = [Session(frames[:cut], "drop"), Session(frames[cut - 10 :], "hold")]
    record_dir, replay_dir = tmp_path / "rec", tmp_path / "replay"
    _register()
    with feed_server(sessions, len(make_decoder().subscribe_messages())) as url:
        result = CliRunner().invoke(
            app,
            ["record", source, "--url", url, "--out", str(record_dir),
             "--max-events", str(len(expected)), "--max-seconds", "120"],
            env={"ALPHASTREAM_INGEST_BACKOFF_BASE_S": "0.05", "ALPHASTREAM_INGEST_BACKOFF_CAP_S": "0.2"},
        )  # fmt: skip
    assert result.exit_code == 0, result.output

    lines = [orjson.loads(x) for x in (record_dir / "events.jsonl").read_bytes().splitlines()]
    assert sorted(e["event_id"] for e in lines) == sorted(e["event_id"] for e in expected)
    assert [(e["ts"], e["event_id"]) for e in lines] == sorted(
        (e["ts"], e["event_id"]) for e in lines
    )
    meta = orjson.loads((record_dir / "record_meta.json").read_bytes())
    assert meta["events"] == len(expected) and meta["ended_by"] == "limit"
    assert meta["counters"]["reconnects"] == {"closed": 1.0}
    assert meta["counters"]["skipped"]["duplicate"] > 0
    assert not (record_dir / "events.jsonl.partial").exists()

    summary = replay(record_dir / "events.jsonl", replay_dir)
    assert summary.events == len(expected) and summary.bad_lines == 0 and not summary.resorted
    n_buys = sum(e["type"] == "wallet_buy" for e in expected)
    assert summary.buy_signals == n_buys > 0
    buys = pq.read_table(replay_dir / "buys.parquet")
    assert buys.num_rows == n_buys
    assert set(buys.column("event_id").to_pylist()) == {
        e["event_id"] for e in expected if e["type"] == "wallet_buy"
    }
