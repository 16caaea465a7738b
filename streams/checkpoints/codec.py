"""Engine checkpoints as records: a state snapshot plus the one market-log offset it is after.

Pure (no Kafka, no clock). Every worker applies the same log, so any worker's checkpoint at
offset ``n`` is every worker's state at ``n``; one worker writes them and any worker restores
from one: load, then replay the log from ``log_offset``.

A checkpoint is a **chain**: a base (every value of every store) followed by deltas (the values
written and the keys deleted since the previous checkpoint of the chain). A delta costs what
changed, not the whole state, which is what keeps the writer's hot loop from stalling on a large
state. On the compacted ``engine-checkpoints`` topic, per checkpoint:

* chunks ``c/{writer}/{epoch}/{i}``: length-prefixed (store, key, value) records, zlib-compressed,
  cut into records of at most ``CHUNK_BYTES``; a deletion has no value;
* a manifest ``m/{writer}/{epoch}``, written after its chunks: log offset, engine watermark,
  feature set, size and crc of the payload, and ``base_epoch`` (None: this is a base). A manifest
  is restorable when it and every earlier link of its chain are complete.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import orjson

from streams.features.state import EngineState

CHUNK_BYTES = 512 * 1024
CODEC = "zlib-log"  # state after a log offset (older codecs resumed per input partition)
_HEAD = struct.Struct("<BII")  # store index, key length, value length
_DELETED = 0xFFFFFFFF  # value length of a deleted key
_STORES = tuple(EngineState.STORE_TYPES)

Snapshot = dict[str, dict[str, bytes]]  # store -> key -> serialized value
Changes = Mapping[str, tuple[Mapping[str, bytes], Iterable[str]]]  # store -> (puts, deleted keys)


@dataclass(frozen=True, slots=True)
class Manifest:
    writer: str
    epoch: int
    log_offset: int  # the state is after every log record before this offset
    watermark: int  # the engine's event time then
    feature_set: str
    created_ms: int
    chunks: int
    size: int
    crc: int
    codec: str = CODEC
    base_epoch: int | None = None  # the chain's base; None: this checkpoint is the base

    @property
    def key(self) -> str:
        return f"m/{self.writer}/{self.epoch}"

    @property
    def chain(self) -> int:
        return self.epoch if self.base_epoch is None else self.base_epoch

    def chunk_keys(self) -> list[str]:
        return [f"c/{self.writer}/{self.epoch}/{i}" for i in range(self.chunks)]

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        return cls(**orjson.loads(raw))


def encode_changes(changes: Changes) -> bytes:
    """Values are already serialized (``Value.to_bytes``), so they are framed, not re-encoded;
    deletions first (a key deleted, then written again, is written)."""
    parts: list[bytes] = []
    pack = _HEAD.pack
    for index, name in enumerate(_STORES):
        puts, deleted = changes.get(name, ({}, ()))
        for key in sorted(deleted):  # the same changes, the same bytes
            k = key.encode()
            parts += (pack(index, len(k), _DELETED), k)
        for key, raw in puts.items():
            k = key.encode()
            parts += (pack(index, len(k), len(raw)), k, raw)
    return zlib.compress(b"".join(parts), 1)


def snapshot_changes(snapshot: Mapping[str, Mapping[str, bytes]]) -> Changes:
    """A whole snapshot as the changes of a base: every value written, nothing deleted."""
    return {name: (values, ()) for name, values in snapshot.items()}


def encode_snapshot(snapshot: Mapping[str, Mapping[str, bytes]]) -> bytes:
    return encode_changes(snapshot_changes(snapshot))


def apply_changes(snapshot: Snapshot, blob: bytes) -> Snapshot:
    """``snapshot`` (changed in place) with the base or delta payload ``blob`` applied."""
    data = memoryview(zlib.decompress(blob))
    pos, end, head = 0, len(data), _HEAD.size
    while pos < end:
        index, klen, vlen = _HEAD.unpack_from(data, pos)
        pos += head
        key = bytes(data[pos : pos + klen]).decode()
        pos += klen
        store = snapshot[_STORES[index]]
        if vlen == _DELETED:
            store.pop(key, None)
            continue
        store[key] = bytes(data[pos : pos + vlen])
        pos += vlen
    return snapshot


def empty_snapshot() -> Snapshot:
    return {name: {} for name in _STORES}


def decode_snapshot(blob: bytes) -> Snapshot:
    return apply_changes(empty_snapshot(), blob)


def checkpoint_records(
    writer: str, epoch: int, *, log_offset: int, watermark: int, feature_set: str,
    created_ms: int, blob: bytes, base_epoch: int | None = None,
) -> tuple[Manifest, list[tuple[str, bytes | None]]]:  # fmt: skip
    """The manifest and the records to write: chunks first, then the manifest."""
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    manifest = Manifest(writer, epoch, log_offset, watermark, feature_set, created_ms,
                        len(chunks), len(blob), zlib.crc32(blob), CODEC, base_epoch)  # fmt: skip
    records: list[tuple[str, bytes | None]] = list(zip(manifest.chunk_keys(), chunks, strict=True))
    records.append((manifest.key, manifest.to_bytes()))
    return manifest, records


def tombstones(dropped: Iterable[Manifest]) -> list[tuple[str, bytes | None]]:
    """Records that delete ``dropped`` checkpoints (manifest first: never a manifest without
    its chunks)."""
    out: list[tuple[str, bytes | None]] = []
    for manifest in dropped:
        out.append((manifest.key, None))
        out += [(k, None) for k in manifest.chunk_keys()]
    return out


def assemble(manifest: Manifest, latest: Mapping[str, bytes]) -> bytes:
    """The payload of ``manifest`` from the topic's latest values (ValueError if incomplete)."""
    try:
        blob = b"".join(latest[k] for k in manifest.chunk_keys())
    except KeyError as exc:
        raise ValueError(f"checkpoint chunk missing: {exc}") from None
    if len(blob) != manifest.size or zlib.crc32(blob) != manifest.crc:
        raise ValueError("checkpoint payload does not match its manifest (size or crc)")
    return blob


def manifests(latest: Mapping[str, bytes]) -> list[Manifest]:
    out = []
    for key, raw in latest.items():
        if key.startswith("m/"):
            try:
                out.append(Manifest.from_bytes(raw))
            except (ValueError, TypeError):
                continue  # another codec's manifest: not ours to restore
    return out


def _links(manifest: Manifest, by_id: Mapping[tuple[str, int], Manifest]) -> list[Manifest]:
    """The chain up to ``manifest``, base first (ValueError if a link is missing)."""
    links = [by_id.get((manifest.writer, e)) for e in range(manifest.chain, manifest.epoch + 1)]
    if any(m is None or m.chain != manifest.chain for m in links):
        raise ValueError("checkpoint chain has a missing link")
    return [m for m in links if m is not None]


def choose(latest: Mapping[str, bytes], feature_set: str) -> tuple[Manifest, Snapshot] | None:
    """The furthest restorable checkpoint of this feature set and codec, with its state."""
    usable = [m for m in manifests(latest) if m.feature_set == feature_set and m.codec == CODEC]
    by_id = {(m.writer, m.epoch): m for m in usable}
    for manifest in sorted(usable, key=lambda m: (m.log_offset, m.created_ms), reverse=True):
        try:
            blobs = [assemble(link, latest) for link in _links(manifest, by_id)]
        except ValueError:
            continue
        snapshot = empty_snapshot()
        for blob in blobs:
            apply_changes(snapshot, blob)
        return manifest, snapshot
    return None


def latest_values(records: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, bytes]:
    """Latest value per key of a compacted topic's records, tombstoned keys dropped."""
    out: dict[str, bytes] = {}
    for key, value in records:
        if key is None:
            continue
        if value is None:
            out.pop(key.decode(), None)
        else:
            out[key.decode()] = value
    return out
