"""A real websocket server on 127.0.0.1 that plays a script of frames, for offline runs and tests.

Each connection plays the next :class:`Session`: wait for the client's subscribe messages, send
the session's frames, then close cleanly, drop the TCP connection without a close frame (what a
dying load balancer does) or hold the connection open silently. Connections beyond the script
hold silently. Captures (``{"t_wall": ..., "raw": "<frame>"}`` lines) load with :func:`load_capture`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Ending = Literal["close", "drop", "hold"]


def load_capture(path: Path) -> list[str]:
    """The raw frames of a capture file, in capture order."""
    frames: list[str] = []
    for line in path.read_bytes().splitlines():
        if line.strip():
            frames.append(str(orjson.loads(line)["raw"]))
    return frames


@dataclass(frozen=True, slots=True)
class Session:
    frames: list[str]
    then: Ending = "close"


@dataclass
class ScriptedFeedServer:
    """``async with ScriptedFeedServer(sessions, subscribe_count=n) as server: server.url``."""

    sessions: list[Session]
    subscribe_count: int = 1  # messages to read from the client before sending anything
    subscriptions: list[list[str]] = field(default_factory=list)  # per connection, as received
    sent: list[int] = field(default_factory=list)  # frames sent per connection
    url: str = ""
    _server: Server | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def __aenter__(self) -> ScriptedFeedServer:
        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_connections(self, n: int, subscribed: bool = True) -> None:
        """Until ``n`` connections were accepted (and sent their subscribe messages)."""
        async with self._changed:
            await self._changed.wait_for(
                lambda: sum(
                    1 for s in self.subscriptions if len(s) >= self.subscribe_count or not subscribed
                ) >= n
            )  # fmt: skip

    async def _note(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.subscriptions)
        received: list[str] = []
        self.subscriptions.append(received)
        self.sent.append(0)
        session = self.sessions[index] if index < len(self.sessions) else Session([], "hold")
        try:
            for _ in range(self.subscribe_count):
                message = await ws.recv()
                received.append(message if isinstance(message, str) else message.decode())
            await self._note()
            for frame in session.frames:
                await ws.send(frame)
                self.sent[index] += 1
            if session.then == "close":
                await ws.close()
            elif session.then == "drop":
                # the pong proves the client read every frame before the line goes dead
                await (await ws.ping())
                ws.transport.abort()
            else:
                await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            await self._note()
