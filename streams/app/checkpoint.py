"""Engine checkpoints: the broadcast engine state plus where replay must resume, as Kafka records.

Pure (no Kafka, no clock): ``streams.app.checkpoint_io`` moves the records. A checkpoint is
taken between two core steps (everything released has been applied; buffered events are not in
the state) and is stored on the compacted ``engine-checkpoints`` topic as

* chunks ``c/{writer}/{epoch}/{i}``: the state payload (length-prefixed store records plus the
  core's mint -> partition map), zlib-compressed, cut into records of at most ``CHUNK_BYTES``;
* a manifest ``m/{writer}/{epoch % KEEP}``: who wrote it and when, the engine watermark, the
  feature set, per input partition the offset replay must resume from and the offsets at or
  after it that are already applied, the open genesis windows of all partitions, and the
  partitions whose outputs the writer had delivered before the manifest was written.

The manifest is written after its chunks, so a reader that sees a manifest with all its chunks
has a complete checkpoint (a missing chunk means it is being replaced or was cleaned up).
Faust tables do not fit here: every worker holds the *whole* state (broadcast state), while a
faust table is partitioned by owner and written only inside agent iteration.
"""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson

from streams.contracts.types import TP
from streams.features.state import EngineState

CHUNK_BYTES = 512 * 1024
KEEP = 3  # recent checkpoints kept per writer (manifest slots)
CODEC = "zlib"
_HEAD = struct.Struct("<BII")  # store index, key length, value length
_MINTS = 255  # pseudo store index of the mint -> partition map
_STORES = tuple(EngineState.STORE_TYPES)


@dataclass(frozen=True, slots=True)
class GenesisWindow:
    """A genesis event whose 60 s window was still open at the checkpoint."""

    event_id: str
    topic: str
    partition: int
    offset: int
    ts: int
    mint: str

    @property
    def tp(self) -> TP:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Manifest:
    writer: str
    epoch: int
    created_ms: int  # wall time (UTC epoch ms) of the snapshot
    watermark: int  # engine watermark (event time) of the snapshot
    feature_set: str
    chunks: int
    size: int  # compressed payload bytes
    crc: int  # crc32 of the compressed payload
    resume: dict[TP, int]  # replay restarts here
    skip: dict[TP, tuple[int, ...]] = field(default_factory=dict)  # applied offsets >= resume
    delivered: frozenset[TP] = frozenset()  # writer-owned: outputs delivered before the manifest
    genesis: tuple[GenesisWindow, ...] = ()
    codec: str = CODEC
    generation: int = 0  # delta codec: the writer generation the state records carry
    counts: dict[str, int] = field(default_factory=dict)  # delta codec: values per store

    @property
    def key(self) -> str:
        return manifest_key(self.writer, self.epoch)

    def chunk_keys(self) -> list[str]:
        return [chunk_key(self.writer, self.epoch, i) for i in range(self.chunks)]

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "writer": self.writer,
                "epoch": self.epoch,
                "created_ms": self.created_ms,
                "watermark": self.watermark,
                "feature_set": self.feature_set,
                "chunks": self.chunks,
                "size": self.size,
                "crc": self.crc,
                "codec": self.codec,
                "generation": self.generation,
                "counts": self.counts,
                "resume": [[t, p, o] for (t, p), o in sorted(self.resume.items())],
                "skip": [[t, p, list(offs)] for (t, p), offs in sorted(self.skip.items())],
                "delivered": sorted([t, p] for t, p in self.delivered),
                "genesis": [
                    [w.event_id, w.topic, w.partition, w.offset, w.ts, w.mint] for w in self.genesis
                ],
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        d = orjson.loads(raw)
        return cls(
            writer=d["writer"],
            epoch=int(d["epoch"]),
            created_ms=int(d["created_ms"]),
            watermark=int(d["watermark"]),
            feature_set=d["feature_set"],
            chunks=int(d["chunks"]),
            size=int(d["size"]),
            crc=int(d["crc"]),
            codec=d.get("codec", CODEC),
            generation=int(d.get("generation", 0)),
            counts={k: int(v) for k, v in d.get("counts", {}).items()},
            resume={(t, int(p)): int(o) for t, p, o in d["resume"]},
            skip={(t, int(p)): tuple(offs) for t, p, offs in d["skip"]},
            delivered=frozenset((t, int(p)) for t, p in d["delivered"]),
            genesis=tuple(
                GenesisWindow(e, t, int(p), int(o), int(ts), m)
                for e, t, p, o, ts, m in d["genesis"]
            ),
        )


def manifest_key(writer: str, epoch: int) -> str:
    return f"m/{writer}/{epoch % KEEP}"


def chunk_key(writer: str, epoch: int, index: int) -> str:
    return f"c/{writer}/{epoch}/{index}"


# --- payload ----------------------------------------------------------------------------------


def encode_payload(
    snapshot: Mapping[str, Mapping[str, bytes]], mint_partition: Mapping[str, int]
) -> bytes:
    """Length-prefixed (store, key, value) records, then the mint map; zlib-compressed.

    Values are already serialized (``Value.to_bytes``), so they are framed, not re-encoded.
    """
    parts: list[bytes] = []
    pack = _HEAD.pack
    for index, name in enumerate(_STORES):
        for key, raw in snapshot.get(name, {}).items():
            k = key.encode()
            parts += (pack(index, len(k), len(raw)), k, raw)
    mints = orjson.dumps(dict(mint_partition))
    parts += (pack(_MINTS, 0, len(mints)), mints)
    return zlib.compress(b"".join(parts), 1)


def decode_payload(blob: bytes) -> tuple[dict[str, dict[str, bytes]], dict[str, int]]:
    """Inverse of :func:`encode_payload`: (snapshot, mint -> partition)."""
    data = memoryview(zlib.decompress(blob))
    snap: dict[str, dict[str, bytes]] = {name: {} for name in _STORES}
    mints: dict[str, int] = {}
    pos, end, head = 0, len(data), _HEAD.size
    while pos < end:
        index, klen, vlen = _HEAD.unpack_from(data, pos)
        pos += head
        key = bytes(data[pos : pos + klen]).decode()
        pos += klen
        raw = bytes(data[pos : pos + vlen])
        pos += vlen
        if index == _MINTS:
            mints = orjson.loads(raw)
        else:
            snap[_STORES[index]][key] = raw
    return snap, mints


def split_chunks(blob: bytes, size: int = CHUNK_BYTES) -> list[bytes]:
    return [blob[i : i + size] for i in range(0, len(blob), size)] or [b""]


def assemble(manifest: Manifest, latest: Mapping[str, bytes]) -> bytes:
    """The compressed payload of ``manifest`` from the topic's latest values (ValueError if
    incomplete or corrupt)."""
    try:
        blob = b"".join(latest[k] for k in manifest.chunk_keys())
    except KeyError as exc:
        raise ValueError(f"checkpoint chunk missing: {exc}") from None
    if len(blob) != manifest.size or zlib.crc32(blob) != manifest.crc:
        raise ValueError("checkpoint payload does not match its manifest (size or crc)")
    return blob


# --- incremental (delta) checkpoints ----------------------------------------------------------
#
# One record per state value, ``s/{store}/{key}`` -> (generation, epoch) stamp + value bytes, and
# one per mint, ``p/{mint}`` -> partition. A writer generation starts with every value (epoch 0),
# then each checkpoint writes only the values changed since the previous one (tombstones for
# deleted keys) and then its manifest, which names the generation, the epoch and the number of
# values per store. The topic's compacted view is the state as of the newest epoch; a manifest is
# complete when no record of its generation is newer than it (an epoch torn by a crash between
# its records and its manifest) and the counts match (a torn tombstone removes a value).

DELTA = "delta"
_STAMP = struct.Struct("<QI")  # writer generation, epoch
MAX_RECORD_BYTES = 900 * 1024  # a larger value: that checkpoint is written whole (chunked)


def new_generation() -> int:
    """A writer generation id (random: two writers never share one)."""
    return uuid.uuid4().int & ((1 << 63) - 1)


def delta_records(
    generation: int,
    epoch: int,
    changes: Mapping[str, tuple[Mapping[str, bytes], Iterable[str]]],
    new_mints: Mapping[str, int],
) -> list[tuple[str, bytes | None]]:
    """The records of one epoch: changed values stamped, tombstones for deleted keys (unless put
    again since), and the mints first seen since the previous epoch."""
    stamp = _STAMP.pack(generation, epoch)
    out: list[tuple[str, bytes | None]] = []
    for store, (puts, deleted) in changes.items():
        out += [(f"s/{store}/{key}", None) for key in deleted if key not in puts]
        out += [(f"s/{store}/{key}", stamp + raw) for key, raw in puts.items()]
    out += [(f"p/{mint}", str(part).encode()) for mint, part in new_mints.items()]
    return out


def largest_change(changes: Mapping[str, tuple[Mapping[str, bytes], Iterable[str]]]) -> int:
    return max((len(raw) for puts, _ in changes.values() for raw in puts.values()), default=0)


def _stamped(latest: Mapping[str, bytes], generation: int) -> Iterable[tuple[str, int, bytes]]:
    """(key, epoch, stamped value) of the state records of ``generation``."""
    head = _STAMP.size
    for key, value in latest.items():
        if key.startswith("s/") and len(value) >= head:
            gen, epoch = _STAMP.unpack_from(value)
            if gen == generation:
                yield key, epoch, value


def delta_problem(manifest: Manifest, latest: Mapping[str, bytes]) -> str | None:
    """Why the compacted view does not hold ``manifest``'s state (None: it does)."""
    counts: dict[str, int] = dict.fromkeys(_STORES, 0)
    for key, epoch, _ in _stamped(latest, manifest.generation):
        if epoch > manifest.epoch:
            return f"torn: {key} is from epoch {epoch}, after the manifest's {manifest.epoch}"
        store = key.split("/", 2)[1]
        if store not in counts:
            return f"unknown store in {key}"
        counts[store] += 1
    expected = {name: manifest.counts.get(name, 0) for name in _STORES}
    if counts != expected:
        return f"torn: {counts} values, the manifest counts {expected}"
    return None


def delta_view(
    manifest: Manifest, latest: Mapping[str, bytes]
) -> tuple[dict[str, dict[str, bytes]], dict[str, int]]:
    """(snapshot, mint -> partition) of a complete delta manifest (ValueError if torn)."""
    problem = delta_problem(manifest, latest)
    if problem is not None:
        raise ValueError(f"checkpoint {manifest.writer}/{manifest.epoch} {problem}")
    snap: dict[str, dict[str, bytes]] = {name: {} for name in _STORES}
    head = _STAMP.size
    for key, _, value in _stamped(latest, manifest.generation):
        _, store, name = key.split("/", 2)
        snap[store][name] = value[head:]
    mints = {key[2:]: int(value) for key, value in latest.items() if key.startswith("p/")}
    return snap, mints


def stale_state_keys(latest: Mapping[str, bytes]) -> set[str]:
    """State and mint record keys on the topic (a new generation tombstones those it does not
    rewrite, once its first manifest is delivered)."""
    return {k for k in latest if k.startswith(("s/", "p/"))}


# --- choosing one -----------------------------------------------------------------------------


def orphan_chunks(latest: Mapping[str, bytes]) -> list[str]:
    """Chunk keys no manifest refers to (a writer stopped between its chunks and its manifest,
    or a manifest slot was overwritten before its old chunks were tombstoned)."""
    used: set[str] = set()
    for m in candidates(latest, feature_set="", any_feature_set=True):
        used.update(m.chunk_keys())
    return [k for k in latest if k.startswith("c/") and k not in used]


def latest_values(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, bytes]:
    """Compacted view of the topic: the last value per key, tombstoned keys dropped."""
    out: dict[str, bytes] = {}
    for key, value in records:
        if key is None:
            continue
        name = key.decode(errors="replace")
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def candidates(
    latest: Mapping[str, bytes], feature_set: str, *, any_feature_set: bool = False
) -> list[Manifest]:
    """Complete manifests of this feature set, newest (engine watermark, then wall time) first."""
    found = []
    for key, raw in latest.items():
        if not key.startswith("m/"):
            continue
        try:
            manifest = Manifest.from_bytes(raw)
        except (ValueError, KeyError, TypeError):
            continue
        codec_ok = manifest.codec in (CODEC, DELTA)
        if not any_feature_set and (manifest.feature_set != feature_set or not codec_ok):
            continue
        if manifest.codec == DELTA:
            if delta_problem(manifest, latest) is None:
                found.append(manifest)
        elif all(k in latest for k in manifest.chunk_keys()):
            found.append(manifest)
    found.sort(key=lambda m: (m.watermark, m.created_ms, m.epoch), reverse=True)
    return found


def unusable_reason(
    manifest: Manifest,
    marks: Mapping[TP, tuple[int, int]],
    assigned: Iterable[TP],
    owned_from: Mapping[TP, int],
) -> str | None:
    """Why ``manifest`` cannot seed this worker's engine now (None: it can).

    Every input partition must be covered and still retained from its resume offset on. For an
    assigned partition, replay must restart at or before the offset this worker publishes from:
    otherwise the events in between are in the state, but the previous owner may never have
    published them. The writer's own partitions are exempt: it delivered their outputs before
    it wrote the manifest.
    """
    for tp, (low, high) in marks.items():
        resume = manifest.resume.get(tp)
        if resume is None:
            return f"{tp[0]}[{tp[1]}] not in the checkpoint"
        if resume < low:
            return f"{tp[0]}[{tp[1]}] resume {resume} below the low-water mark {low}"
        if resume > high:
            return f"{tp[0]}[{tp[1]}] resume {resume} beyond the high-water mark {high}"
    for tp in assigned:
        start = owned_from.get(tp, 0)
        if manifest.resume.get(tp, 0) > start and tp not in manifest.delivered:
            return f"{tp[0]}[{tp[1]}] resume {manifest.resume[tp]} > committed {start}"
    return None


def choose(
    found: Iterable[Manifest],
    marks: Mapping[TP, tuple[int, int]],
    assigned: Iterable[TP],
    owned_from: Mapping[TP, int],
) -> tuple[Manifest | None, list[str]]:
    """The newest usable manifest, and why each newer one was passed over."""
    owned = list(assigned)
    passed: list[str] = []
    for manifest in found:
        reason = unusable_reason(manifest, marks, owned, owned_from)
        if reason is None:
            return manifest, passed
        passed.append(f"{manifest.writer}/{manifest.epoch}: {reason}")
    return None, passed


def local_unusable_reason(
    local: Manifest,
    kafka: Manifest | None,
    marks: Mapping[TP, tuple[int, int]],
    assigned: Iterable[TP],
    owned_from: Mapping[TP, int],
) -> str | None:
    """Why a worker's local checkpoint cannot seed its engine (None: use it rather than Kafka).

    It must pass the rule every Kafka candidate passes and be at least as new (engine
    watermark, then wall time) as ``kafka``, the Kafka checkpoint ``choose`` picked.
    """
    reason = unusable_reason(local, marks, assigned, owned_from)
    if reason is not None or kafka is None:
        return reason
    if (kafka.watermark, kafka.created_ms) > (local.watermark, local.created_ms):
        return f"older than checkpoint {kafka.writer}/{kafka.epoch}"
    return None


# --- restoring ownership flags ------------------------------------------------------------------


def set_ownership(
    state: EngineState,
    mint_partition: Mapping[str, int],
    owned_partitions: Mapping[str, set[int]],
) -> None:
    """Re-set the ``owned`` flags a checkpoint carries from its writer to this worker's view.

    ``owned_partitions``: ``"genesis"``/``"buy"`` -> partition numbers this worker is assigned on
    the genesis / buy topic. A token's flag comes from its genesis (tokens first seen through a
    trade keep the default, as in a replay); a pending signal's from its kind's topic.
    """
    gen, buy = owned_partitions.get("genesis", set()), owned_partitions.get("buy", set())
    for mint, tok in state.tokens.items():
        owned = mint_partition.get(mint) in gen
        if tok.has_genesis and tok.owned != owned:  # put only changes (a backend writes them)
            tok.owned = owned
            state.tokens.put(mint, tok)
    for event_id, sig in state.pending.items():
        owned = mint_partition.get(sig.mint) in (gen if sig.kind == "genesis" else buy)
        if sig.owned != owned:
            sig.owned = owned
            state.pending.put(event_id, sig)


# --- writer bookkeeping -----------------------------------------------------------------------


@dataclass
class WriterLog:
    """What one writer wrote, so each new checkpoint can retire the one it replaces.

    ``foreign``: manifests of other writers seen when this worker restored; they are retired
    (manifest and chunks tombstoned) once this writer has ``KEEP`` checkpoints of its own.
    """

    writer: str
    epoch: int = 0
    written: dict[int, Manifest] = field(default_factory=dict)  # slot -> manifest
    foreign: list[Manifest] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # chunk keys no manifest refers to
    delivered_count: int = 0

    def next_epoch(self) -> int:
        epoch = self.epoch
        self.epoch += 1
        return epoch

    def records(
        self, manifest: Manifest, chunks: list[bytes]
    ) -> tuple[list[tuple[str, bytes]], tuple[str, bytes]]:
        """(chunk records, manifest record): chunks must be delivered before the manifest."""
        keys = manifest.chunk_keys()
        return list(zip(keys, chunks, strict=True)), (manifest.key, manifest.to_bytes())

    def delivered(self, manifest: Manifest) -> list[str]:
        """Record a delivered manifest; returns the keys to tombstone now."""
        slot = manifest.epoch % KEEP
        old = self.written.get(slot)
        self.written[slot] = manifest
        self.delivered_count += 1
        dead = old.chunk_keys() if old is not None and old.epoch != manifest.epoch else []
        if self.delivered_count >= KEEP and (self.foreign or self.orphans):
            for other in self.foreign:
                dead += [other.key, *other.chunk_keys()]
            dead += self.orphans
            self.foreign, self.orphans = [], []
        return dead
