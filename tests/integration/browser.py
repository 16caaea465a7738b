"""A real headless Chromium driven over the Chrome DevTools protocol (aiohttp's websocket client).

``find_chromium()`` names the Debian binary (``.ci/run`` installs it); ``Browser`` starts it on a
fresh profile and a free debugging port, opens one page and evaluates JavaScript in it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

from tests.waiting import wait_until

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Browser:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.loop = asyncio.new_event_loop()
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.ids = itertools.count(1)

    def __enter__(self) -> Browser:
        args = [self.binary, *FLAGS, f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={self.port}", "about:blank"]  # fmt: skip
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        page = self._page_target(timeout_s=60)
        self.loop.run_until_complete(self._connect(page))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ws is not None:
            self.loop.run_until_complete(self.ws.close())
        if self.session is not None:
            self.loop.run_until_complete(self.session.close())
        self.loop.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _page_target(self, timeout_s: float) -> str:
        """The websocket URL of the first page, once the DevTools endpoint answers."""

        def first_page() -> str | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            try:
                url = f"http://127.0.0.1:{self.port}/json/list"
                targets = json.loads(urllib.request.urlopen(url, timeout=2).read())
            except OSError:  # not listening yet
                return None
            pages = [t for t in targets if t.get("type") == "page"]
            return str(pages[0]["webSocketDebuggerUrl"]) if pages else None

        return wait_until(
            first_page, timeout_s=timeout_s, what="chromium's DevTools endpoint", interval_s=0.2
        )

    async def _connect(self, ws_url: str) -> None:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(ws_url, max_msg_size=0)

    async def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self.ws is not None
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        while True:
            reply = await self.ws.receive_json(timeout=60)
            if reply.get("id") == call_id:  # events (no id) are not asked for here
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.loop.run_until_complete(self._call(method, params))

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 60.0) -> Any:
        """Poll until ``expression`` is truthy in the page; its value."""

        def value() -> Any:
            try:
                return self.evaluate(expression)
            except RuntimeError:  # the page is still loading
                return None

        return wait_until(
            value, timeout_s=timeout_s, what=f"the page to satisfy {expression!r}", interval_s=0.2
        )
