"""The websocket connector: hold a connection, drive a pure :class:`FrameDecoder`, feed a sink.

One loop per source: connect, send the decoder's subscribe messages, read frames until the
connection closes, goes silent for ``silence_s`` (the watchdog drops it) or ``stop`` is set;
then wait a capped, fully jittered backoff and connect again. Per frame: decode, drop event ids
seen recently (a reconnect resends frames), validate every event with ``decode_input`` (the bytes
that passed are the bytes produced) and hand it to the sink; whatever cannot be mapped becomes a
``dead_letter`` with its reason. A frame never ends the loop; a sink that cannot deliver does
(:class:`~streams.ingest.sinks.SinkError`).

Time comes from :class:`Runtime` (clock, wall clock, the two kinds of wait), so tests drive the
watchdog and the backoff without sleeping.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from streams.events import DecodeError, decode_input
from streams.events.decode import IgnoredFields, dead_letter_for
from streams.ingest.backoff import Backoff, BackoffPolicy, RecentIds, SilenceWatch
from streams.ingest.frames import FrameDecoder
from streams.ingest.metrics import IngestMetrics
from streams.ingest.sinks import EventSink

log = logging.getLogger(__name__)

FEED_UNMAPPED = "feed_unmapped"  # dead-letter reason of a frame/event the decoder cannot map
_YIELD_EVERY = 64  # frames read back to back before the watchdog and stop get a turn


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class Runtime:
    """Where the connector gets time: real by default, injected in tests."""

    clock: Callable[[], float] = time.monotonic  # seconds, for durations
    wall_ms: Callable[[], int] = _wall_ms  # UTC epoch ms, the receive time of a frame
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # backoff waits
    tick: Callable[[float], Awaitable[None]] = asyncio.sleep  # watchdog waits


@dataclass(frozen=True, slots=True)
class ConnectorConfig:
    url: str
    silence_s: float = 30.0
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    dedup_ids: int = 100_000
    max_events: int | None = None  # stop after this many events left (``record``)
    open_timeout_s: float = 10.0
    max_frame_bytes: int = 8 * 1024 * 1024
    seed: int | None = None  # backoff jitter


def redact_url(url: str) -> str:
    """The URL without user info or query: RPC providers put API keys there."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?<redacted>" if parts.query else "")


class Connector:
    """Runs one decoder's feed into one sink until ``stop`` (see the module docstring)."""

    def __init__(
        self,
        decoder: FrameDecoder,
        sink: EventSink,
        config: ConnectorConfig,
        metrics: IngestMetrics | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        self.decoder = decoder
        self.source = decoder.source
        self.sink = sink
        self.config = config
        self.metrics = metrics or IngestMetrics()
        self.rt = runtime or Runtime()
        self.recent = RecentIds(config.dedup_ids)
        self.events_out = 0
        self._dead_seq = 0
        self._last_event = self.rt.clock()
        self.metrics.watch_last_event(self.source, lambda: self.rt.clock() - self._last_event)

    # --- connection loop ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> str:
        """Connect and reconnect until ``stop`` or ``max_events``; returns why it ended."""
        backoff = Backoff(self.config.backoff, self.config.seed)
        while not stop.is_set():
            opened: float | None = None
            try:
                async with connect(
                    self.config.url, open_timeout=self.config.open_timeout_s,
                    max_size=self.config.max_frame_bytes, close_timeout=2.0,
                ) as ws:  # fmt: skip
                    opened = self.rt.clock()
                    end = await self._session(ws, stop)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                end = "error"
                # an InvalidURI's text is the URL itself (key included); the others carry none
                reason = type(exc).__name__ if isinstance(exc, InvalidURI) else repr(exc)
                log.warning("%s: connection to %s failed: %s", self.source,
                            redact_url(self.config.url), reason)  # fmt: skip
            finally:
                self.metrics.connected.labels(self.source).set(0)
            if end in ("stop", "limit"):
                return end
            self.metrics.reconnects.labels(self.source, end).inc()
            if opened is not None:
                backoff.connection_ended(self.rt.clock() - opened)
            delay = backoff.next_delay()
            log.info("%s: %s, reconnecting in %.2f s", self.source, end, delay)
            await self._wait(delay, stop)
        return "stop"

    async def _wait(self, seconds: float, stop: asyncio.Event) -> None:
        """The backoff wait, cut short by ``stop``."""
        waits = [asyncio.ensure_future(self.rt.sleep(seconds)), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        await _cancel(waits)

    async def _session(self, ws: ClientConnection, stop: asyncio.Event) -> str:
        """One subscribed connection: returns stop, limit, closed or silence."""
        for message in self.decoder.subscribe_messages():
            await ws.send(orjson.dumps(message).decode())
        self.metrics.connects.labels(self.source).inc()
        self.metrics.connected.labels(self.source).set(1)
        watch = SilenceWatch(self.config.silence_s, self.rt.clock())
        reader = asyncio.ensure_future(self._read(ws, watch))
        watchdog = asyncio.ensure_future(self._watch(watch))
        stopper = asyncio.ensure_future(stop.wait())
        tasks = [reader, watchdog, stopper]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await _cancel(tasks)
        if reader in done:
            if isinstance(reader.exception(), ConnectionClosed):
                return "closed"
            return reader.result()  # re-raises a sink failure
        return "stop" if stopper in done else "silence"

    async def _read(self, ws: ClientConnection, watch: SilenceWatch) -> str:
        n = 0
        async for raw in ws:
            watch.frame(self.rt.clock())
            self.handle_frame(raw, self.rt.wall_ms())
            if self.config.max_events is not None and self.events_out >= self.config.max_events:
                return "limit"
            n += 1
            if n % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return "closed"

    async def _watch(self, watch: SilenceWatch) -> None:
        """Returns once no frame arrived for ``silence_s``."""
        while (left := watch.remaining(self.rt.clock())) > 0:
            await self.rt.tick(left)

    # --- frames -------------------------------------------------------------------------------

    def handle_frame(self, raw: str | bytes, received_ms: int) -> None:
        """Decode one frame and hand its events and dead letters to the sink (never raises for
        the frame's content)."""
        m, src = self.metrics, self.source
        m.frames.labels(src).inc()
        m.frame_bytes.labels(src).inc(len(raw))
        try:
            result = self.decoder.decode(raw, received_ms)
        except Exception as exc:  # a decoder bug must not end the feed: the frame is data
            self._dead_letter(_as_bytes(raw), "decoder_error", f"decoder raised {exc!r}",
                              received_ms, code="processing_error")  # fmt: skip
            return
        for skip in result.skipped:
            m.skipped.labels(src, skip.reason).inc()
        for dead in result.dead:
            self._dead_letter(_as_bytes(raw), dead.reason, dead.detail, received_ms)
        for event in result.events:
            self._emit(raw, event, received_ms)
        self.sink.poll()

    def _emit(self, raw: str | bytes, event: dict[str, Any], received_ms: int) -> None:
        event_id = event.get("event_id")
        if isinstance(event_id, str) and event_id in self.recent:
            self.metrics.skipped.labels(self.source, "duplicate").inc()
            return
        try:
            payload = orjson.dumps(event)
        except TypeError as exc:
            self._dead_letter(_as_bytes(raw), "unencodable", str(exc), received_ms)
            return
        ignored: IgnoredFields = Counter()
        try:
            decoded = decode_input(payload, ignored=ignored)
        except DecodeError as err:
            mint = event.get("mint")
            self._dead_letter(payload, err.reason, err.message, received_ms, code=err.reason,
                              field=err.field, mint=mint if isinstance(mint, str) else None)  # fmt: skip
            return
        self.sink.event(decoded, payload)
        self.recent.add(decoded.event_id)
        self.events_out += 1
        self._last_event = self.rt.clock()
        self.metrics.events.labels(self.source, decoded.type).inc()
        for (type_name, field_name), count in ignored.items():  # newer minor: kept, not used
            self.metrics.ignored_fields.labels(self.source, type_name, field_name).inc(count)

    def _dead_letter(
        self, payload: bytes, reason: str, detail: str, received_ms: int, *,
        code: str = FEED_UNMAPPED, field: str | None = None, mint: str | None = None,
    ) -> None:  # fmt: skip
        """``reason`` is the specific one (metric label, message); ``code`` the record's
        ``reason`` from the dead-letter contract's list."""
        self.metrics.dead_letters.labels(self.source, reason).inc()
        self._dead_seq += 1
        error = DecodeError(code, f"{reason}: {detail}" if code != reason else detail, field)
        letter = dead_letter_for(
            payload, error, topic=f"ingest:{self.source}", partition=None, offset=None,
            ts=received_ms, key=mint.encode() if mint else None,
        )  # fmt: skip
        event_id = f"dl:ingest:{self.source}:{received_ms}:{self._dead_seq}"
        self.sink.dead(dataclasses.replace(letter, event_id=event_id))


def _as_bytes(raw: str | bytes) -> bytes:
    return raw.encode("utf-8", "replace") if isinstance(raw, str) else raw


async def _cancel(tasks: Sequence[asyncio.Future[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
