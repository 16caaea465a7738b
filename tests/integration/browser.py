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
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp

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
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            try:
                url = f"http://127.0.0.1:{self.port}/json/list"
                targets = json.loads(urllib.request.urlopen(url, timeout=2).read())
            except OSError:
                time.sleep(0.2)
                continue
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
            time.sleep(0.2)
        raise TimeoutError("chromium's DevTools endpoint did not answer")

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
        deadline = time.monotonic() + timeout_s
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is still loading
                value = None
            if value:
                return value
            time.sleep(0.2)
        raise TimeoutError(f"page never satisfied {expression!r} (last value {value!r})")
