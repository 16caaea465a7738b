"""Ctrl-C and SIGTERM: the flag is set before KeyboardInterrupt is raised, so an interrupt that a
C extension turned into another error still ends the run as interrupted (demo and CLI)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

import streams.cli as cli
from streams.interrupt import install_interrupt, restore_handlers


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_sets_the_flag_and_raises(sig: signal.Signals) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    interrupt = threading.Event()
    previous = install_interrupt(interrupt, (signal.SIGINT, signal.SIGTERM))
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), sig)
            interrupt.wait(5)  # the handler sets it and raises (at the latest in this wait)
        assert interrupt.is_set()
    finally:
        restore_handlers(previous)
    assert {s: signal.getsignal(s) for s in before} == before


def test_off_the_main_thread_nothing_is_installed() -> None:
    got: list[object] = []
    thread = threading.Thread(target=lambda: got.append(install_interrupt(threading.Event())))
    thread.start()
    thread.join()
    assert got == [{}]


def _swallowing_command() -> None:
    """What confluent-kafka's poll does with a Ctrl-C during a delivery callback."""
    try:
        os.kill(os.getpid(), signal.SIGINT)
        threading.Event().wait(5)  # blocked in a call, as poll is, until the handler raises
    except KeyboardInterrupt:
        raise SystemError("<method 'poll'> returned NULL without setting an exception") from None


@pytest.fixture
def keep_sigint() -> object:
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.usefixtures("keep_sigint")
def test_the_cli_reports_an_interrupt_that_became_another_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cli._register()  # command modules import the real app before it is replaced
    monkeypatch.setattr(cli, "app", _swallowing_command)
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code == 130


@pytest.mark.usefixtures("keep_sigint")
def test_the_cli_passes_other_errors_through(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise SystemError("a real bug")

    cli._register()
    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemError, match="a real bug"):
        cli.main()
