"""The borsh reader and the four pump.fun event layouts, on real payloads and on broken ones."""

from __future__ import annotations

import base64
import collections
import json
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ingest.anchor import (
    CompleteEvent,
    CompletePumpAmmMigrationEvent,
    CreateEvent,
    PayloadError,
    TradeEvent,
    b58encode,
    decode_event,
    discriminator,
)

CAPTURE = Path(__file__).parents[1] / "fixtures/real-feeds/helius/logs_subscribe_pumpfun.jsonl"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    """Independent of the code under test: digit by digit, then the leading '1's."""
    number = 0
    for char in text:
        number = number * 58 + B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def _capture_payloads(disc: bytes) -> list[bytes]:
    out = []
    for line in CAPTURE.read_text().splitlines():
        for log in (
            json.loads(json.loads(line)["raw"])
            .get("params", {})
            .get("result", {})
            .get("value", {})
            .get("logs", [])
        ):
            if log.startswith("Program data: "):
                payload = base64.b64decode(log[len("Program data: ") :])
                if payload[:8] == disc:
                    out.append(payload)
    return out


TRADES = _capture_payloads(discriminator("TradeEvent"))
CREATES = _capture_payloads(discriminator("CreateEvent"))


def test_discriminators_match_the_published_table() -> None:
    assert discriminator("TradeEvent").hex() == "bddb7fd34ee661ee"
    assert discriminator("CreateEvent").hex() == "1b72a94ddeeb6376"
    assert discriminator("CompleteEvent").hex() == "5f72619cd42e9808"
    assert discriminator("CompletePumpAmmMigrationEvent").hex() == "bde95db95c94ea94"


def test_base58_known_vectors() -> None:
    assert b58encode(b"hello world") == "StV1DL6CwTryKyV"
    assert b58encode(bytes(32)) == "1" * 32
    program = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
    assert b58encode(_b58decode(program)) == program


@given(st.binary(min_size=0, max_size=40))
def test_base58_round_trips(raw: bytes) -> None:
    assert _b58decode(b58encode(raw)) == raw


def test_capture_trades_decode_to_their_raw_fields() -> None:
    assert len(TRADES) >= 90
    for payload in TRADES:
        event = decode_event(payload)
        assert isinstance(event, TradeEvent)
        sol, token, is_buy = struct.unpack_from("<QQ?", payload, 40)
        ts, v_sol, v_tok, r_sol, r_tok = struct.unpack_from("<qQQQQ", payload, 89)
        fee_bps, fee = struct.unpack_from("<QQ", payload, 161)
        assert event.mint == b58encode(payload[8:40])
        assert event.user == b58encode(payload[57:89])
        assert (event.sol_amount, event.token_amount, event.is_buy) == (sol, token, is_buy)
        assert (event.timestamp, event.virtual_sol_reserves) == (ts, v_sol)
        assert (event.virtual_token_reserves, event.real_sol_reserves) == (v_tok, r_sol)
        assert event.real_token_reserves == r_tok
        assert (event.fee_basis_points, event.fee) == (fee_bps, fee)
        assert event.creator_fee == struct.unpack_from("<Q", payload, 217)[0]
        # the tail of the captured program version is present and read
        assert event.ix_name in {"buy", "sell", "buy_exact_sol_in", "buy_exact_quote_in"}
        assert event.quote_mint == "1" * 32 and event.quote_amount == sol


def test_capture_creates_decode_names_and_curve() -> None:
    assert len(CREATES) == 19
    for payload in CREATES:
        event = decode_event(payload)
        assert isinstance(event, CreateEvent)
        name_len = struct.unpack_from("<I", payload, 8)[0]
        assert event.name == payload[12 : 12 + name_len].decode()
        assert event.mint.endswith("pump")
        assert event.virtual_sol_reserves == 30_000_000_000
        assert event.virtual_token_reserves == 1_073_000_000_000_000
        assert event.real_token_reserves == 793_100_000_000_000
        assert event.token_total_supply == 1_000_000_000_000_000
        assert event.is_mayhem_mode is not None and event.quote_mint == "1" * 32


def test_an_older_version_stops_on_a_field_boundary() -> None:
    prefix = TRADES[0][:225]  # through creator_fee: the oldest layout still in the IDL
    event = decode_event(prefix)
    assert isinstance(event, TradeEvent) and event.ix_name is None and event.quote_mint is None


def test_appended_fields_are_ignored() -> None:
    event = decode_event(TRADES[0] + bytes(50))
    assert event == decode_event(TRADES[0])


@pytest.mark.parametrize("cut", [0, 5, 8, 40, 100, 224])
def test_a_truncated_prefix_is_a_payload_error(cut: int) -> None:
    with pytest.raises(PayloadError) as err:
        decode_event(TRADES[0][:cut])
    assert err.value.reason == "truncated"


def test_a_cut_inside_a_tail_field_is_a_payload_error() -> None:
    with pytest.raises(PayloadError):
        decode_event(TRADES[0][:230])  # inside total_unclaimed_tokens


def test_impossible_values_are_payload_errors() -> None:
    bad_bool = bytearray(TRADES[0])
    bad_bool[56] = 7  # is_buy
    with pytest.raises(PayloadError, match="bad_bool"):
        decode_event(bytes(bad_bool))
    bad_len = bytearray(CREATES[0])
    bad_len[8:12] = struct.pack("<I", 1 << 30)
    with pytest.raises(PayloadError, match="bad_length"):
        decode_event(bytes(bad_len))


def test_unknown_discriminator_is_none() -> None:
    assert decode_event(bytes(8) + bytes(100)) is None


def test_constructed_migration_events_decode() -> None:
    """Constructed from the IDL layout (the capture holds no migration)."""
    user, mint, curve, pool = (bytes([i]) * 32 for i in (1, 2, 3, 4))
    complete = discriminator("CompleteEvent") + user + mint + curve + struct.pack("<q", 1700)
    event = decode_event(complete)
    assert event == CompleteEvent(b58encode(user), b58encode(mint), b58encode(curve), 1700)
    migration = (
        discriminator("CompletePumpAmmMigrationEvent") + user + mint
        + struct.pack("<QQQ", 206_900_000_000_000, 84_990_359_400, 15_000_000) + curve
        + struct.pack("<q", 1701) + pool + bytes(32)
    )  # fmt: skip
    moved = decode_event(migration)
    assert isinstance(moved, CompletePumpAmmMigrationEvent)
    assert (moved.mint_amount, moved.sol_amount, moved.pool) == (
        206_900_000_000_000, 84_990_359_400, b58encode(pool),
    )  # fmt: skip
    assert moved.quote_mint == "1" * 32


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        ["TradeEvent", "CreateEvent", "CompleteEvent", "CompletePumpAmmMigrationEvent"]
    ),
    st.binary(max_size=400),
)
def test_random_bodies_decode_or_raise_a_payload_error(name: str, body: bytes) -> None:
    try:
        decode_event(discriminator(name) + body)
    except PayloadError as err:
        assert err.reason


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_bit_flipped_and_cut_captures_never_raise_anything_else(data: st.DataObject) -> None:
    payload = bytearray(data.draw(st.sampled_from(TRADES + CREATES)))
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(payload)))
    try:
        decode_event(bytes(payload[:cut]))
    except PayloadError as err:
        assert err.reason


def test_capture_fee_rates() -> None:
    """The rates docs/feeds.md quotes for the captured period (read per event, never assumed)."""
    rates = collections.Counter(
        (e.fee_basis_points, e.creator_fee_basis_points)
        for e in map(decode_event, TRADES)
        if isinstance(e, TradeEvent)
    )
    assert rates == {(95, 30): 61, (95, 0): 29, (0, 0): 3}
