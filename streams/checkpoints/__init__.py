"""Engine checkpoints: the state after a market-log offset, as a base and deltas on the compacted
``engine-checkpoints`` topic (``codec``, ``kafka_log``, ``memory``), the worker's local RocksDB
copy (``local``), the writer (``writer``) and the restore (``restore``). No worker code: the
worker calls these between steps of its hot loop."""

from streams.checkpoints.codec import Manifest
from streams.checkpoints.kafka_log import CheckpointLog
from streams.checkpoints.local import LocalState
from streams.checkpoints.memory import CheckpointTopic, MemoryCheckpointTopic
from streams.checkpoints.restore import Restored, restore_engine
from streams.checkpoints.writer import Checkpointer

__all__ = [
    "CheckpointLog",
    "CheckpointTopic",
    "Checkpointer",
    "LocalState",
    "Manifest",
    "MemoryCheckpointTopic",
    "Restored",
    "restore_engine",
]
