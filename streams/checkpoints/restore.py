"""Where a worker's engine comes from, in order: its local RocksDB copy (rocksdb backend) if it is
at least as far along the log as the newest Kafka checkpoint; the newest restorable Kafka
checkpoint of this feature set (its chain's base and deltas applied); else an empty engine that
replays the whole retained log. Blocking: run it in a thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streams.checkpoints.codec import Manifest, choose, manifests
from streams.checkpoints.local import LocalState
from streams.checkpoints.memory import CheckpointTopic
from streams.features.state import EngineState

log = logging.getLogger(__name__)

EngineFactory = Callable[..., Any]


@dataclass(frozen=True, slots=True)
class Restored:
    engine: Any
    position: int  # the next log offset to apply
    source: str  # "local", "checkpoint" or "replay"
    found: list[Manifest] = field(default_factory=list)  # every manifest on the topic then


def restore_engine(
    factory: EngineFactory, feature_set: str, topic: CheckpointTopic | None,
    local: LocalState | None,
) -> Restored:  # fmt: skip
    """The engine to start from and the log offset to replay from."""
    mine = local.peek(feature_set) if local is not None else None
    latest = topic.read() if topic is not None else {}
    chosen = choose(latest, feature_set) if topic is not None else None
    found = manifests(latest)
    if (local is not None and mine is not None
            and (chosen is None or mine.log_offset >= chosen[0].log_offset)):  # fmt: skip
        log.info("restoring from the local state at log offset %d", mine.log_offset)
        return Restored(factory(state=local.load()), mine.log_offset, "local", found)
    if chosen is not None:
        manifest, snap = chosen
        state = local.from_snapshot(snap) if local is not None else EngineState.from_snapshot(snap)
        log.info("restoring checkpoint %s/%d (chain from %d) at log offset %d", manifest.writer,
                 manifest.epoch, manifest.chain, manifest.log_offset)  # fmt: skip
        return Restored(factory(state=state), manifest.log_offset, "checkpoint", found)
    if local is None:
        return Restored(factory(), 0, "replay", found)
    return Restored(factory(state=local.from_snapshot(None)), 0, "replay", found)
