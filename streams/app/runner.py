"""Run a worker in-process (tests, demo) or as a subprocess (``alphastream worker``)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from streams.app.faust_app import StreamWorker, WorkerOptions, create_app
from streams.settings import ENV_PREFIX, Settings
from streams.topics import TopicNames


async def run_worker(
    settings: Settings, stop: asyncio.Event, options: WorkerOptions | None = None, **kwargs: Any
) -> StreamWorker:
    """Run one worker in the current event loop until ``stop`` is set; returns its state."""
    app = create_app(settings, options, **kwargs)
    worker: StreamWorker = app.alphastream  # type: ignore[attr-defined]
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()
        await worker.stop()
    return worker


def settings_env(settings: Settings) -> dict[str, str]:
    """The ALPHASTREAM_* environment that reproduces ``settings`` in a child process."""
    env: dict[str, str] = {}
    for name, value in settings.masked().items():
        if value is None:
            continue
        real = getattr(settings, name)
        text = real.get_secret_value() if hasattr(real, "get_secret_value") else str(value)
        env[ENV_PREFIX + name.upper()] = text
    return env


def launch_worker(
    settings: Settings,
    *,
    topic_prefix: str = "",
    metrics_port: int = 0,
    log_path: Path | None = None,
    extra_args: list[str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``alphastream worker`` as a child process configured by ``settings``."""
    env = {**os.environ, **settings_env(settings)}
    args = [str(Path(sys.executable).parent / "alphastream"), "worker"]
    if topic_prefix:
        args += ["--topic-prefix", topic_prefix]
    args += ["--metrics-port", str(metrics_port)]
    args += extra_args or []
    if log_path is None:
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)


__all__ = ["TopicNames", "WorkerOptions", "launch_worker", "run_worker"]
