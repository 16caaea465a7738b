"""Ctrl-C and SIGTERM during the demo: the flag is set before KeyboardInterrupt is raised, so an
interrupt that a C extension turned into another error still ends the run as interrupted."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from streams.demo.run import _install_interrupt


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_sets_the_flag_and_raises(sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupt = threading.Event()
    previous = _install_interrupt(interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
            time.sleep(5)  # the handler runs at the next bytecode boundary
        assert interrupt.is_set()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert {s: signal.getsignal(s) for s in before} == before


def test_off_the_main_thread_nothing_is_installed() -> None:
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(_install_interrupt(threading.Event())))
    thread.start()
    thread.join()
    assert got == [{}]
