"""What both pump.fun decoders share: units, event ids, the standard curve and the final check.

Every event a decoder hands out is an input contract v2 dict that ``decode_input`` accepts:
:func:`checked` runs it through the contract decoder so a value out of range (a zero-token
trade, an over-long name) ends as a dead entry with the contract's own reason, never as a
message the worker would dead-letter later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from streams.events import DecodeError, decode_input
from streams.ingest.frames import FrameResult, Skip

SCHEMA_VERSION = 2
LAMPORTS_PER_SOL = 1e9
TOKEN_UNITS = 1e6  # pump.fun tokens have 6 decimals
LAUNCHPAD = "pump.fun"
# the default (all-zero) key and wrapped SOL both mean "quoted in SOL"
SOL_QUOTE_MINTS = frozenset(
    {"11111111111111111111111111111111", "So11111111111111111111111111111111111111112"}
)


@dataclass(frozen=True, slots=True)
class StandardCurve:
    """A fresh pump.fun curve (whole tokens, SOL); mayhem-mode curves may differ."""

    virtual_sol: float = 30.0
    virtual_tokens: float = 1_073_000_000.0
    real_tokens: float = 793_100_000.0
    total_supply: float = 1_000_000_000.0

    @property
    def virtual_token_offset(self) -> float:
        """virtual - real token reserves: constant over a curve's life (tokens only leave)."""
        return self.virtual_tokens - self.real_tokens


STANDARD_CURVE = StandardCurve()


def parse_frame(raw: str | bytes, result: FrameResult) -> dict[str, Any] | None:
    """A websocket frame as a JSON object, or None with the reason added to ``result.dead``."""
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        result.dead.append(Skip("bad_json", str(exc)[:200]))
        return None
    if not isinstance(frame, dict):
        result.dead.append(Skip("unexpected_frame", f"top level is {type(frame).__name__}"))
        return None
    return frame


def chain_event_id(slot: int, signature: str, index: int) -> str:
    """``pf:{slot:012d}:{signature}:{k:02d}``: sorts by slot, stable under re-delivery."""
    return f"pf:{slot:012d}:{signature}:{index:02d}"


def portal_event_id(signature: str, index: int) -> str:
    return f"pp:{signature}:{index:02d}"


def sol(lamports: int) -> float:
    return lamports / LAMPORTS_PER_SOL


def tokens(raw: int) -> float:
    return raw / TOKEN_UNITS


def quote_is_sol(quote_mint: str | None) -> bool:
    """Absent (an older program version, SOL only) or one of the SOL keys."""
    return quote_mint is None or quote_mint in SOL_QUOTE_MINTS


def fits(text: str | None, max_length: int) -> str | None:
    """The text if the contract can carry it, else None (unknown): never a shortened value."""
    if text is None or len(text) > max_length:
        return None
    return text


def header(event_type: str, event_id: str, ts: int, mint: str) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "type": event_type,
        "event_id": event_id,
        "ts": ts,
        "mint": mint,
    }


def with_known(event: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """Add the optional fields the feed carried; unknown ones stay absent (null in meaning)."""
    event.update({key: value for key, value in optional.items() if value is not None})
    return event


def checked(event: dict[str, Any], into: FrameResult) -> None:
    """Append ``event`` if the v2 contract accepts it, else a dead entry naming why."""
    try:
        decode_input(orjson.dumps(event))
    except DecodeError as err:
        into.dead.append(Skip(f"contract_{err.reason}", f"{event.get('event_id')}: {err}"))
        return
    into.events.append(event)
