"""The worker's HTTP surface (aiohttp, in the worker's own event loop; off unless a port is set).

* ``GET /healthz``: the process is alive (200 as soon as the server listens);
* ``GET /ready``: 200 once the engine is restored, the shards of the assignment are taken over
  and the market log was read to its end, so scores flow; 503 with the reason before that and
  while stopping;
* ``GET /scores/{mint}``: the latest buy and genesis score this worker published for ``mint``,
  from memory (:class:`~streams.app.scoreview.ScoreView`); 404 with a reason otherwise
  (``other_worker`` when another worker owns the mint's shard, ``unknown_mint``,
  ``not_scored_yet``);
* ``GET /metrics``: the worker's Prometheus registry (same as ``--metrics-port``);
* ``GET /board`` and ``GET /board.json``: the live board page and the JSON it polls.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest

from streams.app.scoreview import ScoreView

log = logging.getLogger(__name__)


class WorkerLike(Protocol):
    """What the endpoints read from a :class:`~streams.app.faust_app.StreamWorker`."""

    view: ScoreView

    def readiness(self) -> tuple[bool, str]: ...

    def owner_partition(self, mint: str) -> tuple[int | None, bool]: ...

    def owned_shards(self) -> list[int]: ...

    @property
    def metrics_registry(self) -> CollectorRegistry: ...


def _json(body: object, status: int = 200) -> web.Response:
    # one JSON document per line: readable from curl, parseable from a shell pipeline
    payload = orjson.dumps(body, option=orjson.OPT_APPEND_NEWLINE)
    return web.Response(body=payload, status=status, content_type="application/json")


_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WorkerHttp:
    def __init__(
        self,
        worker: WorkerLike,
        host: str,
        port: int,
        *,
        timings: list[float] | None = None,
    ) -> None:
        self.worker = worker
        self.host = host
        self.port = port  # 0 before start: the bound port after (0 asks the OS for one)
        self.timings = timings  # the bench: every handler's duration, in seconds
        self._runner: web.AppRunner | None = None
        self._page = resources.files("streams.app").joinpath("board.html").read_bytes()
        registry = worker.metrics_registry
        self.latency = Histogram(
            "alphastream_http_request_seconds",
            "Time inside the HTTP handler, by route (the lookup answers from memory)",
            ["route"],
            buckets=_BUCKETS,
            registry=registry,
        )
        app = web.Application(middlewares=[self._timed])
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/ready", self.ready)
        app.router.add_get("/scores/{mint}", self.score)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/board", self.board_page)
        app.router.add_get("/board.json", self.board_json)
        self.app = app

    @web.middleware
    async def _timed(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            elapsed = time.perf_counter() - started
            route = request.match_info.route.resource
            self.latency.labels(route.canonical if route is not None else "other").observe(elapsed)
            if self.timings is not None:
                self.timings.append(elapsed)

    async def start(self) -> None:
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._runner = runner
        log.info(
            "http on %s:%d (/scores/{mint}, /healthz, /ready, /metrics, /board)",
            self.host,
            self.port,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self, request: web.Request) -> web.Response:
        return _json({"status": "alive"})

    async def ready(self, request: web.Request) -> web.Response:
        ok, reason = self.worker.readiness()
        body = {"ready": ok, "reason": reason, "shards": self.worker.owned_shards()}
        return _json(body, 200 if ok else 503)

    async def score(self, request: web.Request) -> web.Response:
        mint = request.match_info["mint"]
        shard, mine = self.worker.owner_partition(mint)
        if shard is not None and not mine:  # what this worker holds of it may be stale
            reason, detail = "other_worker", "another worker of the group owns this mint's shard"
        else:
            found = self.worker.view.lookup(mint, time.time())
            if found is not None:
                return _json(found)
            if shard is None:
                reason, detail = "unknown_mint", "no event of this mint reached this worker"
            else:
                reason, detail = (
                    "not_scored_yet",
                    "this worker owns the mint but published no score",
                )
        body = {"mint": mint, "error": reason, "detail": detail, "shard": shard}
        return _json(body, 404)

    async def metrics(self, request: web.Request) -> web.Response:
        text = generate_latest(self.worker.metrics_registry)
        return web.Response(body=text, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def board_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._page, content_type="text/html", charset="utf-8")

    async def board_json(self, request: web.Request) -> web.Response:
        body = self.worker.view.board(time.time())
        body["ready"], body["reason"] = self.worker.readiness()
        return _json(body)
