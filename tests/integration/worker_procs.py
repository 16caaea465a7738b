"""Helpers for integration tests that run single workers as subprocesses: start one and wait
until it planned its partitions, stop it, read its log and its metrics."""

from __future__ import annotations

import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from streams.app import launch_worker
from streams.devtools.harness import wait_group_settled, wait_workers_planned
from streams.settings import Settings


def start_worker(
    settings: Settings, prefix: str, log: Path, metrics_port: int
) -> subprocess.Popen[bytes]:
    """One worker that has joined its group and built (or restored) its engine."""
    proc = launch_worker(settings, topic_prefix=prefix, log_path=log, metrics_port=metrics_port)
    joined = wait_group_settled(settings, settings.app_id, 1, timeout_s=90)
    if not (joined and wait_workers_planned([log], timeout_s=60)):
        proc.kill()
        raise AssertionError(f"worker did not join its group; log in {log}")
    return proc


def stop_worker(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def wait_for_log(log: Path, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = pattern.search(log.read_text(errors="replace")) if log.exists() else None
        if found:
            return found
        time.sleep(0.5)
    return None


def metric(port: int, name: str) -> float:
    """Sum of a Prometheus metric's samples (all label sets) from a worker's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))
