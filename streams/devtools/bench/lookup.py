"""``alphastream bench lookup``: latency of ``GET /scores/{mint}`` under a bounded local load.

The server is the worker's own :class:`~streams.app.http.WorkerHttp` over a :class:`ScoreView`
holding ``mints`` tokens, in a child process (its own interpreter and event loop, as in a
worker), while a task there keeps publishing ``update_rate`` scores per second into the view
(the hot path the lookup shares a loop with). The client, in this process, keeps
``concurrency`` requests in flight until ``requests`` are done and times each one.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import numpy as np
from prometheus_client import CollectorRegistry

from streams.app.scoreview import ScoreView
from streams.contracts.events import SCHEMA_VERSION, Score


@dataclass(frozen=True)
class LookupBench:
    requests: int
    concurrency: int
    mints: int
    update_rate: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    per_s: float
    not_found: int
    server_p50_ms: float  # inside the handler (no network stack, no client)
    server_p99_ms: float


def _score(i: int, ts: int, kind: str = "buy") -> Score:
    return Score(
        schema_version=SCHEMA_VERSION, type="score", event_id=f"bench-{kind}-{i}-{ts}:s", ts=ts,
        mint=f"BenchMint{i:07d}", source_event_id=f"bench-{kind}-{i}-{ts}", kind=kind,
        wallet="W" if kind == "buy" else None, creator="C", scored_at=ts, price=3e-8,
        scores={"reach_2x_1h": 0.2, "reach_3x_30m": 0.1, "reach_2x_10m": 0.1, "is_dead_soon": 0.3},
        rule_score=0.25, source="model", models={"reach_2x_1h": "standard__reach_2x_1h@1"},
        percentile_1h=0.5, feature_set="bench",
    )  # fmt: skip


class _BenchWorker:
    """What WorkerHttp reads, over a view filled with synthetic scores."""

    def __init__(self, mints: int) -> None:
        self.view = ScoreView(max_mints=mints)
        now = int(time.time() * 1000)
        for i in range(mints):
            self.view.update([_score(i, now, "genesis"), _score(i, now)], now / 1000)
        self.metrics_registry = CollectorRegistry()

    def readiness(self) -> tuple[bool, str]:
        return True, "bench"

    def owner_partition(self, mint: str) -> tuple[int | None, bool]:
        return 0, True  # the only worker: it owns every shard

    def owned_shards(self) -> list[int]:
        return [0]


def _serve(conn: Connection, mints: int, update_rate: float) -> None:
    from streams.app.http import WorkerHttp

    async def main() -> None:
        worker = _BenchWorker(mints)
        timings: list[float] = []
        http = WorkerHttp(worker, "127.0.0.1", 0, timings=timings)
        await http.start()
        conn.send(http.port)
        batch, n = max(1, int(update_rate / 20)), 0
        while not conn.poll():  # the hot path: score updates every 50 ms until told to stop
            if update_rate > 0:
                ts = int(time.time() * 1000)
                worker.view.update([_score((n + k) % mints, ts) for k in range(batch)], ts / 1e3)
                n += batch
            await asyncio.sleep(0.05)
        conn.recv()
        conn.send(timings)
        await http.stop()

    asyncio.run(main())


async def _load(
    port: int, mints: int, requests: int, concurrency: int
) -> tuple[list[float], int, float]:
    import aiohttp

    rng = random.Random(7)
    latencies: list[float] = []
    missing = 0
    left = requests
    async with aiohttp.ClientSession() as session:

        async def client() -> None:
            nonlocal left, missing
            while left > 0:
                left -= 1
                url = f"http://127.0.0.1:{port}/scores/BenchMint{rng.randrange(mints):07d}"
                started = time.perf_counter()
                async with session.get(url) as resp:
                    await resp.read()
                latencies.append(time.perf_counter() - started)
                missing += resp.status == 404

        await asyncio.gather(*(client() for _ in range(min(concurrency, 20))))  # warm-up
        latencies.clear()
        left = requests
        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies, missing, time.perf_counter() - started


def run_lookup_bench(
    requests: int = 5000, concurrency: int = 4, mints: int = 50_000, update_rate: float = 2000.0
) -> LookupBench:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(child, mints, update_rate), daemon=True)
    proc.start()
    try:
        if not parent.poll(120):
            raise RuntimeError("the bench server did not start")
        port = int(parent.recv())
        latencies, missing, wall = asyncio.run(_load(port, mints, requests, concurrency))
    finally:
        parent.send("stop")
        server: list[float] = parent.recv() if parent.poll(30) else []
        proc.join(30)
        if proc.is_alive():
            proc.kill()
    ms = np.array(latencies) * 1000.0
    inside = np.array(server[-len(latencies) :] or [float("nan")]) * 1000.0  # the timed ones
    return LookupBench(
        requests=len(latencies), concurrency=concurrency, mints=mints, update_rate=update_rate,
        p50_ms=float(np.percentile(ms, 50)), p90_ms=float(np.percentile(ms, 90)),
        p99_ms=float(np.percentile(ms, 99)), max_ms=float(ms.max()),
        per_s=len(latencies) / wall, not_found=missing,
        server_p50_ms=float(np.percentile(inside, 50)), server_p99_ms=float(np.percentile(inside, 99)),
    )  # fmt: skip
