"""Which worker scores a mint: its shard, the partition Kafka's default partitioner gives its key.

Shards are the partitions of the ``score-shards`` topic; the consumer group assigns them. A mint's
shard equals the partition its outputs land in on ``scores``, ``signals`` and ``outcomes`` (same
partition count, murmur2 keys like the Java client and our producers' ``murmur2_random``), so the
newest record of an output partition tells how far that shard's owner has published.
"""

from __future__ import annotations

from functools import lru_cache

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as an unsigned int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    end = length - length % 4
    for i in range(0, end, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    extra = length % 4
    if extra == 3:
        h ^= data[end + 2] << 16
    if extra >= 2:
        h ^= data[end + 1] << 8
    if extra >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of(key: bytes, partitions: int) -> int:
    """The partition the Java client (and librdkafka's murmur2 partitioners) give ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class ShardMap:
    """mint -> shard for a fixed shard count, cached (mints repeat on every trade)."""

    def __init__(self, shards: int) -> None:
        if shards < 1:
            raise ValueError("a shard map needs at least one shard")
        self.shards = shards
        self.of = lru_cache(maxsize=1 << 18)(self._compute)

    def _compute(self, mint: str) -> int:
        return partition_of(mint.encode(), self.shards)
