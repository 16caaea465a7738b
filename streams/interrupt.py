"""Ctrl-C that survives C extensions.

A KeyboardInterrupt raised while confluent-kafka runs a delivery callback inside ``poll`` comes
out as ``SystemError: <method 'poll' ...> returned NULL without setting an exception``
(confluent-kafka 2.16.1, reproduced with a producer polling under load). Handlers installed
here set a flag before raising, so the caller can still tell the error was an interrupt.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

__all__ = ["install_interrupt", "restore_handlers"]


def install_interrupt(
    interrupt: threading.Event, signals: tuple[signal.Signals, ...] = (signal.SIGINT,)
) -> dict[signal.Signals, Any]:
    """These signals set ``interrupt`` and raise KeyboardInterrupt; returns the handlers they
    replaced (nothing off the main thread, where Python cannot install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        interrupt.set()
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, on_signal) for sig in signals}


def restore_handlers(previous: dict[signal.Signals, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
