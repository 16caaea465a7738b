"""Event contracts: the schema files, the Python models and the decoder agree, and bad input is
answered with a precise error (reason code + field), never a crash."""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.events import (
    INPUT_TYPES,
    DeadLetter,
    DecodeError,
    Genesis,
    Outcome,
    Score,
    Signal,
    decode_input,
    decode_many,
    encode,
)
from streams.events.decode import (
    SCHEMA_DIR,
    _contracts,
    _validate_with_reasons,
    dead_letter_for,
    load_schema,
    validate_output,
)

MODELS_BY_SCHEMA: dict[str, type] = {
    "token-genesis": Genesis,
    "wallet-buy": INPUT_TYPES["wallet_buy"][0],
    "wallet-sell": INPUT_TYPES["wallet_sell"][0],
    "score": Score,
    "signal": Signal,
    "outcome": Outcome,
    "dead-letter": DeadLetter,
}

BUY: dict[str, Any] = {
    "schema_version": 1,
    "type": "wallet_buy",
    "event_id": "e-000000000001",
    "ts": 1_767_225_600_000,
    "mint": "MintAAAA",
    "wallet": "WalletBBBB",
    "sol_amount": 0.5,
    "token_amount": 17_000_000.0,
    "virtual_sol_reserves": 30.495,
    "virtual_token_reserves": 1_055_000_000.0,
    "real_token_reserves": 775_100_000.0,
    "venue": "curve",
}
GENESIS: dict[str, Any] = {
    "schema_version": 1,
    "type": "token_genesis",
    "event_id": "e-000000000000",
    "ts": 1_767_225_600_000,
    "mint": "MintAAAA",
    "creator": "CreatorCCCC",
    "name": "Test",
    "symbol": "TST",
    "virtual_sol_reserves": 30.0,
    "virtual_token_reserves": 1_073_000_000.0,
    "real_token_reserves": 793_100_000.0,
    "slot": 4_418_064_000,
}


def _err(payload: bytes, topic: str | None = None) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_input(payload, topic)
    return info.value


def test_every_schema_file_has_a_model_with_the_same_fields_in_order() -> None:
    files = sorted(p.name.split(".")[0] for p in SCHEMA_DIR.glob("*.v1.schema.json"))
    assert files == sorted(MODELS_BY_SCHEMA)
    for name, model in MODELS_BY_SCHEMA.items():
        schema = load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert [f.name for f in dataclasses.fields(model)] == list(schema["properties"]), name
        optional = {
            f.name for f in dataclasses.fields(model) if f.default is not dataclasses.MISSING
        }
        assert set(schema["required"]) == set(schema["properties"]) - optional, name


@pytest.mark.parametrize("raw", [BUY, GENESIS, {**BUY, "type": "wallet_sell", "event_id": "e-2"}])
def test_valid_events_decode_and_round_trip(raw: dict[str, Any]) -> None:
    event = decode_input(orjson.dumps(raw))
    assert type(event) is INPUT_TYPES[raw["type"]][0]
    again = orjson.loads(encode(event))
    assert {k: v for k, v in again.items() if v is not None} == raw


def test_trade_price_is_sol_per_token_after_the_trade() -> None:
    event = decode_input(orjson.dumps(BUY))
    assert event.price == pytest.approx(30.495 / 1_055_000_000.0)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        (orjson.dumps({k: v for k, v in BUY.items() if k != "wallet"}), "missing_field", "wallet"),
        (orjson.dumps({**BUY, "sol_amount": "0.5"}), "wrong_type", "sol_amount"),
        (orjson.dumps({**BUY, "ts": 1.5}), "wrong_type", "ts"),
        (orjson.dumps({**BUY, "ts": True}), "wrong_type", "ts"),
        (orjson.dumps({**BUY, "sol_amount": -0.5}), "bad_value", "sol_amount"),
        (orjson.dumps({**BUY, "token_amount": 0}), "bad_value", "token_amount"),
        (orjson.dumps({**BUY, "venue": "cex"}), "bad_value", "venue"),
        (orjson.dumps({**BUY, "schema_version": 2}), "bad_value", "schema_version"),
        (orjson.dumps({**BUY, "surprise": 1}), "unknown_field", "surprise"),
        (orjson.dumps({**BUY, "type": "wallet_swap"}), "unknown_type", "type"),
        (orjson.dumps({k: v for k, v in BUY.items() if k != "type"}), "unknown_type", "type"),
        (b"\xff\xfe\x00garbage", "not_utf8", None),
        (orjson.dumps(BUY)[:-7], "bad_json", None),
        (b"[1, 2, 3]", "not_object", None),
        (b"{" + b'"pad": "' + b"x" * (10 * 1024 * 1024) + b'"}', "too_large", None),
    ],
    ids=[
        "missing-field",
        "string-for-number",
        "float-for-int",
        "bool-for-int",
        "negative-amount",
        "zero-amount",
        "unknown-venue",
        "future-version",
        "unknown-field",
        "unknown-type",
        "no-type",
        "non-utf8",
        "truncated-json",
        "not-an-object",
        "10MB-payload",
    ],
)
def test_bad_input_gets_a_precise_error(payload: bytes, reason: str, field: str | None) -> None:
    err = _err(payload)
    assert err.reason == reason
    assert err.field == field
    if field is not None:
        assert field in str(err)


def test_event_on_the_wrong_topic_is_rejected() -> None:
    err = _err(orjson.dumps(BUY), topic="token-genesis")
    assert err.reason == "wrong_topic"
    assert decode_input(orjson.dumps(BUY), topic="wallet-buy").event_id == BUY["event_id"]


def test_decode_many_splits_oks_and_errors_with_indices() -> None:
    oks, errs = decode_many([orjson.dumps(BUY), b"nope", orjson.dumps(GENESIS)])
    assert [e.event_id for e in oks] == [BUY["event_id"], GENESIS["event_id"]]
    assert [(i, e.reason) for i, e in errs] == [(1, "bad_json")]


def test_dead_letter_record_is_valid_and_keeps_the_reason() -> None:
    payload = b"\xff" * 3000
    record = dead_letter_for(
        payload, _err(payload), topic="wallet-buy", partition=3, offset=42, ts=1, key=b"MintAAAA"
    )
    as_dict = orjson.loads(encode(record))
    validate_output(as_dict, "dead-letter")
    jsonschema.validate(as_dict, load_schema("dead-letter"))
    assert (record.reason, record.mint, record.payload_size) == ("not_utf8", "MintAAAA", 3000)
    assert len(record.payload_head) <= 4 * 1024


def _integral_float_in_integer_field(topic: str, key: str, value: Any) -> bool:
    spec = load_schema(topic)["properties"].get(key, {})
    types = spec.get("type", [])
    types = types if isinstance(types, list) else [types]
    return isinstance(value, float) and value.is_integer() and "integer" in types


def test_integral_float_for_an_integer_field_is_rejected_on_purpose() -> None:
    assert _err(orjson.dumps({**BUY, "ts": 1.0})).reason == "wrong_type"


# Property: the compiled decoder and a reference JSON Schema validator agree on arbitrary mutations.
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**13),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just(5.0),
    st.text(max_size=5),
    st.sampled_from(["curve", "amm", "wallet_buy", "token_genesis"]),
)


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the valid event it came from, a copy with up to 2 fields dropped and 2 set)"""
    base = draw(st.sampled_from([BUY, GENESIS]))
    drop = draw(st.sets(st.sampled_from(sorted(set(BUY) | set(GENESIS))), max_size=2))
    changes = draw(
        st.dictionaries(
            st.sampled_from(sorted(set(BUY) | set(GENESIS) | {"x"})), _values, max_size=2
        )
    )
    return base, {k: v for k, v in base.items() if k not in drop} | changes


@settings(max_examples=300, deadline=None)
@given(mutated_events())
def test_decoder_agrees_with_reference_json_schema_validator(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, obj = case
    topic = {"wallet_buy": "wallet-buy", "token_genesis": "token-genesis"}[base["type"]]
    reference_ok = jsonschema.Draft202012Validator(load_schema(topic)).is_valid(obj)
    if any(_integral_float_in_integer_field(topic, k, v) for k, v in obj.items()):
        reference_ok = False  # deliberate: we require JSON integers where the schema says integer
    try:
        decode_input(orjson.dumps(obj), topic=topic)
        ours_ok = True
    except DecodeError:
        ours_ok = False
    assert ours_ok == reference_ok, obj


@settings(max_examples=500, deadline=None)
@given(mutated_events())
def test_fast_check_never_accepts_what_the_reasoned_checks_refuse(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, obj = case
    contract = _contracts()[base["type"]]
    if contract.fast(obj):
        assert _validate_with_reasons(contract, obj) == contract.model(**obj)


def test_fast_check_accepts_every_simulated_event() -> None:
    """The generated check must not send valid traffic down the slow path."""
    from streams.devtools.harness import sim_events

    events = sim_events(seed=3, hours=0.25, launch_rate_per_day=4000)
    contracts = _contracts()
    refused = [
        e["event_id"]
        for e in events
        if not contracts[e["type"]].fast(orjson.loads(orjson.dumps(e)))
    ]
    assert len(events) > 100 and refused == []
