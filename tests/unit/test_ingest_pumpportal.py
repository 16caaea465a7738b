"""PumpPortalDecoder on the real session capture, on constructed trade frames, on garbage.

The capture was taken without an API key, so it holds no trade frames: the buy/sell frames
below are *constructed* in the shape PumpPortal documents (signature, mint, traderPublicKey,
txType, tokenAmount, solAmount, newTokenBalance, bondingCurveKey, vTokensInBondingCurve,
vSolInBondingCurve, marketCapSol, pool), not captured.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import decode_input
from streams.ingest.frames import FrameResult
from streams.ingest.pumpportal import PumpPortalDecoder

CAPTURE = Path(__file__).parents[1] / "fixtures/real-feeds/pumpportal/session1.jsonl"
RECORDS: list[dict[str, Any]] = [json.loads(line) for line in CAPTURE.read_text().splitlines()]
DECODER = PumpPortalDecoder()
RECEIVED = 1_783_089_930_000


def _decode(frame: dict[str, Any] | str) -> FrameResult:
    raw = frame if isinstance(frame, str) else json.dumps(frame)
    return DECODER.decode(raw, RECEIVED)


def _frames(tx_type: str, pool: str = "pump") -> list[dict[str, Any]]:
    out = []
    for record in RECORDS:
        frame = json.loads(record["raw"])
        if frame.get("txType") == tx_type and frame.get("pool") == pool:
            out.append(frame)
    return out


def test_every_pump_create_becomes_a_genesis_with_the_initial_curve() -> None:
    creates = _frames("create")
    assert len(creates) == 197
    for frame in creates:
        events = _decode(frame).events
        genesis = events[0]
        assert genesis["type"] == "token_genesis"
        assert genesis["event_id"] == f"pp:{frame['signature']}:00"
        assert (genesis["mint"], genesis["creator"]) == (frame["mint"], frame["traderPublicKey"])
        assert genesis["name"] == frame.get("name") and genesis["symbol"] == frame.get("symbol")
        assert genesis.get("uri") == frame.get("uri")
        assert genesis["virtual_sol_reserves"] == 30.0
        assert genesis["virtual_token_reserves"] == 1_073_000_000.0
        assert genesis["real_token_reserves"] == 793_100_000.0
        assert genesis["ts"] == RECEIVED and genesis["ts_source"] == "receive_time"
        assert genesis["is_mayhem_mode"] == frame["is_mayhem_mode"]


def test_a_dev_buy_is_a_separate_buy_with_the_curve_after_it() -> None:
    dev_buys = 0
    for frame in _frames("create"):
        events = _decode(frame).events
        if frame["initialBuy"] <= 0:
            assert len(events) == 1
            continue
        dev_buys += 1
        _, buy = events
        assert buy["type"] == "wallet_buy" and buy["event_id"] == f"pp:{frame['signature']}:01"
        assert buy["wallet"] == frame["traderPublicKey"]
        assert buy["sol_amount"] == frame["solAmount"]
        assert buy["token_amount"] == frame["initialBuy"]
        assert buy["virtual_sol_reserves"] == frame["vSolInBondingCurve"]
        assert buy["virtual_token_reserves"] == frame["vTokensInBondingCurve"]
        assert buy["real_token_reserves"] == pytest.approx(
            793_100_000 - frame["initialBuy"], rel=1e-12
        )
        assert "fee_sol" not in buy  # PumpPortal does not say: unknown, not estimated
    assert dev_buys == 167


def test_creates_without_name_symbol_uri_carry_null_not_made_up_values() -> None:
    bare = [f for f in _frames("create") if "name" not in f]
    assert len(bare) == 10
    for frame in bare:
        genesis = _decode(frame).events[0]
        assert genesis["name"] is None and genesis["symbol"] is None and "uri" not in genesis


def test_migrations_and_what_is_passed_over() -> None:
    counts: collections.Counter[str] = collections.Counter()
    skipped: collections.Counter[str] = collections.Counter()
    for record in RECORDS:
        result = DECODER.decode(record["raw"], int(record["t_wall"] * 1000))
        assert not result.dead
        assert result.events or result.skipped
        counts.update(event["type"] for event in result.events)
        skipped.update(skip.reason for skip in result.skipped)
        for event in result.events:
            decode_input(orjson.dumps(event))
    assert counts == {"token_genesis": 197, "wallet_buy": 167, "token_migrated": 7}
    assert skipped == {"ack": 2, "refused": 1, "unsupported_pool": 1}
    for frame in _frames("migrate", "pump-amm"):
        (event,) = _decode(frame).events
        assert event["mint"] == frame["mint"] and event["destination"] == "pumpswap"
        assert event["event_id"] == f"pp:{frame['signature']}:00" and "pool" not in event


def _trade(tx_type: str, **changes: Any) -> dict[str, Any]:
    """Constructed (documented shape), not captured."""
    frame = {
        "signature": "5sigConstructed", "mint": "MintConstructedpump",
        "traderPublicKey": "WalletConstructed", "txType": tx_type, "tokenAmount": 3_500_000.5,
        "solAmount": 0.1, "newTokenBalance": 3_500_000.5, "bondingCurveKey": "CurveConstructed",
        "vTokensInBondingCurve": 1_000_000_000.0, "vSolInBondingCurve": 32.19,
        "marketCapSol": 32.19, "pool": "pump",
    }  # fmt: skip
    frame.update(changes)
    return frame


@pytest.mark.parametrize("tx_type", ["buy", "sell"])
def test_constructed_trade_frames_map_to_trades(tx_type: str) -> None:
    (event,) = _decode(_trade(tx_type)).events
    assert event["type"] == f"wallet_{tx_type}" and event["event_id"] == "pp:5sigConstructed:00"
    assert (event["sol_amount"], event["token_amount"]) == (0.1, 3_500_000.5)
    assert event["real_token_reserves"] == pytest.approx(1_000_000_000 - 279_900_000)
    assert event["venue"] == "curve" and "slot" not in event
    decode_input(orjson.dumps(event))


def test_broken_frames_are_dead_with_the_field_named() -> None:
    missing = _decode(_trade("buy", tokenAmount=None))
    assert missing.dead[0].reason == "missing_field" and "tokenAmount" in missing.dead[0].detail
    zero = _decode(_trade("sell", tokenAmount=0))
    assert zero.dead[0].reason.startswith("contract_")
    assert _decode(_trade("buy", solAmount="0.1")).dead[0].reason == "wrong_type"
    assert _decode(_trade("swap")).dead[0].reason == "unknown_tx_type"
    assert _decode(_trade("buy", vTokensInBondingCurve=1.0)).dead[0].reason == "nonstandard_curve"
    assert _decode("{not json").dead[0].reason == "bad_json"
    assert _decode("[]").dead[0].reason == "unexpected_frame"


def test_other_launchpads_are_skipped_with_their_pool() -> None:
    (bonk,) = _frames("create", "bonk")
    result = _decode(bonk)
    assert not result.events and result.skipped[0].reason == "unsupported_pool"
    assert result.skipped[0].detail == "bonk"


def test_trade_subscriptions_only_with_an_api_key() -> None:
    plain = PumpPortalDecoder(token_keys=("M1",), account_keys=("W1",))
    assert [m["method"] for m in plain.subscribe_messages()] == [
        "subscribeNewToken", "subscribeMigration",
    ]  # fmt: skip
    keyed = PumpPortalDecoder(token_keys=("M1",), account_keys=("W1",), has_api_key=True)
    messages = keyed.subscribe_messages()
    assert messages[2] == {"method": "subscribeTokenTrade", "keys": ["M1"]}
    assert messages[3] == {"method": "subscribeAccountTrade", "keys": ["W1"]}


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_frames_never_raise(data: st.DataObject) -> None:
    frame = dict(
        data.draw(st.sampled_from([json.loads(r["raw"]) for r in RECORDS] + [_trade("buy")]))
    )
    for key in data.draw(st.lists(st.sampled_from(sorted(frame) or ["x"]), max_size=4)):
        if data.draw(st.booleans()):
            frame.pop(key, None)
        else:
            frame[key] = data.draw(json_values)
    result = _decode(json.dumps(frame))
    assert result.events or result.skipped or result.dead
    for event in result.events:
        decode_input(orjson.dumps(event))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise(raw: bytes) -> None:
    result = DECODER.decode(raw, RECEIVED)
    assert result.events or result.skipped or result.dead
