"""Helpers for integration tests that run the pipeline as subprocesses: start a sequencer and
wait until it leads, start a worker and wait until it took its shards over (metrics), stop them,
read their metrics."""

from __future__ import annotations

import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

from streams.app import launch_worker
from streams.devtools.harness import wait_group_settled
from streams.devtools.local.process import free_port
from streams.settings import Settings
from tests.waiting import poll_until


def start_worker(
    settings: Settings, prefix: str, log: Path, metrics_port: int
) -> subprocess.Popen[bytes]:
    """One worker that has joined its group and built (or restored) its engine. Its metrics
    are served on ``metrics_port`` (0: a free port, used only to see it planned)."""
    port = metrics_port or free_port()
    proc = launch_worker(settings, topic_prefix=prefix, log_path=log, metrics_port=port)
    joined = wait_group_settled(settings, settings.app_id, 1, timeout_s=90)
    if not (joined and wait_planned([port], timeout_s=60)):
        proc.kill()
        raise AssertionError(f"worker did not join its group; log in {log}")
    return proc


def start_sequencer(
    settings: Settings, prefix: str, log: Path, *, wait_leader: bool = True
) -> tuple[subprocess.Popen[bytes], int]:
    """A sequencer subprocess (and its metrics port); by default once it leads."""
    from streams.sequencer import launch_sequencer

    port = free_port()
    own = settings.model_copy(update={"topic_prefix": prefix, "sequencer_metrics_port": port})
    proc = launch_sequencer(own, log_path=log)
    if wait_leader and not wait_metric(port, "alphastream_sequencer_leader", 1, timeout_s=90):
        proc.kill()
        raise AssertionError(f"sequencer did not lead; log in {log}")
    return proc, port


def wait_metric(port: int, name: str, value: float, timeout_s: float) -> bool:
    return _wait_sample(port, name, lambda sample: sample == value, timeout_s)


def wait_metric_at_least(port: int, name: str, value: float, timeout_s: float) -> bool:
    return _wait_sample(port, name, lambda sample: sample >= value, timeout_s)


def _wait_sample(port: int, name: str, ok: Callable[[float], bool], timeout_s: float) -> bool:
    return poll_until(lambda: ok(_sample_or_zero(port, name)), timeout_s=timeout_s, interval_s=0.25)


def stop_worker(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(10)


def wait_planned(ports: list[int], timeout_s: float) -> bool:
    """Until every worker's ``alphastream_assignment_planned`` gauge is 1: each took over the
    shards of its latest assignment (the broker's view of the group, ``wait_group_settled``,
    does not show that)."""
    return poll_until(
        lambda: all(_sample_or_zero(port, "alphastream_assignment_planned") == 1 for port in ports),
        timeout_s=timeout_s,
        interval_s=0.25,
    )


def _sample_or_zero(port: int, name: str) -> float:
    try:
        return metric(port, name)
    except OSError:  # the worker is still starting its metrics server
        return 0.0


def metric(port: int, name: str) -> float:
    """Sum of a Prometheus metric's samples (all label sets) from a worker's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))
