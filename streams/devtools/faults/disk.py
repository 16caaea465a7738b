"""The disk-full row: one worker with ``state_backend=rocksdb`` whose ``state_dir`` is on a small
tmpfs of its own; mid-run the filesystem is filled to the last byte. The worker must stop with a
non-zero exit and say why; once the filler is removed a new worker starts on the same state dir
and every buy is scored, with features equal to the offline replay.

Needs root (``mount -t tmpfs``); without it the row raises :class:`Untestable`.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

from streams.devtools.faults.scenario import Scenario, _wait_gauge

FS_SIZE = "64m"
EXIT_TIMEOUT_S = 10.0  # a worker that fails loudly exits well within this
RECOVER_S = 5.0  # space back: time given to a worker still running to commit again
STOP_TIMEOUT_S = 5.0  # more is not needed: a worker on a broken RocksDB does not stop (README)
_ERROR_LINE = re.compile(r"(No space|ENOSPC|IO error|Error|error)")


class Untestable(RuntimeError):
    """The machine cannot give the row a filesystem of its own."""


def mount_tmpfs(mount: Path, size: str) -> None:
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        raise Untestable(f"mount -t tmpfs failed: {done.stderr.strip()}")


def unmount(mount: Path) -> None:
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(mount: Path) -> int:
    """Write a filler file until the filesystem refuses; returns the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 20)
    with (mount / "filler").open("wb", buffering=0) as fh:
        while True:
            try:
                written += fh.write(chunk)
            except OSError:
                break
        try:  # the last partial MiB
            while fh.write(b"\0" * 4096):
                written += 4096
        except OSError:
            pass
    return written


def setup_disk(sc: Scenario) -> None:
    """The state dir on a tmpfs of FS_SIZE; checkpoints (RocksDB commits) every second."""
    mount = sc.work_dir / "state_fs"
    mount_tmpfs(mount, FS_SIZE)
    sc.cleanups.append(lambda: unmount(mount))
    update = {"state_backend": "rocksdb", "state_dir": mount / "state",
              "checkpoint_interval_s": 1.0}  # fmt: skip
    sc.settings = sc.settings.model_copy(update=update)
    sc.state["mount"] = mount


def disk_full(sc: Scenario) -> None:
    """Fill the state filesystem; wait for the worker to exit; free the space; if it is still
    running, give it RECOVER_S to commit again in place, then stop it; start a new worker."""
    mount: Path = sc.state["mount"]
    victim = sc.procs[0]
    log = sc.work_dir / "worker0.log"
    sc.fault_start_s = time.time()
    filled = fill(mount)
    code = _wait_exit(victim, EXIT_TIMEOUT_S)
    exited_s = time.time() - sc.fault_start_s
    commits_full = _local_commits(log)
    (mount / "filler").unlink()
    stopped: int | None = code
    if code is None:  # still running on a full disk: does it commit again once space is back?
        time.sleep(RECOVER_S)
        victim.send_signal(signal.SIGTERM)
        stopped = _wait_exit(victim, STOP_TIMEOUT_S)
        if stopped is None:
            victim.kill()
            victim.wait(30)
    sc.notes["disk"] = {
        "filled_bytes": filled,
        "exit_code": code,
        "exited_after_s": round(exited_s, 3) if code is not None else None,
        "failed_checkpoints": _count(log, "writing a checkpoint failed"),
        "local_commits_after_space_back": _local_commits(log) - commits_full,
        "sigterm_exit_code": None if code is not None else stopped,
        "error_lines": _error_lines(log),
    }
    sc.launch()
    sc.fault_end_s = time.time()
    ready = _wait_gauge(sc.metrics_ports[-1:], "alphastream_assignment_planned", 120)
    sc.notes["disk"]["restart_planned_s"] = (
        round(time.time() - sc.fault_end_s, 3) if ready else None
    )


def _wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        return None


def _count(log: Path, text: str) -> int:
    try:
        return log.read_text(encoding="utf-8", errors="replace").count(text)
    except OSError:
        return 0


def _local_commits(log: Path) -> int:
    return _count(log, "local checkpoint ")


def _error_lines(log: Path, limit: int = 3) -> list[str]:
    """The last lines of the worker's log that name an error (what an operator would see)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    found = [ln.strip()[:300] for ln in lines if _ERROR_LINE.search(ln)]
    return found[-limit:]
