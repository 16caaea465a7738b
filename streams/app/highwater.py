"""Fresh high-water marks from the broker, for the re-sequencer's release decisions.

The marks that consumers cache from their last fetch response can be older than an event another
consumer (the faust agent or the broadcast reader) delivered since, so "caught up" judged from
them can release an event before an older one that is already in the broker. One ListOffsets
request (AdminClient, all partitions at once; about 2-3 ms on a local broker) answers instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from streams.contracts.types import TP
from streams.settings import Settings

log = logging.getLogger(__name__)


class HighwaterProbe:
    def __init__(self, settings: Settings, timeout_s: float = 5.0) -> None:
        self._admin = AdminClient(dict(settings.kafka_client_config()))
        self._timeout_s = timeout_s

    async def latest(self, tps: Iterable[TP]) -> dict[TP, int]:
        """End offset per partition; partitions whose answer failed are left out."""
        spec: dict[TopicPartition, Any] = {
            TopicPartition(t, p): OffsetSpec.latest() for t, p in tps
        }
        if not spec:
            return {}
        futures = self._admin.list_offsets(spec, request_timeout=self._timeout_s)
        keys = [(str(tp.topic), int(tp.partition)) for tp in futures]
        answers = await asyncio.gather(
            *(asyncio.wrap_future(f) for f in futures.values()), return_exceptions=True
        )
        out: dict[TP, int] = {}
        for tp, answer in zip(keys, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("high-water mark of %s unavailable: %s", tp, answer)
                continue
            out[tp] = int(answer.offset)
        return out
