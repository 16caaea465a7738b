"""Restore (load a checkpoint, then replay the log from its offset) and write checkpoints.

Where a worker's engine comes from, in order: its local RocksDB copy (rocksdb backend) if it is at
least as far along the log as the newest Kafka checkpoint; the newest complete Kafka checkpoint of
this feature set; else an empty engine that replays the whole retained log.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streams.app.checkpoint import (
    KEEP,
    Manifest,
    checkpoint_records,
    choose,
    decode_snapshot,
    encode_snapshot,
)
from streams.app.checkpoint_io import CheckpointLog
from streams.app.local_state import LocalState
from streams.app.metrics import WorkerMetrics
from streams.features.state import EngineState

log = logging.getLogger(__name__)

EngineFactory = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Restored:
    engine: Any
    position: int  # the next log offset to apply
    source: str  # "local", "checkpoint" or "replay"


def restore_engine(
    factory: EngineFactory, feature_set: str, kafka: CheckpointLog | None, local: LocalState | None
) -> Restored:
    """The engine to start from and the log offset to replay from (blocking: a thread)."""
    mine = local.peek(feature_set) if local is not None else None
    chosen = choose(kafka.read(), feature_set) if kafka is not None else None
    if (local is not None and mine is not None
            and (chosen is None or mine.log_offset >= chosen[0].log_offset)):  # fmt: skip
        log.info("restoring from the local state at log offset %d", mine.log_offset)
        return Restored(factory(state=local.load()), mine.log_offset, "local")
    if chosen is not None:
        manifest, blob = chosen
        snap = decode_snapshot(blob)
        state = local.from_snapshot(snap) if local is not None else EngineState.from_snapshot(snap)
        log.info("restoring checkpoint %s/%d at log offset %d", manifest.writer, manifest.epoch,
                 manifest.log_offset)  # fmt: skip
        return Restored(factory(state=state), manifest.log_offset, "checkpoint")
    if local is None:
        return Restored(factory(), 0, "replay")
    return Restored(factory(state=local.from_snapshot(None)), 0, "replay")


class Checkpointer:
    """Takes checkpoints between steps: the local commit (rocksdb backend, every worker) and the
    Kafka checkpoint (one writer). The snapshot is taken in the caller's thread (consistent with
    the log offset); compressing and writing it happen on a background thread."""

    def __init__(
        self, kafka: CheckpointLog | None, local: LocalState | None, feature_set: str,
        metrics: WorkerMetrics, interval_s: float,
    ) -> None:  # fmt: skip
        self.kafka = kafka
        self.local = local
        self.feature_set = feature_set
        self.metrics = metrics
        self.interval_s = interval_s
        self.writer = f"{socket.gethostname()[:24]}-{uuid.uuid4().hex[:8]}"
        self.epoch = 0
        self._written: deque[Manifest] = deque()
        self._next_at = time.monotonic() + interval_s
        self._upload: threading.Thread | None = None
        self.last: Manifest | None = None

    def due(self, now: float) -> bool:
        return self.interval_s > 0 and now >= self._next_at

    def take(self, engine: Any, position: int, *, to_kafka: bool) -> None:
        """Checkpoint ``engine`` as the state after log offset ``position - 1``."""
        self._next_at = time.monotonic() + self.interval_s
        created_ms = int(time.time() * 1000)
        self.epoch += 1
        if self.local is not None:
            marker = Manifest(self.writer, self.epoch, position, engine.watermark, self.feature_set,
                              created_ms, 0, 0, 0)  # fmt: skip
            self.local.write(self.local.begin(marker))
            self.last = marker
        if not to_kafka or self.kafka is None:
            if self.local is not None:
                self.metrics.checkpoints.inc()
            return
        if self._upload is not None and self._upload.is_alive():
            log.warning("previous checkpoint still uploading; skipping this one")
            return
        snapshot = engine.state.snapshot()
        args = (snapshot, position, engine.watermark, created_ms, self.epoch)
        self._upload = threading.Thread(target=self._write, args=args, name="checkpoint",
                                        daemon=True)  # fmt: skip
        self._upload.start()

    def _write(self, snapshot: dict[str, dict[str, bytes]], position: int, watermark: int,
               created_ms: int, epoch: int) -> None:  # fmt: skip
        assert self.kafka is not None
        try:
            blob = encode_snapshot(snapshot)
            manifest, records = checkpoint_records(
                self.writer, epoch, log_offset=position, watermark=watermark,
                feature_set=self.feature_set, created_ms=created_ms, blob=blob,
            )  # fmt: skip
            self._written.append(manifest)
            if len(self._written) > KEEP:  # its manifest slot is now reused: drop its chunks
                records += [(k, None) for k in self._written.popleft().chunk_keys()]
            self.kafka.write(records)
        except Exception:
            log.exception("checkpoint at log offset %d not written", position)
            return
        self.last = manifest
        self.metrics.checkpoints.inc()
        self.metrics.checkpoint_bytes.set(len(blob))
        log.info("checkpoint %d at log offset %d: %d bytes", epoch, position, len(blob))

    def wait(self, timeout_s: float = 60.0) -> None:
        if self._upload is not None:
            self._upload.join(timeout_s)
