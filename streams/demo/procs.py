"""Child processes of the demo: worker subprocesses (own process groups), readiness, pid file.

Every child runs in its own session so a terminal Ctrl-C reaches only the demo, which then stops
the children itself (SIGTERM to the group, SIGKILL after a grace period). Their pids are written
to ``<work_dir>/demo.pids`` so a later run can stop strays a killed (-9) demo left behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.app.runner import settings_env
from streams.devtools.local.process import free_port, log_tail, pid_alive, stop_pid, stop_process
from streams.settings import Settings

PID_FILE = "demo.pids"
# Only processes whose command line still says what we started are stopped from the pid file
# (the pid may have been reused by then).
_OURS = ("tansu", "alphastream")


class PhaseFailed(RuntimeError):
    """A demo phase could not complete; the message says which and why."""


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_strays(work_dir: Path) -> list[int]:
    """Stop children a previous, killed demo run left behind (from its pid file)."""
    path = work_dir / PID_FILE
    if not path.exists():
        return []
    stopped = []
    for line in path.read_text().split():
        pid = int(line) if line.isdigit() else 0
        if pid > 0 and pid_alive(pid) and any(word in _cmdline(pid) for word in _OURS):
            stop_pid(pid, grace_s=10.0)
            stopped.append(pid)
    return stopped


def record_pid(work_dir: Path, pid: int | None) -> None:
    if pid is not None:
        with (work_dir / PID_FILE).open("a") as fh:
            fh.write(f"{pid}\n")


@dataclass
class WorkerProcess:
    """One ``alphastream worker`` child with a Prometheus endpoint on a free port."""

    index: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    metrics_port: int

    def alive(self) -> bool:
        return self.proc.poll() is None

    def served_models(self, timeout_s: float = 2.0) -> set[str]:
        """``model_id@version`` labels this worker serves now (from its metrics)."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            text = response.read().decode()
        served = set()
        for family in text_string_to_metric_families(text):
            if family.name == "alphastream_model_info":
                served |= {s.labels["model"] for s in family.samples if s.value == 1.0}
        return served

    def failure(self) -> str:
        return f"worker {self.index} exited with code {self.proc.returncode}; log {self.log_path}:\n{log_tail(self.log_path, 30)}"


@dataclass
class WorkerPool:
    settings: Settings
    log_dir: Path
    topic_prefix: str = ""
    workers: list[WorkerProcess] = field(default_factory=list)
    sequencer: WorkerProcess | None = None  # writes the market log the workers replay

    def start(self, count: int, work_dir: Path) -> None:
        env = {**os.environ, **settings_env(self.settings)}
        exe = str(Path(sys.executable).parent / "alphastream")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.sequencer = self._start_sequencer(exe, env, work_dir)
        for i in range(count):
            port = free_port()
            args = [exe, "worker", "--metrics-port", str(port)]
            if self.topic_prefix:
                args += ["--topic-prefix", self.topic_prefix]
            log_path = self.log_dir / f"worker-{i}.log"
            with log_path.open("ab") as log:
                proc = subprocess.Popen(
                    args,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            record_pid(work_dir, proc.pid)
            self.workers.append(WorkerProcess(i, log_path, proc, port))

    def _start_sequencer(self, exe: str, env: dict[str, str], work_dir: Path) -> WorkerProcess:
        port = free_port()
        env = {**env, "ALPHASTREAM_SEQUENCER_METRICS_PORT": str(port),
               "ALPHASTREAM_TOPIC_PREFIX": self.topic_prefix}  # fmt: skip
        log_path = self.log_dir / "sequencer.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen([exe, "sequencer"], env=env, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # fmt: skip
        record_pid(work_dir, proc.pid)
        return WorkerProcess(-1, log_path, proc, port)

    def check_alive(self) -> None:
        if self.sequencer is not None and not self.sequencer.alive():
            raise PhaseFailed(self.sequencer.failure())
        for worker in self.workers:
            if not worker.alive():
                raise PhaseFailed(worker.failure())

    def wait_ready(self, timeout_s: float) -> float:
        """Wait until the consumer group is stable with every worker in it; returns seconds."""
        started = time.monotonic()
        admin = AdminClient(self.settings.kafka_client_config())
        group = self.settings.app_id
        while time.monotonic() - started < timeout_s:
            self.check_alive()
            if self._group_stable(admin, group) and self._metrics_up():
                return time.monotonic() - started
            time.sleep(0.5)
        raise PhaseFailed(
            f"workers not ready after {timeout_s:.0f}s (consumer group {group!r} not stable); "
            f"see {self.log_dir}"
        )

    def _group_stable(self, admin: AdminClient, group: str) -> bool:
        try:
            found = admin.describe_consumer_groups([group])[group].result(5)
        except Exception:  # coordinator not there yet
            return False
        # tansu reports a stable group without its members; Kafka lists them with assignments.
        members = list(found.members or [])
        stable = str(found.state).upper().endswith("STABLE")
        return stable and (not members or len(members) == len(self.workers))

    def _metrics_up(self) -> bool:
        try:
            for worker in self.workers:
                worker.served_models()
        except OSError:
            return False
        return True

    def wait_serving(self, labels: set[str], timeout_s: float) -> float:
        """Wait until every worker serves all ``labels`` (hot reload); returns seconds."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            self.check_alive()
            try:
                if all(labels <= w.served_models() for w in self.workers):
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.25)
        raise PhaseFailed(
            f"workers did not load {sorted(labels)} within {timeout_s:.0f}s; see {self.log_dir}"
        )

    def stop(self) -> list[int | None]:
        codes = [stop_process(w.proc, grace_s=20.0) if w.alive() else w.proc.returncode
                 for w in self.workers]  # fmt: skip
        self.workers = []
        if self.sequencer is not None:
            seq = self.sequencer
            codes.append(
                stop_process(seq.proc, grace_s=20.0) if seq.alive() else seq.proc.returncode
            )
            self.sequencer = None
        return codes
