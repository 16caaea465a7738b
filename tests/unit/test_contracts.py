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
    IgnoredFields,
    Outcome,
    Score,
    Signal,
    TokenMigrated,
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
V2_MODELS_BY_SCHEMA: dict[str, type] = {
    "token-genesis": Genesis,
    "wallet-buy": INPUT_TYPES["wallet_buy"][0],
    "wallet-sell": INPUT_TYPES["wallet_sell"][0],
    "token-migrated": TokenMigrated,
}
TOPIC_OF = {type_name: topic for type_name, (_, topic) in INPUT_TYPES.items()}

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
CHAIN = {
    "slot": 380_000_123,
    "signature": "5xSig",
    "schema_minor": 0,
    "ts_source": "block_time",
    "launchpad": "pump.fun",
    "program_id": "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P",
}
BUY_V2: dict[str, Any] = {
    **BUY,
    "schema_version": 2,
    "event_id": "pf:000380000123:5xSig:01",
    **CHAIN,
    "fee_sol": 0.00475,
    "creator_fee_sol": 0.0015,
    "real_sol_reserves": 0.495,
    "creator": "CreatorCCCC",
    "ix_name": "buy",
    "is_mayhem_mode": False,
}
GENESIS_V2: dict[str, Any] = {
    **GENESIS,
    "schema_version": 2,
    "event_id": "pf:000380000123:5xSig:00",
    "name": None,
    "symbol": None,
    **CHAIN,
    "quote_mint": None,
    "uri": "https://example.invalid/meta.json",
    "bonding_curve": "CurveDDDD",
    "token_total_supply": 1_000_000_000.0,
    "is_mayhem_mode": False,
    "is_cashback": None,
}
MIGRATED: dict[str, Any] = {
    "schema_version": 2,
    "type": "token_migrated",
    "event_id": "pf:000380000999:7ySig:02",
    "ts": 1_767_229_200_000,
    "mint": "MintAAAA",
    **CHAIN,
    "pool": "PoolEEEE",
    "sol_amount": 84.99,
    "token_amount": 206_900_000.0,
    "pool_migration_fee": 0.015,
    "bonding_curve": "CurveDDDD",
    "destination": "pumpswap",
}


def _err(payload: bytes, topic: str | None = None) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_input(payload, topic)
    return info.value


def test_every_schema_file_has_a_model_with_the_same_fields_in_order() -> None:
    files = sorted(
        p.name.split(".")[0] for p in SCHEMA_DIR.iterdir() if p.name.endswith(".v1.schema.json")
    )
    assert files == sorted(set(MODELS_BY_SCHEMA) - {"token-migrated"})
    for name, model in MODELS_BY_SCHEMA.items():
        schema = load_schema(name)
        jsonschema.Draft202012Validator.check_schema(schema)
        names = [f.name for f in dataclasses.fields(model)]
        # v1 input schemas are a prefix of the (v2) model; output schemas match it whole
        assert names[: len(schema["properties"])] == list(schema["properties"]), name
        if name not in V2_MODELS_BY_SCHEMA:
            assert names == list(schema["properties"]), name
        optional = {
            f.name for f in dataclasses.fields(model) if f.default is not dataclasses.MISSING
        }
        assert set(schema["required"]) == set(schema["properties"]) - optional, name


def test_every_v2_schema_file_has_a_model_with_the_same_fields_in_order() -> None:
    files = sorted(
        p.name.split(".")[0] for p in SCHEMA_DIR.iterdir() if p.name.endswith(".v2.schema.json")
    )
    assert files == sorted(V2_MODELS_BY_SCHEMA)
    for name, model in V2_MODELS_BY_SCHEMA.items():
        schema = load_schema(name, 2)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["schema_version"]["const"] == 2
        assert [f.name for f in dataclasses.fields(model)] == list(schema["properties"]), name
        optional = {
            f.name for f in dataclasses.fields(model) if f.default is not dataclasses.MISSING
        }
        assert set(schema["required"]) == set(schema["properties"]) - optional, name
        for key in optional:  # every v2 addition may be null: a feed that lacks it says so
            assert jsonschema.Draft202012Validator(schema["properties"][key]).is_valid(None), key
        if name != "token-migrated":  # v2 keeps every v1 field, same requiredness
            v1 = load_schema(name)
            assert list(schema["properties"])[: len(v1["properties"])] == list(v1["properties"])
            assert schema["required"] == v1["required"], name


@pytest.mark.parametrize(
    "raw",
    [
        BUY,
        GENESIS,
        {**BUY, "type": "wallet_sell", "event_id": "e-2"},
        BUY_V2,
        {**BUY_V2, "type": "wallet_sell", "event_id": "e-3"},
        GENESIS_V2,
        MIGRATED,
        {k: MIGRATED[k] for k in ("schema_version", "type", "event_id", "ts", "mint")},
    ],
    ids=["buy", "genesis", "sell", "buy-v2", "sell-v2", "genesis-v2", "migrated", "migrated-bare"],
)
def test_valid_events_decode_and_round_trip(raw: dict[str, Any]) -> None:
    event = decode_input(orjson.dumps(raw), topic=TOPIC_OF[raw["type"]])
    assert type(event) is INPUT_TYPES[raw["type"]][0]
    again = orjson.loads(encode(event))
    assert {k: v for k, v in again.items() if v is not None} == {
        k: v for k, v in raw.items() if v is not None
    }
    version = raw["schema_version"]
    assert _contracts()[raw["type"]][version].fast(raw), "valid traffic takes the fast path"


def test_a_v1_event_decodes_as_before_with_every_v2_field_unset() -> None:
    event = decode_input(orjson.dumps(GENESIS))
    assert event == Genesis(**GENESIS)
    v2_only = set(load_schema("token-genesis", 2)["properties"]) - set(GENESIS) - {"signature"}
    assert v2_only and all(getattr(event, key) is None for key in v2_only)


def test_v2_genesis_without_name_or_symbol_says_unknown_not_empty() -> None:
    event = decode_input(orjson.dumps(GENESIS_V2), topic="token-genesis")
    assert isinstance(event, Genesis)
    assert (event.name, event.symbol) == (None, None)


def test_newer_minor_accepts_ignores_and_counts_unknown_fields() -> None:
    ignored: IgnoredFields = IgnoredFields()
    newer = {**BUY_V2, "schema_minor": 3, "quote_amount": 1.5, "cashback_fee_sol": 0.001}
    event = decode_input(orjson.dumps(newer), topic="wallet-buy", ignored=ignored)
    assert event == decode_input(orjson.dumps({**BUY_V2, "schema_minor": 3}))
    assert ignored == {("wallet_buy", "quote_amount"): 1, ("wallet_buy", "cashback_fee_sol"): 1}
    oks, errs = decode_many([orjson.dumps(newer), orjson.dumps(BUY_V2)], ignored=ignored)
    assert (len(oks), errs) == (2, [])
    assert ignored[("wallet_buy", "quote_amount")] == 2
    # no counter given: still accepted, nothing to count into
    assert decode_input(orjson.dumps({**MIGRATED, "schema_minor": 1, "new": 1})).mint == "MintAAAA"


def test_known_minor_or_no_minor_keeps_unknown_fields_strict() -> None:
    ignored: IgnoredFields = IgnoredFields()
    no_minor = {k: v for k, v in BUY_V2.items() if k != "schema_minor"}
    for raw in ({**no_minor, "x": 1}, {**BUY_V2, "schema_minor": None, "x": 1}):
        with pytest.raises(DecodeError) as info:
            decode_input(orjson.dumps(raw), ignored=ignored)
        assert (info.value.reason, info.value.field) == ("unknown_field", "x")
    assert ignored == {}


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
        (orjson.dumps({**BUY, "schema_version": 3}), "bad_value", "schema_version"),
        (orjson.dumps({**BUY, "schema_version": True}), "wrong_type", "schema_version"),
        (orjson.dumps({**BUY, "schema_version": 1.0}), "wrong_type", "schema_version"),
        (orjson.dumps({**MIGRATED, "schema_version": 1}), "bad_value", "schema_version"),
        (orjson.dumps({**BUY, "schema_minor": 1}), "unknown_field", "schema_minor"),
        (orjson.dumps({**BUY_V2, "surprise": 1}), "unknown_field", "surprise"),
        (orjson.dumps({**BUY_V2, "schema_minor": 0, "surprise": 1}), "unknown_field", "surprise"),
        (orjson.dumps({**BUY_V2, "schema_minor": -1}), "bad_value", "schema_minor"),
        (orjson.dumps({**BUY_V2, "schema_minor": 1, "fee_sol": -1.0}), "bad_value", "fee_sol"),
        (orjson.dumps({**BUY_V2, "ts_source": "wall_clock"}), "bad_value", "ts_source"),
        (orjson.dumps({**BUY_V2, "launchpad": "x" * 33}), "bad_value", "launchpad"),
        (orjson.dumps({**GENESIS_V2, "uri": 7}), "wrong_type", "uri"),
        (orjson.dumps({**BUY, "name": None}), "unknown_field", "name"),
        (orjson.dumps({**GENESIS, "name": None}), "wrong_type", "name"),
        (orjson.dumps({k: v for k, v in MIGRATED.items() if k != "mint"}), "missing_field", "mint"),
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
        "bool-version",
        "float-version",
        "migrated-has-no-v1",
        "minor-in-v1",
        "unknown-field-v2",
        "unknown-field-v2-minor-0",
        "negative-minor",
        "newer-minor-still-checks-known-fields",
        "unknown-ts-source",
        "long-launchpad",
        "uri-not-string",
        "name-on-a-buy",
        "null-name-in-v1",
        "migrated-without-mint",
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


def _integral_float_in_integer_field(schema: dict[str, Any], key: str, value: Any) -> bool:
    spec = schema["properties"].get(key, {})
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
    st.sampled_from(["curve", "amm", "wallet_buy", "token_genesis", "block_time", "pumpswap"]),
    st.sampled_from([0, 1, 2, 3]),  # versions and minors, old, known and newer
)
_BASES = [BUY, GENESIS, BUY_V2, GENESIS_V2, MIGRATED]
_KEYS = sorted({key for base in _BASES for key in base} | {"x", "schema_minor"})


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the valid event it came from, a copy with up to 2 fields dropped and 3 set)"""
    base = draw(st.sampled_from(_BASES))
    drop = draw(st.sets(st.sampled_from(_KEYS), max_size=2))
    changes = draw(st.dictionaries(st.sampled_from(_KEYS), _values, max_size=3))
    return base, {k: v for k, v in base.items() if k not in drop} | changes


def _reference_ok(topic: str, obj: dict[str, Any]) -> bool:
    """The compatibility rule over the reference validator: the object is valid under the schema
    of some major; under v2 with a newer schema_minor, after dropping the fields it does not list.
    """
    for version in (1, 2):
        if not (SCHEMA_DIR / f"{topic}.v{version}.schema.json").is_file():
            continue
        schema = load_schema(topic, version)
        minor = obj.get("schema_minor")
        if version == 2 and type(minor) is int and minor > 0:
            obj = {k: v for k, v in obj.items() if k in schema["properties"]}
        if any(_integral_float_in_integer_field(schema, k, v) for k, v in obj.items()):
            continue  # deliberate: we require JSON integers where the schema says integer
        if jsonschema.Draft202012Validator(schema).is_valid(obj):
            return True
    return False


@settings(max_examples=600, deadline=None)
@given(mutated_events())
def test_decoder_agrees_with_reference_json_schema_validator(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, obj = case
    topic = TOPIC_OF[base["type"]]
    reference_ok = _reference_ok(topic, obj)
    try:
        decode_input(orjson.dumps(obj), topic=topic)
        ours_ok = True
    except DecodeError:
        ours_ok = False
    assert ours_ok == reference_ok, obj


def test_reference_rule_sees_both_sides_of_the_minor_version() -> None:
    """The agreement test above is only worth something if its reference tells these apart."""
    newer = {**BUY_V2, "schema_minor": 1, "x": 1}
    assert _reference_ok("wallet-buy", newer)
    assert not _reference_ok("wallet-buy", {**newer, "schema_minor": 0})
    assert not _reference_ok("wallet-buy", {**BUY, "schema_minor": 1, "x": 1})


@settings(max_examples=500, deadline=None)
@given(mutated_events())
def test_fast_check_never_accepts_what_the_reasoned_checks_refuse(
    case: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    base, obj = case
    contract = _contracts()[base["type"]][base["schema_version"]]
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
        if not contracts[e["type"]][e["schema_version"]].fast(orjson.loads(orjson.dumps(e)))
    ]
    assert len(events) > 100 and refused == []


def test_encode_writes_only_the_fields_of_the_events_own_version() -> None:
    """A v1 event built in code (the models hold v2's optional fields too) encodes to v1 and
    decodes back equal; a v2 event keeps its v2 fields."""
    from streams.testing import Curve, make_buy, make_genesis

    genesis = make_genesis("mint-enc", 1_000, slot=7)
    buy = make_buy(Curve(), "mint-enc", "wallet-enc", 0.5, 2_000)
    for event in (genesis, buy):
        written = orjson.loads(encode(event))
        assert "launchpad" not in written and "schema_minor" not in written
        assert decode_input(encode(event)) == event
    v2 = dataclasses.replace(buy, schema_version=2, launchpad="pump.fun", fee_sol=0.004)
    assert orjson.loads(encode(v2))["launchpad"] == "pump.fun"
    assert decode_input(encode(v2)) == v2
