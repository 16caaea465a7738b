"""What a feed decoder hands its connector: the events one frame became, and what it passed over.

A decoder is pure: raw frame text in, :class:`FrameResult` out, no socket, no clock (the
connector passes the receive time in). Events are input-contract objects (``schemas/events``,
v2), plain dicts ready to be encoded, validated by ``streams.events.decode_input`` and produced
keyed by their ``mint``. Two kinds of "no event": a frame the source is expected to send that
carries nothing for us (a subscription ack, a failed transaction, another program) is *skipped*
with a reason code; a frame or event we cannot map (garbage, a layout we do not know, a field out
of range) is *dead*: the connector writes it to ``dead-letter`` with the reason, never crashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Skip:
    """One thing passed over: ``reason`` is a short code for metrics and dead letters."""

    reason: str
    detail: str = ""


@dataclass(slots=True)
class FrameResult:
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)  # expected, carries nothing for us
    dead: list[Skip] = field(default_factory=list)  # cannot be mapped: dead-letter with reason

    def extend(self, other: FrameResult) -> None:
        self.events.extend(other.events)
        self.skipped.extend(other.skipped)
        self.dead.extend(other.dead)


class FrameDecoder(Protocol):
    """One source's pure decoder, as a connector drives it."""

    source: (
        str  # short name, e.g. "solana-logs", "pumpportal" (metric label, dead-letter topic field)
    )

    def subscribe_messages(self) -> list[dict[str, Any]]:
        """The JSON messages to send after each (re)connect, in order."""
        ...

    def decode(self, raw: str | bytes, received_ms: int) -> FrameResult:
        """One websocket frame; ``received_ms`` is the UTC epoch ms it arrived (for ``ts`` where
        the feed carries no time of its own)."""
        ...
