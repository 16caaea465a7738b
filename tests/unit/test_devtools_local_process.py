"""Process plumbing of the local brokers, exercised on plain OS processes (no broker)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.devtools.local.process import (
    BrokerNotReady,
    broker_answers,
    free_port,
    log_tail,
    pid_alive,
    process_cpu_s,
    run_wait_between_s,
    stop_pid,
    stop_process,
    thread_run_waits_ns,
    wait_until_answers,
)

# A child that stays alive until it is stopped (60 s at most: a failed stop leaves no orphan).
IDLE = "import threading; threading.Event().wait(60)"


def _spawn(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True)


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
    assert 0 < port < 65536


def test_nothing_listening_is_not_a_broker() -> None:
    assert broker_answers(f"127.0.0.1:{free_port()}") is False


def test_log_tail_returns_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    assert log_tail(log, 3) == "line 97\nline 98\nline 99"
    assert "no log" in log_tail(tmp_path / "missing.log")


def test_a_process_that_exits_fails_fast_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("ERROR could not bind the listener\n")
    proc = _spawn("raise SystemExit(3)")
    proc.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(BrokerNotReady, match="code 3") as err:
        wait_until_answers(f"127.0.0.1:{free_port()}", proc, log, timeout_s=30)
    assert "could not bind the listener" in str(err.value)
    assert time.monotonic() - started < 10  # did not sit out the timeout


def test_no_answer_times_out_with_the_log(tmp_path: Path) -> None:
    log = tmp_path / "broker.log"
    log.write_text("still starting\n")
    with pytest.raises(BrokerNotReady, match="not ready") as err:
        wait_until_answers(f"127.0.0.1:{free_port()}", None, log, timeout_s=0.5)
    assert "still starting" in str(err.value)


def test_stop_process_terminates_with_sigterm() -> None:
    proc = _spawn(IDLE)
    assert stop_process(proc, grace_s=10) == -signal.SIGTERM


def test_stop_process_escalates_to_sigkill_when_sigterm_is_ignored() -> None:
    code = (
        "import signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        f"{IDLE}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert stop_process(proc, grace_s=0.5) == -signal.SIGKILL
    proc.stdout.close()


def test_stop_pid_stops_a_process_known_only_by_pid() -> None:
    proc = _spawn(IDLE)
    assert pid_alive(proc.pid)
    # grace 0: straight to SIGKILL (our own child stays a zombie, still 'alive', until reaped).
    assert stop_pid(proc.pid, grace_s=0.0) is True
    proc.wait(timeout=10)
    assert not pid_alive(proc.pid)
    assert stop_pid(proc.pid) is False


# Burns 0.4 s of its own CPU on core 0, says so, then waits for stdin to close (a bounded
# amount of work, not a duration).
SPIN = (
    "import os, sys, time; os.sched_setaffinity(0, {0})\n"
    "while time.process_time() < 0.4: pass\n"
    "print('done', flush=True); sys.stdin.read()"
)


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="Linux /proc only")
def test_run_wait_counts_the_time_a_process_waited_for_a_core() -> None:
    # two spinners pinned to one core: each is runnable while the other runs
    spinners = [
        subprocess.Popen(
            [sys.executable, "-c", SPIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        for _ in range(2)
    ]
    try:
        for p in spinners:
            assert p.stdout is not None and p.stdout.readline() == b"done\n"
        waited_s = [run_wait_between_s({}, thread_run_waits_ns(p.pid)) for p in spinners]
        cpu_s = [process_cpu_s(p.pid) for p in spinners]
    finally:
        for p in spinners:
            p.communicate(timeout=30)
    assert all(w is not None and w > 0.1 for w in waited_s), (waited_s, cpu_s)
    assert thread_run_waits_ns(2**22 + 12345) is None  # no such process


def test_run_wait_between_counts_new_threads_from_zero_and_skips_ended_ones() -> None:
    before = {10: 1_000_000_000, 11: 500_000_000}  # thread 11 ends before the second reading
    after = {10: 1_250_000_000, 12: 100_000_000}  # thread 12 started in between
    assert run_wait_between_s(before, after) == pytest.approx(0.35)
    assert run_wait_between_s(None, after) is None and run_wait_between_s(before, None) is None


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="Linux /proc only")
def test_thread_waits_name_every_live_thread_of_this_process() -> None:
    import os
    import threading

    waits = thread_run_waits_ns(os.getpid())
    assert waits is not None and threading.get_native_id() in waits
    assert all(ns >= 0 for ns in waits.values())
