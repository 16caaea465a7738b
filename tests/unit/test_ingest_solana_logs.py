"""SolanaLogsDecoder on the real logsSubscribe capture, on constructed edge cases, on garbage."""

from __future__ import annotations

import base64
import collections
import json
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import decode_input
from streams.ingest.anchor import EMIT_CPI_PREFIX, PUMP_PROGRAM_ID, b58encode, discriminator
from streams.ingest.frames import FrameResult
from streams.ingest.solana_logs import SolanaLogsDecoder, TxContext, decode_cpi_data

CAPTURE = Path(__file__).parents[1] / "fixtures/real-feeds/helius/logs_subscribe_pumpfun.jsonl"
FRAMES: list[str] = [json.loads(line)["raw"] for line in CAPTURE.read_text().splitlines()]
LAUNCHLAB = "LanMV9sAd7wArD4vJFi2qDdfnVhFxYSUg6eADduJ3uj"
TRADE, CREATE = discriminator("TradeEvent"), discriminator("CreateEvent")
DECODER = SolanaLogsDecoder()


def _decode(raw: str | bytes) -> FrameResult:
    return DECODER.decode(raw, received_ms=1_783_165_200_000)


def _notification(logs: list[str], err: Any = None, slot: int = 7, sig: str = "Sig1") -> str:
    value = {"signature": sig, "err": err, "logs": logs}
    params = {"subscription": 1, "result": {"context": {"slot": slot}, "value": value}}
    return json.dumps({"jsonrpc": "2.0", "method": "logsNotification", "params": params})


def _data(payload: bytes) -> str:
    return "Program data: " + base64.b64encode(payload).decode()


def _pump_payloads(frame: dict[str, Any]) -> list[tuple[int, bytes]]:
    """The test's own reading: data lines whose innermost open invocation is pump.fun."""
    stack: list[str] = []
    found, k = [], 0
    for line in frame["params"]["result"]["value"]["logs"]:
        words = line.split()
        if len(words) >= 3 and words[0] == "Program" and words[2] == "invoke":
            stack.append(words[1])
        elif len(words) >= 3 and words[0] == "Program" and words[2] in ("success", "failed:"):
            stack.pop()
        elif line.startswith("Program data: ") and stack and stack[-1] == PUMP_PROGRAM_ID:
            found.append((k, base64.b64decode(line.split()[2])))
            k += 1
    return found


def _expected(payload: bytes) -> dict[str, Any] | None:
    """The contract fields a Trade/CreateEvent payload must become, read with struct."""
    if payload[:8] == TRADE:
        sol, token, is_buy = struct.unpack_from("<QQ?", payload, 40)
        ts, v_sol, v_tok, _r_sol, r_tok = struct.unpack_from("<qQQQQ", payload, 89)
        fee, cfee = (
            struct.unpack_from("<Q", payload, 169)[0],
            struct.unpack_from("<Q", payload, 217)[0],
        )
        paid = sol + fee + cfee if is_buy else sol - fee - cfee
        return {
            "type": "wallet_buy" if is_buy else "wallet_sell", "ts": ts * 1000,
            "mint": b58encode(payload[8:40]), "wallet": b58encode(payload[57:89]),
            "sol_amount": paid / 1e9, "token_amount": token / 1e6,
            "virtual_sol_reserves": v_sol / 1e9, "virtual_token_reserves": v_tok / 1e6,
            "real_token_reserves": r_tok / 1e6, "fee_sol": fee / 1e9, "creator_fee_sol": cfee / 1e9,
        }  # fmt: skip
    if payload[:8] == CREATE:
        offset, texts = 8, []
        for _ in range(3):
            (length,) = struct.unpack_from("<I", payload, offset)
            texts.append(payload[offset + 4 : offset + 4 + length].decode())
            offset += 4 + length
        mint, creator = payload[offset : offset + 32], payload[offset + 96 : offset + 128]
        ts, v_tok, v_sol, r_tok, supply = struct.unpack_from("<qQQQQ", payload, offset + 128)
        return {
            "type": "token_genesis", "ts": ts * 1000, "mint": b58encode(mint),
            "creator": b58encode(creator), "name": texts[0], "symbol": texts[1],
            "uri": texts[2], "virtual_sol_reserves": v_sol / 1e9,
            "virtual_token_reserves": v_tok / 1e6, "real_token_reserves": r_tok / 1e6,
            "token_total_supply": supply / 1e6,
        }  # fmt: skip
    return None


def test_every_successful_trade_and_create_becomes_exactly_one_matching_event() -> None:
    expected: dict[str, dict[str, Any]] = {}
    produced: dict[str, dict[str, Any]] = {}
    for raw in FRAMES:
        frame = json.loads(raw)
        result = _decode(raw)
        for event in result.events:
            assert event["event_id"] not in produced
            produced[event["event_id"]] = event
        if frame.get("method") != "logsNotification":
            continue
        value, slot = frame["params"]["result"]["value"], frame["params"]["result"]["context"]
        if value["err"] is not None:
            assert not result.events
            continue
        for k, payload in _pump_payloads(frame):
            fields = _expected(payload)
            if fields is not None:
                expected[f"pf:{slot['slot']:012d}:{value['signature']}:{k:02d}"] = fields
    assert produced.keys() == expected.keys()
    for event_id, fields in expected.items():
        event = produced[event_id]
        for key, value in fields.items():
            if isinstance(value, float):
                assert event[key] == pytest.approx(value, rel=1e-12, abs=1e-12), (event_id, key)
            else:
                assert event[key] == value, (event_id, key)


def test_counts_per_type_match_the_instruction_lines() -> None:
    """Counted by hand once from the capture's `Program log: Instruction:` lines of pump.fun."""
    counts: collections.Counter[str] = collections.Counter()
    instructions: collections.Counter[str] = collections.Counter()
    for raw in FRAMES:
        counts.update(event["type"] for event in _decode(raw).events)
        frame = json.loads(raw)
        if (
            frame.get("method") == "logsNotification"
            and frame["params"]["result"]["value"]["err"] is None
        ):
            stack: list[str] = []
            for line in frame["params"]["result"]["value"]["logs"]:
                words = line.split()
                if len(words) >= 3 and words[2] == "invoke":
                    stack.append(words[1])
                elif len(words) >= 3 and words[2] in ("success", "failed:"):
                    stack.pop()
                elif line.startswith("Program log: Instruction: ") and stack[-1] == PUMP_PROGRAM_ID:
                    instructions[words[3]] += 1
    assert counts == {"wallet_buy": 54, "wallet_sell": 39, "token_genesis": 19}
    buys = sum(n for name, n in instructions.items() if name.startswith("Buy"))
    sells = sum(n for name, n in instructions.items() if name.startswith("Sell"))
    assert (buys, sells, instructions["CreateV2"]) == (54, 39, 19)


def test_what_the_capture_passes_over_has_a_reason() -> None:
    skipped: collections.Counter[str] = collections.Counter()
    for raw in FRAMES:
        result = _decode(raw)
        assert not result.dead
        assert result.events or result.skipped
        skipped.update(skip.reason for skip in result.skipped)
    assert skipped["tx_failed"] == 47 and skipped["ack"] == 1
    assert skipped["other_program"] > 0 and skipped["unknown_event"] > 0


def test_every_event_passes_the_v2_contract_and_carries_provenance() -> None:
    for raw in FRAMES:
        for event in _decode(raw).events:
            decoded = decode_input(orjson.dumps(event))
            assert decoded.event_id == event["event_id"]
            assert event["ts_source"] == "block_time" and event["launchpad"] == "pump.fun"
            assert event["program_id"] == PUMP_PROGRAM_ID and event["signature"]


def test_routed_trades_count_like_direct_ones() -> None:
    routed = 0
    for raw in FRAMES:
        frame = json.loads(raw)
        logs = frame.get("params", {}).get("result", {}).get("value", {}).get("logs", [])
        if f"Program {PUMP_PROGRAM_ID} invoke [2]" in logs and _decode(raw).events:
            routed += 1
    assert routed >= 3


def test_redelivery_gives_the_same_ids() -> None:
    first = [e["event_id"] for raw in FRAMES for e in _decode(raw).events]
    again = [e["event_id"] for raw in FRAMES for e in _decode(raw.encode()).events]
    assert first == again and len(set(first)) == len(first)


def _capture_trade() -> bytes:
    for raw in FRAMES:
        frame = json.loads(raw)
        if frame.get("method") == "logsNotification":
            for _, payload in _pump_payloads(frame):
                if payload[:8] == TRADE:
                    return payload
    raise AssertionError("no trade in the capture")


def test_the_same_event_from_another_program_is_not_ours() -> None:
    logs = [
        f"Program {LAUNCHLAB} invoke [1]",
        _data(_capture_trade()),
        f"Program {LAUNCHLAB} success",
    ]
    result = _decode(_notification(logs))
    assert not result.events and [s.reason for s in result.skipped] == ["other_program"]


def test_events_of_a_failed_invocation_are_dropped() -> None:
    pump = f"Program {PUMP_PROGRAM_ID}"
    logs = [
        f"{pump} invoke [1]",
        _data(_capture_trade()),
        f"{pump} failed: custom program error: 0x1",
    ]
    result = _decode(_notification(logs))
    assert not result.events and [s.reason for s in result.skipped] == ["invocation_failed"]


def test_a_nested_event_counts_once_its_callers_succeed() -> None:
    pump, router = (
        f"Program {PUMP_PROGRAM_ID}",
        "Program JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QNyVTaV4",
    )
    logs = [
        f"{router} invoke [1]",
        f"{pump} invoke [2]",
        _data(_capture_trade()),
        f"{pump} success",
    ]
    assert not _decode(_notification(logs)).events  # the router never returned: unbalanced
    assert _decode(_notification([*logs, f"{router} success"])).events
    assert _decode(_notification([*logs, "Log truncated"])).events  # err null: it succeeded


def test_a_quote_other_than_sol_is_skipped() -> None:
    payload = bytearray(_capture_trade())
    quote_at = len(payload) - 56  # quote_mint, then quote_amount and two quote reserves
    payload[quote_at : quote_at + 32] = bytes(range(1, 33))
    logs = [
        f"Program {PUMP_PROGRAM_ID} invoke [1]",
        _data(bytes(payload)),
        f"Program {PUMP_PROGRAM_ID} success",
    ]
    result = _decode(_notification(logs))
    assert not result.events and result.skipped[0].reason == "non_sol_quote"


def test_migration_events_become_token_migrated() -> None:
    """Constructed payloads (IDL layout): the capture holds no graduation."""
    user, mint, curve, pool = (bytes([i]) * 32 for i in (1, 2, 3, 4))
    complete = (
        CREATE[:0] + discriminator("CompleteEvent") + user + mint + curve + struct.pack("<q", 1700)
    )
    migration = (
        discriminator("CompletePumpAmmMigrationEvent") + user + mint
        + struct.pack("<QQQ", 206_900_000_000_000, 84_990_359_400, 15_000_000) + curve
        + struct.pack("<q", 1701) + pool
    )  # fmt: skip
    pump = f"Program {PUMP_PROGRAM_ID}"
    logs = [f"{pump} invoke [1]", _data(complete), _data(migration), f"{pump} success"]
    events = _decode(_notification(logs, slot=99, sig="SigM")).events
    assert [e["event_id"] for e in events] == [f"pf:{99:012d}:SigM:00", f"pf:{99:012d}:SigM:01"]
    assert all(e["type"] == "token_migrated" and e["mint"] == b58encode(mint) for e in events)
    assert "pool" not in events[0] and events[0]["ts"] == 1_700_000
    assert events[1]["pool"] == b58encode(pool) and events[1]["destination"] == "pumpswap"
    assert events[1]["sol_amount"] == pytest.approx(84.9903594)
    assert events[1]["token_amount"] == pytest.approx(206_900_000)
    assert events[1]["pool_migration_fee"] == pytest.approx(0.015)
    for event in events:
        decode_input(orjson.dumps(event))


def test_frames_that_are_not_notifications() -> None:
    assert _decode('{"jsonrpc":"2.0","id":1,"result":13117691}').skipped[0].reason == "ack"
    assert _decode("not json").dead[0].reason == "bad_json"
    assert _decode("[1, 2]").dead[0].reason == "unexpected_frame"
    error = '{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}'
    assert _decode(error).dead[0].reason == "rpc_error"
    broken = '{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{}}}'
    assert _decode(broken).dead[0].reason == "bad_notification"
    pump = f"Program {PUMP_PROGRAM_ID}"
    bad = [f"{pump} invoke [1]", "Program data: !!!", f"{pump} success"]
    assert _decode(_notification(bad)).dead[0].reason == "bad_base64"
    short = [f"{pump} invoke [1]", _data(_capture_trade()[:100]), f"{pump} success"]
    assert _decode(_notification(short)).dead[0].reason == "payload_truncated"


def test_subscribe_message_is_a_mentions_logs_subscription() -> None:
    (message,) = DECODER.subscribe_messages()
    assert message["method"] == "logsSubscribe"
    assert message["params"] == [{"mentions": [PUMP_PROGRAM_ID]}, {"commitment": "confirmed"}]


def _accounted(result: FrameResult) -> None:
    assert result.events or result.skipped or result.dead
    assert all(skip.reason for skip in result.skipped + result.dead)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_raise(raw: bytes) -> None:
    _accounted(_decode(raw))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_capture_frames_never_raise(data: st.DataObject) -> None:
    raw = bytearray(data.draw(st.sampled_from(FRAMES)).encode())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] ^= 1 << data.draw(st.integers(0, 7))
    _accounted(_decode(bytes(raw[: data.draw(st.integers(0, len(raw)))])))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_payloads_end_as_events_or_reasons(data: st.DataObject) -> None:
    payload = bytearray(_capture_trade())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(payload) - 1))
        payload[position] ^= 1 << data.draw(st.integers(0, 7))
    cut = data.draw(st.integers(0, len(payload)))
    pump = f"Program {PUMP_PROGRAM_ID}"
    result = _decode(
        _notification([f"{pump} invoke [1]", _data(bytes(payload[:cut])), f"{pump} success"])
    )
    _accounted(result)
    for event in result.events:
        decode_input(orjson.dumps(event))


def test_emit_cpi_inner_instruction_data_maps_like_a_log_line() -> None:
    """The Geyser path's decoding step, on constructed inner-instruction data (prefix + a
    captured payload); the Geyser client itself is not built."""
    payload = _capture_trade()
    pump = f"Program {PUMP_PROGRAM_ID}"
    from_logs = _decode(_notification([f"{pump} invoke [1]", _data(payload), f"{pump} success"]))
    from_cpi = FrameResult()
    decode_cpi_data(EMIT_CPI_PREFIX + payload, TxContext(7, "Sig1"), 0, from_cpi)
    assert from_cpi.events == from_logs.events and len(from_cpi.events) == 1
    other = FrameResult()
    decode_cpi_data(bytes(8) + payload, TxContext(7, "Sig1"), 0, other)
    assert not other.events and other.skipped[0].reason == "not_event"
