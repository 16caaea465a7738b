"""What ``bench e2e`` reads off the running pipeline's processes: metrics and CPU shares."""

from __future__ import annotations

import time

from streams.devtools.local.process import scrape


def metric_value(port: int, name: str) -> float:
    value = scrape(port, name, timeout_s=10.0)
    if value is None:
        raise OSError(f"no metrics on port {port}")
    return value


def gc_pauses_of(port: int, prefix: str) -> tuple[float, float]:
    """A process's cyclic-GC pause seconds so far, and how many pauses were over 50 ms."""
    name = f"{prefix}_gc_pause_seconds"
    under = sum(metric_value(port, f'{name}_bucket{{generation="{g}",le="0.05"}}') for g in "012")
    return metric_value(port, f"{name}_sum"), metric_value(port, f"{name}_count") - under


def wait_metric(port: int, name: str, value: float, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if metric_value(port, name) == value:
                return True
        except OSError:
            pass  # not serving yet
        time.sleep(0.25)
    return False


def cpu_share_between(before: dict[str, float | None], after: dict[str, float | None],
                      wall_s: float) -> dict[str, float | None]:  # fmt: skip
    """CPU seconds per wall second of each process between two readings (None: unreadable)."""
    return {k: None if (a := after[k]) is None or (b := before[k]) is None else (a - b) / wall_s
            for k in after}  # fmt: skip
