"""The checkpoint writer: the local commit (rocksdb backend, every worker) and the Kafka chain
(one writer, the owner of shard 0), taken between steps of the hot loop.

What stalls the hot loop is serializing values. A base serializes every value; a delta only the
ones changed since the previous checkpoint (the stores track them), so the writer rebases only
every ``max_deltas`` checkpoints, or sooner when its deltas add up to more than its base
(``rebase_ratio``) and to more than a few MB: a restore reads the whole chain.
Compressing and writing run on a background thread, one at a time: a checkpoint that falls due
while the previous one is still being written waits for it (a skipped delta would break the
chain), and a failed write makes the next checkpoint a base. With ``serialize_in_child`` (the
worker's default on the in-memory backend) the values are serialized and compressed in a forked
child instead (``streams.checkpoints.forked``): the hot loop pays for the fork, not for the values.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from streams.checkpoints.codec import (
    Changes,
    Manifest,
    checkpoint_records,
    encode_changes,
    encode_snapshot,
    tombstones,
)
from streams.checkpoints.forked import (
    ChildFailed,
    detach_changes,
    forkable,
    serialize_in_child,
)
from streams.checkpoints.local import LocalState
from streams.checkpoints.memory import CheckpointTopic
from streams.features.state import EngineState

log = logging.getLogger(__name__)


def _ignore(_manifest: Manifest) -> None:
    return None


@dataclass(slots=True)
class StallCosts:
    """What the hot loop paid, last time, to fork and per value serialized in its thread."""

    fork_s: float | None = None  # None: no fork yet (a delta forks, and so measures it)
    value_s: float = 10e-6  # per changed value (measured ~10 us); re-measured by in-thread deltas

    def fork_is_cheaper(self, state: EngineState) -> bool:
        changed = sum(len(store.dirty) for store in state.stores().values())
        return self.fork_s is None or changed * self.value_s >= self.fork_s

    def values_serialized(self, n: int, seconds: float) -> None:
        if n >= 100:  # a few values time the call, not the values
            self.value_s = seconds / n


class Checkpointer:
    def __init__(
        self, topic: CheckpointTopic | None, local: LocalState | None, feature_set: str,
        interval_s: float, *, on_written: Callable[[Manifest], None] = _ignore,
        max_deltas: int = 30, rebase_ratio: float = 1.0,
        rebase_min_bytes: int = 4 << 20, inherited: Sequence[Manifest] = (),
        serialize_in_child: bool = False,
    ) -> None:  # fmt: skip
        self.topic = topic
        self.local = local
        self.feature_set = feature_set
        self.interval_s = interval_s
        self.on_written = on_written
        self.max_deltas = max_deltas
        self.rebase_ratio = rebase_ratio  # rebase once the deltas add up to this many bases
        self.rebase_min_bytes = rebase_min_bytes  # ... and to this many bytes (small: cheap)
        self.serialize_in_child = serialize_in_child  # where possible (in-memory stores, POSIX)
        self.writer = f"{socket.gethostname()[:24]}-{uuid.uuid4().hex[:8]}"
        self.epoch = 0
        self.chain: list[Manifest] = []  # the current chain, base first
        self._fallback: list[Manifest] = []  # the chain before it, kept until the next base
        # checkpoints of earlier writers (found at restore): dropped once two chains of ours
        # are further along the log than they are
        self.inherited: list[Manifest] = list(inherited)
        self._chain_open = False  # the next Kafka checkpoint may be a delta of ``chain``
        self._next_at = time.monotonic() + interval_s
        self._upload: threading.Thread | None = None
        self.last: Manifest | None = None
        self.costs = StallCosts()
        # where the last checkpoint's values were serialized: "loop" or "child"
        self.serialized_in = "loop"

    def due(self, now: float) -> bool:
        return self.interval_s > 0 and now >= self._next_at

    def take(self, engine: Any, position: int, *, to_kafka: bool) -> bool:
        """Checkpoint ``engine`` as the state after log offset ``position - 1``; False if the
        previous write is still running (the caller tries again at its next step)."""
        if self._upload is not None and self._upload.is_alive():
            return False
        self._next_at = time.monotonic() + self.interval_s
        created_ms = int(time.time() * 1000)
        self.epoch += 1
        changes: Changes | None = None
        if self.local is not None:
            marker = Manifest(self.writer, self.epoch, position, engine.watermark, self.feature_set,
                              created_ms, 0, 0, 0)  # fmt: skip
            commit = self.local.begin(marker)
            self.local.write(commit)
            changes, self.last = commit.changes, marker
        if not to_kafka or self.topic is None:
            self._chain_open = False
            if self.local is None:
                engine.state.forget_changes()  # no chain to feed: keep the change sets small
            else:
                self.on_written(marker)
            return True
        base_epoch, blob = self._payload(engine, changes)
        args = (blob, position, engine.watermark, created_ms, self.epoch, base_epoch)
        self._upload = threading.Thread(target=self._write, args=args, name="checkpoint",
                                        daemon=True)  # fmt: skip
        self._upload.start()
        return True

    def _payload(self, engine: Any, changes: Changes | None
                 ) -> tuple[int | None, Callable[[], bytes]]:  # fmt: skip
        """(base epoch, what makes the delta's blob) or (None, what makes a base's blob); the
        blob is made on the upload thread, by a forked child when ``serialize_in_child``."""
        deltas = self.chain[1:]
        size = sum(m.size for m in deltas)
        rebase = (not self._chain_open or len(deltas) >= self.max_deltas
                  or size > max(self.rebase_ratio * self.chain[0].size, self.rebase_min_bytes))  # fmt: skip
        child = self.serialize_in_child and changes is None and forkable(engine.state)
        self.serialized_in = "loop"
        if not rebase:
            return self.chain[0].epoch, self._delta(engine, changes, child)
        make: Callable[[], bytes]
        if child:
            started = time.perf_counter()
            make = serialize_in_child(engine.state, None).result
            self.costs.fork_s = time.perf_counter() - started
            self.serialized_in = "child"
        else:
            make = partial(encode_snapshot, engine.state.snapshot())
        if self.local is None:
            engine.state.forget_changes()  # the base holds them
        self._chain_open = True
        return None, make

    def _delta(self, engine: Any, changes: Changes | None, child: bool) -> Callable[[], bytes]:
        """A delta is serialized where it stalls the loop less: a few changed values cost less
        than a fork of the whole process, many cost more (both costs measured as it goes)."""
        if changes is not None:
            return partial(encode_changes, changes)
        started = time.perf_counter()
        if child and self.costs.fork_is_cheaper(engine.state):
            make = serialize_in_child(engine.state, detach_changes(engine.state)).result
            self.costs.fork_s = time.perf_counter() - started
            self.serialized_in = "child"
            return make
        payload = engine.state.drain_changes()
        self.costs.values_serialized(sum(len(p) for p, _ in payload.values()),
                                     time.perf_counter() - started)  # fmt: skip
        return partial(encode_changes, payload)

    def _write(self, make_blob: Callable[[], bytes], position: int, watermark: int,
               created_ms: int, epoch: int, base_epoch: int | None) -> None:  # fmt: skip
        assert self.topic is not None
        try:
            blob = make_blob()
            manifest, records = checkpoint_records(
                self.writer, epoch, log_offset=position, watermark=watermark,
                feature_set=self.feature_set, created_ms=created_ms, blob=blob,
                base_epoch=base_epoch,
            )  # fmt: skip
            if base_epoch is None:  # the chain before the current one is not needed any more
                records += tombstones(self._fallback + self._superseded())
            self.topic.write(records)
        except Exception as exc:  # a failed child says why itself; anything else: traceback
            log.error("checkpoint at log offset %d not written: %s", position, exc,
                      exc_info=not isinstance(exc, ChildFailed))  # fmt: skip
            self._chain_open = False
            return
        if base_epoch is None:
            self._fallback, self.chain = self.chain, [manifest]
        else:
            self.chain.append(manifest)
        self.last = manifest
        self.on_written(manifest)
        log.info("checkpoint %d (chain %d) at log offset %d: %d bytes", epoch, manifest.chain,
                 position, len(blob))  # fmt: skip

    def _superseded(self) -> list[Manifest]:
        """Inherited checkpoints at or before our current chain's base (our new base makes it
        the fallback, so a restore never needs them); they are taken off ``inherited``."""
        if not self.chain:
            return []
        floor = self.chain[0].log_offset
        old = [
            m
            for m in self.inherited
            if m.writer != self.writer
            and m.log_offset <= floor
            and m.feature_set == self.feature_set
        ]  # another version may still need its own
        self.inherited = [m for m in self.inherited if m not in old]
        return old

    def wait(self, timeout_s: float = 60.0) -> None:
        if self._upload is not None:
            self._upload.join(timeout_s)

    def final(self, engine: Any, position: int, *, to_kafka: bool, timeout_s: float = 60.0) -> None:
        """The last checkpoint before stopping: after any running write, and written."""
        self.wait(timeout_s)
        self.take(engine, position, to_kafka=to_kafka)
        self.wait(timeout_s)
