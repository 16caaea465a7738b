"""Engine checkpoints: a state snapshot plus the one market-log offset it is the state after.

Pure (no Kafka, no clock): ``streams.app.checkpoint_io`` moves the records. Every worker applies
the same log, so any worker's checkpoint at offset ``n`` is every worker's state at ``n``; one
worker writes them (the owner of shard 0) and any worker restores from one: load, then replay
the log from ``log_offset``. Stored on the compacted ``engine-checkpoints`` topic as

* chunks ``c/{writer}/{epoch}/{i}``: length-prefixed (store, key, value) records, zlib-compressed,
  cut into records of at most ``CHUNK_BYTES``;
* a manifest ``m/{writer}/{epoch % KEEP}``: log offset, engine watermark, feature set, size and
  crc of the payload, written after its chunks (a manifest whose chunks are all there is a
  complete checkpoint).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import orjson

from streams.features.state import EngineState

CHUNK_BYTES = 512 * 1024
KEEP = 3  # manifests (and their chunks) kept per writer
CODEC = "zlib-log"  # state after a log offset (older codecs resumed per input partition)
_HEAD = struct.Struct("<BII")  # store index, key length, value length
_STORES = tuple(EngineState.STORE_TYPES)


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

    @property
    def key(self) -> str:
        return f"m/{self.writer}/{self.epoch % KEEP}"

    def chunk_keys(self) -> list[str]:
        return [f"c/{self.writer}/{self.epoch}/{i}" for i in range(self.chunks)]

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        return cls(**orjson.loads(raw))


def encode_snapshot(snapshot: Mapping[str, Mapping[str, bytes]]) -> bytes:
    """Values are already serialized (``Value.to_bytes``), so they are framed, not re-encoded."""
    parts: list[bytes] = []
    pack = _HEAD.pack
    for index, name in enumerate(_STORES):
        for key, raw in snapshot.get(name, {}).items():
            k = key.encode()
            parts += (pack(index, len(k), len(raw)), k, raw)
    return zlib.compress(b"".join(parts), 1)


def decode_snapshot(blob: bytes) -> dict[str, dict[str, bytes]]:
    data = memoryview(zlib.decompress(blob))
    snap: dict[str, dict[str, bytes]] = {name: {} for name in _STORES}
    pos, end, head = 0, len(data), _HEAD.size
    while pos < end:
        index, klen, vlen = _HEAD.unpack_from(data, pos)
        pos += head
        key = bytes(data[pos : pos + klen]).decode()
        pos += klen
        snap[_STORES[index]][key] = bytes(data[pos : pos + vlen])
        pos += vlen
    return snap


def checkpoint_records(
    writer: str, epoch: int, *, log_offset: int, watermark: int, feature_set: str,
    created_ms: int, blob: bytes,
) -> tuple[Manifest, list[tuple[str, bytes | None]]]:  # fmt: skip
    """The manifest and the records to write, chunks first, then the manifest, then tombstones
    for the chunks of the epoch its slot replaces."""
    chunks = [blob[i : i + CHUNK_BYTES] for i in range(0, len(blob), CHUNK_BYTES)] or [b""]
    manifest = Manifest(writer, epoch, log_offset, watermark, feature_set, created_ms,
                        len(chunks), len(blob), zlib.crc32(blob))  # fmt: skip
    records: list[tuple[str, bytes | None]] = list(zip(manifest.chunk_keys(), chunks, strict=True))
    records.append((manifest.key, manifest.to_bytes()))
    return manifest, records


def stale_chunks(latest: Mapping[str, bytes], live: Iterable[Manifest]) -> list[str]:
    """Chunk keys no complete manifest names any more (tombstone them)."""
    named = {k for m in live for k in m.chunk_keys()}
    return [k for k in latest if k.startswith("c/") and k not in named]


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


def choose(latest: Mapping[str, bytes], feature_set: str) -> tuple[Manifest, bytes] | None:
    """The furthest complete checkpoint of this feature set and codec, with its payload."""
    usable = [m for m in manifests(latest) if m.feature_set == feature_set and m.codec == CODEC]
    for manifest in sorted(usable, key=lambda m: (m.log_offset, m.created_ms), reverse=True):
        try:
            return manifest, assemble(manifest, latest)
        except ValueError:
            continue
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
