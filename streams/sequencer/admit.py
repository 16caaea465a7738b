"""What the sequencer decides about one input record: its place in the order, or a dead letter.

Pure: the clock is passed in (``now_ms``, wall time). Every input record is decoded once here
with the worker's decoder (size limit, schema, version rules). A record that fails becomes a
dead letter in the worker's format; so does an event stamped further than ``max_future_skew_ms``
past ``now_ms`` (reason ``future_ts``): the one wall-clock decision of the pipeline, made here
once and then recorded by the log, so every replay of the log agrees with it. Events from the
past pass; the merge counts them as late if their place has gone by. Duplicate event ids pass
too (the engine drops them deterministically).
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.contracts.events import DeadLetter
from streams.events.decode import DecodeError, IgnoredFields, dead_letter_for, decode_input
from streams.sequencer.merge import Key

FUTURE_TS = "future_ts"


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One input record as the consumer returned it."""

    topic: str  # this run's (possibly prefixed) topic name
    plan_topic: str  # the topic plan's name (what the decoder checks the event type against)
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def admit(
    record: InputRecord,
    now_ms: int,
    *,
    max_bytes: int,
    max_future_skew_ms: int,
    ignored: IgnoredFields | None = None,
) -> Key | DeadLetter:
    """The record's merge key ``(ts, event_id)``, or the dead letter that replaces it.

    >>> rec = InputRecord("wallet-buy", "wallet-buy", 0, 7, b"mint", b"{not json")
    >>> admit(rec, 0, max_bytes=65536, max_future_skew_ms=60_000).reason
    'bad_json'
    """
    try:
        event = decode_input(record.value, record.plan_topic, max_bytes, ignored)
        if event.ts > now_ms + max_future_skew_ms:
            raise DecodeError(
                FUTURE_TS,
                f"ts {event.ts} is {event.ts - now_ms} ms past the sequencer's clock "
                f"(limit {max_future_skew_ms} ms)",
                "ts",
            )
    except DecodeError as exc:
        return dead_letter_for(
            record.value,
            exc,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            ts=now_ms,
            key=record.key,
        )
    return (event.ts, event.event_id)
