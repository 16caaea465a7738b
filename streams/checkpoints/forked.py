"""Serializing a checkpoint in a forked child, so the worker's hot loop does not.

A base serializes every value of the engine state, a delta every value changed since the
previous checkpoint; in the hot loop either stalls scoring for as long (a base of one market
hour, ~35k values: ~0.4 s, then ~0.3 s of framing and zlib on a thread that holds the GIL). A
forked child sees the state exactly as it is at the checkpoint's log offset (copy-on-write
pages), so it serializes and compresses it and hands the blob back through a pipe while the
parent scores on. The hot loop pays for the fork (copying the page tables: ~15 ms at 250 MB
resident) and for taking the changed keys out of the stores.

In-memory stores only: the RocksDB backend's stores hold a database handle a child must not
touch, and its Kafka checkpoint reuses the local commit's batch anyway.
"""

from __future__ import annotations

import gc
import os
import signal
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.checkpoints.codec import Changes, encode_changes, snapshot_changes
from streams.features.state import EngineState, InMemoryStore

OK, FAILED = b"\x00", b"\x01"  # the first byte the child writes: a blob follows, or an error

ChangedKeys = Mapping[str, tuple[set[str], set[str]]]  # store -> (changed keys, deleted keys)


class ChildFailed(RuntimeError):
    """The child could not serialize the checkpoint (the parent writes a base next time)."""


def forkable(state: EngineState) -> bool:
    return hasattr(os, "fork") and _in_memory(state)


def _in_memory(state: EngineState) -> bool:
    return all(isinstance(store, InMemoryStore) for store in state.stores().values())


def detach_changes(state: EngineState) -> dict[str, tuple[set[str], set[str]]]:
    """Every store's changed and deleted keys, taken out (what the next delta holds)."""
    return {name: store.detach() for name, store in _memory_stores(state).items()}


def payload_of(state: EngineState, changed: ChangedKeys | None) -> Changes:
    """What the checkpoint holds: every value (``changed`` None: a base) or the ``changed``
    keys' values and deletions (a delta) -- the same as ``snapshot`` / ``drain_changes``."""
    if changed is None:
        return snapshot_changes(state.snapshot())
    stores = _memory_stores(state)
    return {name: stores[name].serialize(*keys) for name, keys in changed.items()}


@dataclass(slots=True)
class ChildSerializer:
    """A running child; :meth:`result` waits for its blob (call it off the hot loop)."""

    pid: int
    fd: int

    def result(self) -> bytes:
        with os.fdopen(self.fd, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 or data[:1] != OK:
            detail = data[1:].decode(errors="replace") if data[:1] == FAILED else "no blob"
            raise ChildFailed(f"checkpoint child {self.pid} exited {code}: {detail}")
        return data[1:]


def serialize_in_child(state: EngineState, changed: ChangedKeys | None) -> ChildSerializer:
    """Fork; the child encodes :func:`payload_of` ``(state, changed)`` into the pipe and exits."""
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns on fork with threads: the child uses none
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        os._exit(_child(state, changed, write_fd))  # no atexit, no finalizers of the parent's
    os.close(write_fd)
    return ChildSerializer(pid, read_fd)


def _child(state: EngineState, changed: ChangedKeys | None, fd: int) -> int:
    code = 0
    try:
        gc.disable()  # a collection would only touch (and copy) every page of the state
        _detach_signals()
        out = OK + encode_changes(payload_of(state, changed))
    except BaseException as exc:  # reported to the parent, which logs it
        out, code = FAILED + repr(exc).encode(), 1
    try:
        view = memoryview(out)
        while view:
            view = view[os.write(fd, view) :]
    except OSError:  # the parent is gone
        return 2
    return code


def _detach_signals() -> None:
    """A signal to the child must not run the parent's handlers (faust's asyncio handlers
    write the signal number into a wakeup socket the child shares with the parent)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.set_wakeup_fd(-1)


def _memory_stores(state: EngineState) -> dict[str, InMemoryStore[Any]]:
    if not _in_memory(state):
        raise TypeError("only in-memory stores are serialized in a child")
    return state.stores()  # type: ignore[return-value]
