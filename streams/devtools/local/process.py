"""Process plumbing shared by the local brokers: free ports, readiness, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from confluent_kafka.admin import AdminClient

STOP_GRACE_S = 15.0


class BrokerNotReady(RuntimeError):
    """The broker process exited or did not answer in time; the message ends with its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def log_tail(log_path: Path, lines: int = 40) -> str:
    if not log_path.exists():
        return f"(no log at {log_path})"
    text = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def port_open(bootstrap: str, timeout_s: float = 0.5) -> bool:
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except OSError:
        return False


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a metadata request through AdminClient returns at least one broker."""
    # A plain TCP probe first keeps librdkafka from logging "connection refused" while we wait.
    if not port_open(bootstrap):
        return False
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 2000}
    )
    try:
        meta = admin.list_topics(timeout=timeout_s)
    except Exception:  # KafkaException while the listener is not up yet
        return False
    return bool(meta.brokers)


def wait_until_answers(
    bootstrap: str, proc: subprocess.Popen[bytes] | None, log_path: Path, timeout_s: float
) -> None:
    """Poll the broker until it answers metadata; fail fast (with the log) if the process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerNotReady(
                f"broker exited with code {proc.returncode} before it was ready; "
                f"log {log_path}:\n{log_tail(log_path)}"
            )
        if broker_answers(bootstrap):
            return
        time.sleep(0.25)
    raise BrokerNotReady(
        f"broker at {bootstrap} not ready after {timeout_s:.0f}s; log {log_path}:\n{log_tail(log_path)}"
    )


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> int:
    """SIGTERM the process group, wait ``grace_s``, then SIGKILL; returns the exit code."""
    if proc.poll() is not None:
        return proc.returncode
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=grace_s)


def stop_pid(pid: int, grace_s: float = STOP_GRACE_S) -> bool:
    """Stop a process we did not spawn in this interpreter (e.g. from a pid file).

    Returns False when it was not running.
    """
    if not pid_alive(pid):
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    return True


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    # Brokers are started in their own session, so their group id is their pid.
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


class LocalBroker:
    """Lifecycle shared by the local brokers: a subprocess in its own group on a loopback port.

    Subclasses are dataclasses with ``port`` and ``_proc`` fields; they implement ``start`` and
    ``log_path`` and may set ``stop_grace_s``.
    """

    port: int
    _proc: subprocess.Popen[bytes] | None
    stop_grace_s: float = STOP_GRACE_S
    ready_timeout_s: float = 60.0

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        raise NotImplementedError

    def wait_ready(self, timeout_s: float | None = None) -> Self:
        wait_until_answers(
            self.bootstrap, self._proc, self.log_path, timeout_s or self.ready_timeout_s
        )
        return self

    def stop(self) -> int | None:
        """SIGTERM to the process group, then SIGKILL after the grace period."""
        if self._proc is None:
            return None
        code = stop_process(self._proc, grace_s=self.stop_grace_s)
        self._proc = None
        return code

    def log_tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def __enter__(self) -> Self:
        self.start()
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def scrape(port: int, name: str, timeout_s: float = 5.0) -> float | None:
    """The sum of a metric's samples named exactly ``name`` (a ``name{labels}`` string picks one
    labelled series) on a local /metrics endpoint; None while nothing answers there."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout_s) as r:
            text = r.read().decode()
    except OSError:
        return None
    prefixes = (name + " ",) if "{" in name else (name + " ", name + "{")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefixes))  # fmt: skip


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc; None elsewhere)."""
    import os
    from pathlib import Path

    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_run_waits_ns(pid: int) -> dict[int, int] | None:
    """Per thread alive now: ns it has spent runnable but waiting for a core (Linux
    schedstat; None where unreadable)."""
    from pathlib import Path

    waits: dict[int, int] = {}
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                waits[int(task.name)] = int((task / "schedstat").read_text().split()[1])
            except FileNotFoundError:
                continue  # the thread ended between listing and reading
    except (OSError, IndexError, ValueError):
        return None
    return waits


def run_wait_between_s(before: dict[int, int] | None, after: dict[int, int] | None) -> float | None:
    """Run-queue wait s between two readings of one process: the threads alive at the second,
    each from its first reading (or from 0 if it started since). A thread that ended between
    them is missed, so this never counts wait that did not happen."""
    if before is None or after is None:
        return None
    return sum(ns - before.get(tid, 0) for tid, ns in after.items()) / 1e9
