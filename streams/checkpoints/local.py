"""The worker's local copy of the engine state (``state_backend="rocksdb"``).

The live engine runs on a :class:`~streams.features.rocks.RocksState` at ``Settings.state_path()``.
At every checkpoint the worker commits its changes since the previous one in ONE RocksDB write
batch that also holds the checkpoint's :class:`~streams.checkpoints.codec.Manifest` (its market-log
offset). So the database always holds one consistent checkpoint, and a restart on the same host
resumes from it without reading the ``engine-checkpoints`` topic. Blocking calls.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from streams.checkpoints.codec import CODEC, Manifest
from streams.features.rocks import Commit, RocksState
from streams.features.state import EngineState

log = logging.getLogger(__name__)

MANIFEST_KEY = b"#manifest"


class LocalState:
    def __init__(self, path: Path, cache_limit: int) -> None:
        self.path = path
        self.cache_limit = cache_limit
        self.rocks: RocksState | None = None

    def open(self) -> RocksState:
        """The database, opened on first use; RuntimeError (with what to do) when it cannot be,
        typically because another worker holds this state dir."""
        if self.rocks is None:
            try:
                self.rocks = RocksState(self.path, self.cache_limit)
            except Exception as exc:  # typically RocksDB's lock: another worker uses this dir
                raise RuntimeError(
                    f"cannot open the engine state at {self.path} ({exc}); every worker needs "
                    "its own state_dir (ALPHASTREAM_STATE_DIR)"
                ) from exc
        return self.rocks

    def peek(self, feature_set: str) -> Manifest | None:
        """The manifest of the local checkpoint, if there is one of this feature set."""
        try:
            raw = self.open().get_meta(MANIFEST_KEY)
        except Exception as exc:  # unreadable (e.g. corrupt): the caller falls back to Kafka
            log.warning("local state at %s not readable (%s)", self.path, exc)
            return None
        if raw is None:
            return None
        try:
            manifest = Manifest.from_bytes(raw)
        except (ValueError, KeyError, TypeError):
            return None
        if manifest.feature_set != feature_set or manifest.codec != CODEC:
            return None
        return manifest

    def load(self) -> EngineState:
        """The state of the local checkpoint (read anew: the database holds what was committed)."""
        rocks = self.open()
        rocks.reload()
        return rocks.state

    def from_snapshot(self, snapshot: Mapping[str, Mapping[str, bytes]] | None) -> EngineState:
        """The database emptied, then holding ``snapshot`` (None: nothing); no manifest until
        the first commit."""
        rocks = self.open()
        rocks.clear()
        state = rocks.state
        if snapshot:
            for name, store in state.stores().items():
                loads = EngineState.STORE_TYPES[name].from_bytes
                for key, raw in snapshot.get(name, {}).items():
                    store.put(key, loads(raw))
            state.legacy_cooc = True  # a Kafka checkpoint may predate reference times
        return state

    def begin(self, manifest: Manifest) -> Commit:
        """Drain the state's changes and ``manifest`` into one batch."""
        return self.open().begin_commit([(MANIFEST_KEY, manifest.to_bytes())])

    def write(self, commit: Commit) -> None:
        rocks = self.open()
        try:
            rocks.write(commit)
        except BaseException:
            rocks.abandon(commit)
            raise

    def abandon(self, commit: Commit) -> None:
        if self.rocks is not None:
            self.rocks.abandon(commit)

    def close(self) -> None:
        if self.rocks is not None:
            self.rocks.close()
            self.rocks = None
