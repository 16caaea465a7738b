"""Checks of the topic layout the worker relies on, made once at start with a clear error."""

from __future__ import annotations

from streams.kafka_admin import admin_client
from streams.settings import Settings
from streams.topics import TopicNames


def check_shard_topics(settings: Settings, topics: TopicNames) -> int:
    """The shard count; raises when the layout breaks ownership (RuntimeError, with the fix).

    A mint's shard must be the partition its outputs land in, so ``score-shards``, ``scores``,
    ``signals`` and ``outcomes`` need the same partition count, and the market log one partition.
    """
    meta = admin_client(settings).list_topics(timeout=15)
    names = (topics.shards, topics.scores, topics.signals, topics.outcomes, topics.log)
    missing = [n for n in names if n not in meta.topics or meta.topics[n].error is not None]
    if missing:
        raise RuntimeError(f"topics {missing} do not exist: run `alphastream topics create`")
    counts = {n: len(meta.topics[n].partitions) for n in names}
    if counts[topics.log] != 1:
        raise RuntimeError(f"{topics.log} must have 1 partition, has {counts[topics.log]}")
    shard_count = counts[topics.shards]
    wrong = {n: c for n, c in counts.items() if n != topics.log and c != shard_count}
    if wrong:
        raise RuntimeError(
            f"{topics.shards} has {shard_count} partitions but {wrong}: outputs of a shard must "
            "land in the partition numbered like it (recreate the topics with one count)"
        )
    return shard_count
