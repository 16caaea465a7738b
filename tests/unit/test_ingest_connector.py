"""Connector mechanics against a real websocket server on 127.0.0.1.

The decoder here is this test's own tiny one (frames are JSON saying what they carry): it tests
the connector, not a feed. Time is a fake clock the test moves; waits are asyncio conditions,
never sleeps. The sink is the real JSONL sink of ``record``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.ingest.backoff import Backoff, BackoffPolicy
from streams.ingest.connector import Connector, ConnectorConfig, Runtime, redact_url
from streams.ingest.frames import FrameResult, Skip
from streams.ingest.metrics import IngestMetrics
from streams.ingest.sinks import JsonlSink
from streams.ingest.testing import ScriptedFeedServer, Session
from tests.waiting import wait_until_async

SOURCE = "test-feed"


class ScriptDecoder:
    """Frames: {"ack": 1} (skipped), {"event": {...}}, {"dead": "why"}, {"raise": 1}."""

    source = SOURCE

    def subscribe_messages(self) -> list[dict[str, Any]]:
        return [{"method": "subscribe", "n": 1}, {"method": "subscribe", "n": 2}]

    def decode(self, raw: str | bytes, received_ms: int) -> FrameResult:
        frame = orjson.loads(raw)
        if "raise" in frame:
            raise ZeroDivisionError("a decoder bug")
        if "dead" in frame:
            return FrameResult(dead=[Skip("layout_unknown", frame["dead"])])
        if "ack" in frame:
            return FrameResult(skipped=[Skip("ack")])
        return FrameResult(events=[frame["event"]])


def buy(n: int, **changes: Any) -> str:
    event = {
        "schema_version": 1, "type": "wallet_buy", "event_id": f"t:{n:04d}", "ts": 1_000 + n,
        "mint": f"Mint{n % 3}", "wallet": f"W{n}", "sol_amount": 0.5, "token_amount": 1e6,
        "virtual_sol_reserves": 30.5, "virtual_token_reserves": 1.05e9,
        "real_token_reserves": 7.9e8, "venue": "curve",
    }  # fmt: skip
    event.update(changes)
    return orjson.dumps({"event": {k: v for k, v in event.items() if v is not None}}).decode()


class FakeTime:
    """A clock the test moves; the watchdog and the backoff wait on it, not on real time."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.backoff_waits: list[float] = []
        self._moved = asyncio.Condition()

    def clock(self) -> float:
        return self.now

    async def advance(self, seconds: float) -> None:
        async with self._moved:
            self.now += seconds
            self._moved.notify_all()

    async def tick(self, seconds: float) -> None:
        """Return when the clock has moved (the watchdog then re-checks)."""
        start = self.now
        async with self._moved:
            await self._moved.wait_for(lambda: self.now > start)

    async def backoff(self, seconds: float) -> None:
        self.backoff_waits.append(seconds)

    def runtime(self) -> Runtime:
        return Runtime(clock=self.clock, wall_ms=lambda: 1_700_000_000_000,
                       sleep=self.backoff, tick=self.tick)  # fmt: skip


def events_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (path / "events.jsonl").read_bytes().splitlines()]


def dead_in(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (path / "dead_letter.jsonl").read_bytes().splitlines()]


async def run_connector(
    server: ScriptedFeedServer, out: Path, fake: FakeTime, *, max_events: int | None,
    silence_s: float = 30.0, seed: int = 5,
    during: Callable[[asyncio.Event], Awaitable[None]] | None = None,
    metrics: IngestMetrics | None = None,
) -> tuple[Connector, str]:  # fmt: skip
    sink = JsonlSink(out)
    config = ConnectorConfig(
        url=server.url, silence_s=silence_s, max_events=max_events, seed=seed,
        backoff=BackoffPolicy(base_s=0.5, cap_s=4.0, stable_s=60.0),
    )  # fmt: skip
    connector = Connector(ScriptDecoder(), sink, config, metrics or IngestMetrics(), fake.runtime())
    stop = asyncio.Event()
    task = asyncio.ensure_future(connector.run(stop))
    if during is not None:
        await during(stop)
    end = await asyncio.wait_for(task, 30)
    sink.close()
    return connector, end


def test_reconnects_resubscribes_and_drops_resent_frames(tmp_path: Path) -> None:
    first = [orjson.dumps({"ack": 1}).decode(), *(buy(n) for n in range(6))]
    second = [orjson.dumps({"ack": 1}).decode(), *(buy(n) for n in range(3, 10))]  # 3..5 again

    async def main() -> tuple[Connector, str, ScriptedFeedServer]:
        fake = FakeTime()
        sessions = [Session(first, "drop"), Session(second, "hold")]
        async with ScriptedFeedServer(sessions, subscribe_count=2) as server:
            connector, end = await run_connector(server, tmp_path, fake, max_events=10)
        return connector, end, server

    connector, end, server = asyncio.run(main())
    assert end == "limit"
    ids = [e["event_id"] for e in events_in(tmp_path)]
    assert ids == [f"t:{n:04d}" for n in range(10)]  # each once, sorted by (ts, event_id)
    m = connector.metrics
    assert m.value("alphastream_ingest_reconnects_total", source=SOURCE, cause="closed") == 1
    assert m.value("alphastream_ingest_skipped_total", source=SOURCE, reason="duplicate") == 3
    assert m.value("alphastream_ingest_skipped_total", source=SOURCE, reason="ack") == 2
    assert m.value("alphastream_ingest_events_total", source=SOURCE, type="wallet_buy") == 10
    assert m.value("alphastream_ingest_connects_total", source=SOURCE) == 2
    expected = [orjson.dumps(msg).decode() for msg in ScriptDecoder().subscribe_messages()]
    assert server.subscriptions[:2] == [expected, expected]  # subscribed again after the drop


def test_silence_drops_the_connection_and_reconnects(tmp_path: Path) -> None:
    async def main() -> tuple[Connector, str, FakeTime]:
        fake, metrics = FakeTime(), IngestMetrics()
        sessions = [Session([orjson.dumps({"ack": 1}).decode()], "hold"), Session([buy(1)], "hold")]
        async with ScriptedFeedServer(sessions, subscribe_count=2) as server:

            async def go_quiet(stop: asyncio.Event) -> None:
                frames = "alphastream_ingest_frames_total"
                await wait_until_async(
                    lambda: metrics.value(frames, source=SOURCE) == 1,
                    timeout_s=20,
                    what="the ack frame at the connector",
                    interval_s=0.005,
                )
                await fake.advance(29.0)  # not yet silent
                await fake.advance(1.5)  # now 30.5 s without a frame: the watchdog drops it

            connector, end = await run_connector(
                server,
                tmp_path,
                fake,
                max_events=1,
                silence_s=30.0,
                during=go_quiet,
                metrics=metrics,
            )
        return connector, end, fake

    connector, end, fake = asyncio.run(main())
    assert end == "limit"
    m = connector.metrics
    assert m.value("alphastream_ingest_reconnects_total", source=SOURCE, cause="silence") == 1
    assert m.value("alphastream_ingest_reconnects_total", source=SOURCE, cause="closed") == 0
    assert [e["event_id"] for e in events_in(tmp_path)] == ["t:0001"]
    assert len(fake.backoff_waits) == 1


def test_frames_it_cannot_map_become_dead_letters_and_the_feed_goes_on(tmp_path: Path) -> None:
    frames = [
        orjson.dumps({"dead": "discriminator 0xdeadbeef"}).decode(),
        orjson.dumps({"raise": 1}).decode(),
        buy(1, wallet=None),  # the decoder made an event the contract refuses
        buy(2, sol_amount="lots"),
        buy(3),
    ]

    async def main() -> Connector:
        async with ScriptedFeedServer([Session(frames, "hold")], subscribe_count=2) as server:
            connector, _ = await run_connector(server, tmp_path, FakeTime(), max_events=1)
        return connector

    connector = asyncio.run(main())
    assert [e["event_id"] for e in events_in(tmp_path)] == ["t:0003"]
    letters = dead_in(tmp_path)
    assert [d["reason"] for d in letters] == [
        "feed_unmapped", "processing_error", "missing_field", "wrong_type",
    ]  # fmt: skip
    assert "layout_unknown: discriminator 0xdeadbeef" in letters[0]["error"]
    assert "ZeroDivisionError" in letters[1]["error"]
    assert letters[2]["field"] == "wallet" and letters[2]["mint"] == "Mint1"
    assert len({d["event_id"] for d in letters}) == 4
    assert all(d["source_topic"] == f"ingest:{SOURCE}" for d in letters)
    m = connector.metrics
    for reason in ("layout_unknown", "decoder_error", "missing_field", "wrong_type"):
        assert m.value("alphastream_ingest_dead_letters_total", source=SOURCE, reason=reason) == 1
    assert m.value("alphastream_ingest_frames_total", source=SOURCE) == 5


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failed_connects_wait_the_seeded_backoff_schedule(tmp_path: Path) -> None:
    fake = FakeTime()
    stop = asyncio.Event()
    waits: list[float] = []

    async def wait_then_stop_after_six(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 6:
            stop.set()

    policy = BackoffPolicy(base_s=0.5, cap_s=4.0, stable_s=60.0)
    config = ConnectorConfig(url=f"ws://127.0.0.1:{_closed_port()}", backoff=policy, seed=9)
    runtime = Runtime(clock=fake.clock, sleep=wait_then_stop_after_six, tick=fake.tick)
    sink = JsonlSink(tmp_path)
    connector = Connector(ScriptDecoder(), sink, config, IngestMetrics(), runtime)

    assert asyncio.run(asyncio.wait_for(connector.run(stop), 30)) == "stop"
    sink.close()
    reference = Backoff(policy, seed=9)
    assert waits == [reference.next_delay() for _ in range(6)]
    assert all(w <= policy.ceiling(i) for i, w in enumerate(waits))
    m = connector.metrics
    assert m.value("alphastream_ingest_reconnects_total", source=SOURCE, cause="error") == 6
    assert m.value("alphastream_ingest_connects_total", source=SOURCE) == 0


def test_last_event_age_follows_the_clock(tmp_path: Path) -> None:
    async def main() -> tuple[Connector, FakeTime]:
        fake = FakeTime()
        async with ScriptedFeedServer([Session([buy(1)], "hold")], subscribe_count=2) as server:
            connector, _ = await run_connector(server, tmp_path, fake, max_events=1)
        await fake.advance(7.0)
        return connector, fake

    connector, _ = asyncio.run(main())
    assert connector.metrics.value(
        "alphastream_ingest_last_event_age_seconds", source=SOURCE
    ) == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "wss://mainnet.helius-rpc.com/?api-key=SECRET",
            "wss://mainnet.helius-rpc.com/?<redacted>",
        ),
        ("wss://user:pw@rpc.example:8900/ws", "wss://rpc.example:8900/ws"),
        ("ws://127.0.0.1:9000", "ws://127.0.0.1:9000"),
    ],
)
def test_logged_urls_carry_no_key(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_fields_of_a_newer_minor_pass_and_are_counted(tmp_path: Path) -> None:
    newer = buy(1, schema_version=2, schema_minor=3, ts_source="block_time", future_field=1.5)
    same_minor = buy(2, schema_version=2, schema_minor=0, future_field=1.5)

    async def main() -> Connector:
        frames = [newer, same_minor, buy(3)]
        async with ScriptedFeedServer([Session(frames, "hold")], subscribe_count=2) as server:
            connector, _ = await run_connector(server, tmp_path, FakeTime(), max_events=2)
        return connector

    connector = asyncio.run(main())
    assert [e["event_id"] for e in events_in(tmp_path)] == ["t:0001", "t:0003"]
    assert events_in(tmp_path)[0]["future_field"] == 1.5  # produced as it came
    assert [d["reason"] for d in dead_in(tmp_path)] == ["unknown_field"]  # not newer: strict
    ignored = connector.metrics.value(
        "alphastream_ingest_ignored_fields_total",
        source=SOURCE, type="wallet_buy", field="future_field",
    )  # fmt: skip
    assert ignored == 1


def test_a_failed_connect_is_logged_without_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop = asyncio.Event()

    async def stop_now(seconds: float) -> None:
        stop.set()

    url = f"ws://127.0.0.1:{_closed_port()}/?api-key=SECRET-KEY"
    runtime = Runtime(clock=FakeTime().clock, sleep=stop_now)
    sink = JsonlSink(tmp_path)
    connector = Connector(ScriptDecoder(), sink, ConnectorConfig(url=url), IngestMetrics(), runtime)
    with caplog.at_level("INFO", logger="streams.ingest.connector"):
        assert asyncio.run(asyncio.wait_for(connector.run(stop), 30)) == "stop"
    sink.close()
    assert "connection to ws://127.0.0.1" in caplog.text and "refused" in caplog.text.lower()
    assert "SECRET-KEY" not in caplog.text
