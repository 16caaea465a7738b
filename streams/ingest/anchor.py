"""pump.fun's Anchor events: a small borsh reader and the four layouts the engine needs.

An Anchor event is an 8-byte discriminator, ``sha256("event:<Name>")[:8]``, then the struct's
fields in borsh order (layouts in pump.fun's public IDL, ``idl/pump.json``). Program upgrades
append fields, so each layout is a *required prefix* (what every version has) and an *optional
tail* read field by field while bytes remain: a payload that stops on a field boundary is an
older version, one that stops inside a field, or holds a length larger than what is left, is
malformed and raises :class:`PayloadError`. Bytes after the last field we know are ignored.

Amounts stay raw integers here (lamports, 6-decimal token units); unit conversion is the
mapping's job (:mod:`streams.ingest.mapping`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache

PUMP_PROGRAM_ID = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
# the inner-instruction prefix of an event emitted with emit_cpi! (a Geyser source sees these)
EMIT_CPI_PREFIX = bytes.fromhex("e445a52e51cb9a1d")

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_CHUNK = 58**10
_MAX_STRING = 4096  # far above any pump.fun name/symbol/uri; a larger length is corruption
_MAX_VEC = 64


@lru_cache(maxsize=8192)  # mints, fee recipients and the zero key recur from event to event
def b58encode(raw: bytes) -> str:
    """Base58 (Bitcoin alphabet), as Solana prints public keys and signatures."""
    number = int.from_bytes(raw, "big")
    digits: list[str] = []
    while number:  # ten digits per big-int division, then small-int ones
        number, chunk = divmod(number, _B58_CHUNK)
        for _ in range(10):
            chunk, rem = divmod(chunk, 58)
            digits.append(_B58_ALPHABET[rem])
    text = "".join(reversed(digits)).lstrip("1")  # the chunking pads with zeros ("1")
    leading_zeros = len(raw) - len(raw.lstrip(b"\0"))
    return "1" * leading_zeros + text


def discriminator(name: str) -> bytes:
    """Anchor's event discriminator: the first 8 bytes of sha256("event:<Name>")."""
    return hashlib.sha256(f"event:{name}".encode()).digest()[:8]


class PayloadError(ValueError):
    """A payload that does not hold the layout its discriminator promises."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class _EndOfPayload(Exception):
    """Raised only on a field boundary: the payload is an older, shorter version."""


class BorshReader:
    """Sequential little-endian reader over one payload."""

    def __init__(self, data: bytes, offset: int = 0) -> None:
        self.data = data
        self.offset = offset

    def remaining(self) -> int:
        return len(self.data) - self.offset

    def _take(self, size: int, what: str) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise PayloadError(
                "truncated", f"{what} needs {size} bytes at offset {self.offset}, "
                f"{self.remaining()} left"
            )  # fmt: skip
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def skip(self, size: int, what: str) -> None:
        self._take(size, what)

    def u8(self, what: str) -> int:
        return self._take(1, what)[0]

    def boolean(self, what: str) -> bool:
        value = self.u8(what)
        if value > 1:
            raise PayloadError("bad_bool", f"{what} is {value}, not 0 or 1")
        return value == 1

    def u16(self, what: str) -> int:
        return int(struct.unpack("<H", self._take(2, what))[0])

    def u32(self, what: str) -> int:
        return int(struct.unpack("<I", self._take(4, what))[0])

    def u64(self, what: str) -> int:
        return int(struct.unpack("<Q", self._take(8, what))[0])

    def i64(self, what: str) -> int:
        return int(struct.unpack("<q", self._take(8, what))[0])

    def pubkey(self, what: str) -> str:
        return b58encode(self._take(32, what))

    def string(self, what: str) -> str:
        length = self.u32(what)
        if length > _MAX_STRING or length > self.remaining():
            raise PayloadError("bad_length", f"{what} claims {length} bytes")
        raw = self._take(length, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise PayloadError("bad_utf8", f"{what} is not UTF-8") from None

    def boundary(self) -> None:
        """Called before each optional tail field: stop cleanly when the payload ends here."""
        if self.remaining() == 0:
            raise _EndOfPayload


@dataclass(frozen=True, slots=True)
class TradeEvent:
    mint: str
    sol_amount: int  # lamports, before fees
    token_amount: int  # 6-decimal units
    is_buy: bool
    user: str
    timestamp: int  # seconds
    virtual_sol_reserves: int
    virtual_token_reserves: int
    real_sol_reserves: int
    real_token_reserves: int
    fee_recipient: str
    fee_basis_points: int
    fee: int
    creator: str
    creator_fee_basis_points: int
    creator_fee: int
    ix_name: str | None = None  # the tail, None where this program version lacks it
    mayhem_mode: bool | None = None
    quote_mint: str | None = None
    quote_amount: int | None = None


@dataclass(frozen=True, slots=True)
class CreateEvent:
    name: str
    symbol: str
    uri: str
    mint: str
    bonding_curve: str
    user: str
    creator: str
    timestamp: int
    virtual_token_reserves: int
    virtual_sol_reserves: int
    real_token_reserves: int
    token_total_supply: int
    token_program: str | None = None
    is_mayhem_mode: bool | None = None
    is_cashback_enabled: bool | None = None
    quote_mint: str | None = None


@dataclass(frozen=True, slots=True)
class CompleteEvent:
    user: str
    mint: str
    bonding_curve: str
    timestamp: int
    quote_mint: str | None = None


@dataclass(frozen=True, slots=True)
class CompletePumpAmmMigrationEvent:
    user: str
    mint: str
    mint_amount: int  # 6-decimal units moved into the pool
    sol_amount: int  # lamports (quote units) moved into the pool
    pool_migration_fee: int
    bonding_curve: str
    timestamp: int
    pool: str | None = None
    quote_mint: str | None = None


AnchorEvent = TradeEvent | CreateEvent | CompleteEvent | CompletePumpAmmMigrationEvent


def _trade(r: BorshReader) -> TradeEvent:
    event = TradeEvent(
        r.pubkey("mint"), r.u64("sol_amount"), r.u64("token_amount"), r.boolean("is_buy"),
        r.pubkey("user"), r.i64("timestamp"), r.u64("virtual_sol_reserves"),
        r.u64("virtual_token_reserves"), r.u64("real_sol_reserves"),
        r.u64("real_token_reserves"), r.pubkey("fee_recipient"), r.u64("fee_basis_points"),
        r.u64("fee"), r.pubkey("creator"), r.u64("creator_fee_basis_points"),
        r.u64("creator_fee"),
    )  # fmt: skip
    ix_name: str | None = None
    mayhem: bool | None = None
    quote_mint: str | None = None
    quote_amount: int | None = None
    try:
        r.boundary()
        r.boolean("track_volume")
        for what in ("total_unclaimed_tokens", "total_claimed_tokens", "current_sol_volume"):
            r.boundary()
            r.u64(what)
        r.boundary()
        r.i64("last_update_timestamp")
        r.boundary()
        ix_name = r.string("ix_name")
        r.boundary()
        mayhem = r.boolean("mayhem_mode")
        for what in ("cashback_fee_basis_points", "cashback", "buyback_fee_bps", "buyback_fee"):
            r.boundary()
            r.u64(what)
        r.boundary()
        _skip_shareholders(r)
        r.boundary()
        quote_mint = r.pubkey("quote_mint")
        r.boundary()
        quote_amount = r.u64("quote_amount")
    except _EndOfPayload:
        pass
    return replace(
        event, ix_name=ix_name, mayhem_mode=mayhem, quote_mint=quote_mint,
        quote_amount=quote_amount,
    )  # fmt: skip


def _skip_shareholders(r: BorshReader) -> None:
    count = r.u32("shareholders")
    if count > _MAX_VEC:
        raise PayloadError("bad_length", f"shareholders claims {count} entries")
    for _ in range(count):
        r.skip(32, "shareholder.address")
        r.u16("shareholder.share_bps")


def _create(r: BorshReader) -> CreateEvent:
    event = CreateEvent(
        r.string("name"), r.string("symbol"), r.string("uri"), r.pubkey("mint"),
        r.pubkey("bonding_curve"), r.pubkey("user"), r.pubkey("creator"), r.i64("timestamp"),
        r.u64("virtual_token_reserves"), r.u64("virtual_sol_reserves"),
        r.u64("real_token_reserves"), r.u64("token_total_supply"),
    )  # fmt: skip
    token_program: str | None = None
    mayhem: bool | None = None
    cashback: bool | None = None
    quote_mint: str | None = None
    try:
        r.boundary()
        token_program = r.pubkey("token_program")
        r.boundary()
        mayhem = r.boolean("is_mayhem_mode")
        r.boundary()
        cashback = r.boolean("is_cashback_enabled")
        r.boundary()
        quote_mint = r.pubkey("quote_mint")
    except _EndOfPayload:
        pass
    return replace(
        event, token_program=token_program, is_mayhem_mode=mayhem,
        is_cashback_enabled=cashback, quote_mint=quote_mint,
    )  # fmt: skip


def _complete(r: BorshReader) -> CompleteEvent:
    event = CompleteEvent(
        r.pubkey("user"), r.pubkey("mint"), r.pubkey("bonding_curve"), r.i64("timestamp")
    )
    try:
        r.boundary()
        return replace(event, quote_mint=r.pubkey("quote_mint"))
    except _EndOfPayload:
        return event


def _migration(r: BorshReader) -> CompletePumpAmmMigrationEvent:
    event = CompletePumpAmmMigrationEvent(
        r.pubkey("user"), r.pubkey("mint"), r.u64("mint_amount"), r.u64("sol_amount"),
        r.u64("pool_migration_fee"), r.pubkey("bonding_curve"), r.i64("timestamp"),
    )  # fmt: skip
    pool: str | None = None
    quote_mint: str | None = None
    try:
        r.boundary()
        pool = r.pubkey("pool")
        r.boundary()
        quote_mint = r.pubkey("quote_mint")
    except _EndOfPayload:
        pass
    return replace(event, pool=pool, quote_mint=quote_mint)


_LAYOUTS: dict[bytes, Callable[[BorshReader], AnchorEvent]] = {
    discriminator("TradeEvent"): _trade,
    discriminator("CreateEvent"): _create,
    discriminator("CompleteEvent"): _complete,
    discriminator("CompletePumpAmmMigrationEvent"): _migration,
}


def decode_event(payload: bytes) -> AnchorEvent | None:
    """One event payload (discriminator first); None for a discriminator we do not decode.

    Raises :class:`PayloadError` when the payload is shorter than its layout's prefix or holds
    an impossible value (a bool that is not 0/1, a string length past the end).
    """
    if len(payload) < 8:
        raise PayloadError("truncated", f"{len(payload)} bytes, no room for a discriminator")
    layout = _LAYOUTS.get(payload[:8])
    if layout is None:
        return None
    return layout(BorshReader(payload, 8))
