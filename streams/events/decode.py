"""Fast, strict decoding of input events, compiled from the JSON Schema files.

The schema files in ``schemas/events`` are the single source of truth: this module reads them
once at import and compiles each into a flat list of field checks. Parsing is orjson; a failure
raises :class:`DecodeError` naming the reason code, the field and what was wrong, so the caller
can dead-letter the message instead of crashing.

Inputs are versioned by major (``schema_version``): one compiled contract per (type, major),
chosen by the event's own ``type`` and ``schema_version``. The compatibility rule within major
2: an event whose ``schema_minor`` is newer than :data:`KNOWN_SCHEMA_MINOR` may carry fields this
reader does not know; they are dropped before the model is built and tallied in the caller's
``ignored`` counter, keyed ``(type, field)``, instead of failing as ``unknown_field``.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import orjson

from streams.contracts.events import (
    INPUT_SCHEMA_VERSIONS,
    INPUT_TYPES,
    KNOWN_SCHEMA_MINOR,
    SCHEMA_VERSION,
    DeadLetter,
    InputEvent,
)
from streams.events.fastcheck import compile_fast_check
from streams.resources import schema_dir

SCHEMA_DIR = schema_dir("events")  # the JSON Schema files, shipped as package data
DEFAULT_MAX_BYTES = 64 * 1024

Problem = tuple[str, str]  # (reason code, message)
Check = Callable[[Any], Problem | None]  # None when the value is fine
IgnoredFields = Counter[tuple[str, str]]  # (event type, field) -> accepted-and-ignored count


class DecodeError(ValueError):
    """A message that cannot become an event. ``reason`` is a dead-letter reason code."""

    def __init__(self, reason: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.field = field
        self.message = message


def load_schema(name: str, version: int = 1) -> dict[str, Any]:
    """The JSON Schema of one event type and major, e.g. ``load_schema("wallet-buy", 2)``."""
    return dict(orjson.loads((SCHEMA_DIR / f"{name}.v{version}.schema.json").read_bytes()))


_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def _compile(spec: dict[str, Any]) -> Check:
    """Turn one property schema (the subset our contracts use) into a check function."""
    checks: list[Check] = []
    if "const" in spec:
        const = spec["const"]
        checks.append(
            lambda v: (
                None
                if v == const and type(v) is type(const)
                else ("bad_value", f"must be {const!r}")
            )
        )
    if "enum" in spec:
        allowed = tuple(spec["enum"])
        checks.append(
            lambda v: (
                None
                if v in allowed
                else ("bad_value", f"must be one of {list(allowed)}, got {v!r}")
            )
        )
    if "type" in spec:
        names = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        preds = [_JSON_TYPES[n] for n in names]
        label = " or ".join(names)
        checks.append(
            lambda v: (
                None
                if any(p(v) for p in preds)
                else ("wrong_type", f"must be {label}, got {_kind(v)}")
            )
        )
    bounds = [(k, spec[k]) for k in ("minimum", "exclusiveMinimum", "maximum") if k in spec]
    if bounds:
        checks.append(lambda v: _check_bounds(v, bounds))
    if "minLength" in spec or "maxLength" in spec:
        lo, hi = spec.get("minLength", 0), spec.get("maxLength", 1 << 62)
        checks.append(
            lambda v: (
                None
                if not isinstance(v, str) or lo <= len(v) <= hi
                else ("bad_value", f"length must be in [{lo}, {hi}], got {len(v)}")
            )
        )
    if "properties" in spec:
        obj_check = _compile_object(spec)
        checks.append(lambda v: obj_check(v) if isinstance(v, dict) else None)

    def check(value: Any) -> Problem | None:
        for c in checks:
            err = c(value)
            if err is not None:
                return err
        return None

    return check


def _check_bounds(value: Any, bounds: Sequence[tuple[str, float]]) -> Problem | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    for key, bound in bounds:
        if key == "minimum" and value < bound:
            return ("bad_value", f"must be >= {bound}, got {value}")
        if key == "exclusiveMinimum" and value <= bound:
            return ("bad_value", f"must be > {bound}, got {value}")
        if key == "maximum" and value > bound:
            return ("bad_value", f"must be <= {bound}, got {value}")
    return None


def _compile_object(spec: dict[str, Any]) -> Check:
    props = {k: _compile(v) for k, v in spec.get("properties", {}).items()}
    required = tuple(spec.get("required", ()))
    closed = spec.get("additionalProperties", True) is False

    def check(obj: dict[str, Any]) -> Problem | None:
        for key in required:
            if key not in obj:
                return ("missing_field", f"{key}: required field is missing")
        for key, value in obj.items():
            c = props.get(key)
            if c is None:
                if closed:
                    return ("unknown_field", f"{key}: field is not in the schema")
                continue
            err = c(value)
            if err is not None:
                return (
                    err[0],
                    f"{key}.{err[1]}"
                    if err[0] in {"missing_field", "unknown_field"}
                    else f"{key}: {err[1]}",
                )
        return None

    return check


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


@dataclasses.dataclass(frozen=True, slots=True)
class _Contract:
    model: type
    version: int
    required: tuple[str, ...]
    fields: dict[str, Check]
    fast: Callable[[dict[str, Any]], bool]  # True only for objects the checks above accept


@cache
def _contracts() -> dict[str, dict[int, _Contract]]:
    """type -> major -> contract, for every schema file an input type has."""
    out: dict[str, dict[int, _Contract]] = {}
    for type_name, (model, topic) in INPUT_TYPES.items():
        by_major = out.setdefault(type_name, {})
        for version in INPUT_SCHEMA_VERSIONS:
            if not (SCHEMA_DIR / f"{topic}.v{version}.schema.json").is_file():
                continue  # e.g. token-migrated exists only from v2 on
            schema = load_schema(topic, version)
            fields = {k: _compile(v) for k, v in schema["properties"].items()}
            fast = compile_fast_check(schema, f"fast_{type_name}_v{version}")
            by_major[version] = _Contract(model, version, tuple(schema["required"]), fields, fast)
    return out


def parse_object(payload: bytes) -> dict[str, Any]:
    """orjson-parse a payload that must be a JSON object; DecodeError with the reason otherwise."""
    try:
        obj = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        if isinstance(payload, bytes | bytearray | memoryview):
            try:
                bytes(payload).decode("utf-8")
            except UnicodeDecodeError as uexc:
                raise DecodeError(
                    "not_utf8", f"payload is not UTF-8 ({uexc.reason} at byte {uexc.start})"
                ) from None
        raise DecodeError("bad_json", f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"top-level JSON must be an object, got {_kind(obj)}")
    return obj


def decode_input(
    payload: bytes,
    topic: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ignored: IgnoredFields | None = None,
) -> InputEvent:
    """Decode and validate one input event; ``topic`` (if given) must match the event type.

    Fields accepted under the minor-version rule are counted into ``ignored`` when given.

    >>> try:
    ...     decode_input(b'{"type": "wallet_swap"}')
    ... except DecodeError as err:
    ...     print(err.reason, err.field)
    unknown_type type
    """
    if len(payload) > max_bytes:
        raise DecodeError("too_large", f"payload is {len(payload)} bytes, limit {max_bytes}")
    obj = parse_object(payload)
    type_name = obj.get("type")
    by_major = _contracts().get(type_name) if isinstance(type_name, str) else None
    if by_major is None or not isinstance(type_name, str):
        raise DecodeError(
            "unknown_type", f"type must be one of {list(INPUT_TYPES)}, got {type_name!r}", "type"
        )
    if topic is not None and INPUT_TYPES[type_name][1] != topic:
        raise DecodeError(
            "wrong_topic", f"a {type_name} event does not belong on topic {topic}", "type"
        )
    version = obj.get("schema_version")
    # type() and not isinstance: True and 1.0 hash like 1 and would find the v1 contract
    contract = by_major.get(version) if type(version) is int else None
    if contract is None:
        raise _version_error(type_name, version, by_major)
    return _validate(contract, obj, ignored)


def _version_error(type_name: str, version: Any, by_major: dict[int, _Contract]) -> DecodeError:
    if version is None:
        return DecodeError(
            "missing_field", "required field 'schema_version' is missing", "schema_version"
        )
    if type(version) is not int:
        return DecodeError(
            "wrong_type", f"schema_version: must be integer, got {_kind(version)}", "schema_version"
        )
    return DecodeError(
        "bad_value",
        f"schema_version: a {type_name} event must be one of {sorted(by_major)}, got {version}",
        "schema_version",
    )


def _validate(
    contract: _Contract, obj: dict[str, Any], ignored: IgnoredFields | None = None
) -> InputEvent:
    if contract.fast(obj):
        fast_event: InputEvent = contract.model(**obj)
        return fast_event
    return _validate_with_reasons(contract, obj, ignored)


def _newer_minor(contract: _Contract, obj: dict[str, Any]) -> bool:
    """True when the event says it was written against a minor this reader does not know."""
    minor = obj.get("schema_minor")
    return contract.version >= 2 and type(minor) is int and minor > KNOWN_SCHEMA_MINOR


def _validate_with_reasons(
    contract: _Contract, obj: dict[str, Any], ignored: IgnoredFields | None = None
) -> InputEvent:
    for key in contract.required:
        if key not in obj:
            raise DecodeError("missing_field", f"required field {key!r} is missing", key)
    fields = contract.fields
    unknown = [key for key in obj if key not in fields]
    if unknown and _newer_minor(contract, obj):
        obj = {k: v for k, v in obj.items() if k in fields}
        if ignored is not None:
            ignored.update((obj["type"], key) for key in unknown)
    for key, value in obj.items():
        check = fields.get(key)
        if check is None:
            raise DecodeError(
                "unknown_field", f"field {key!r} is not in schema v{contract.version}", key
            )
        err = check(value)
        if err is not None:
            raise DecodeError(err[0], f"{key}: {err[1]}", key)
    event: InputEvent = contract.model(**obj)
    return event


def decode_many(
    payloads: Iterable[bytes],
    topic: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    ignored: IgnoredFields | None = None,
) -> tuple[list[InputEvent], list[tuple[int, DecodeError]]]:
    """Decode a batch: ``(oks, errs)`` where each error carries the index of its payload."""
    oks: list[InputEvent] = []
    errs: list[tuple[int, DecodeError]] = []
    for i, payload in enumerate(payloads):
        try:
            oks.append(decode_input(payload, topic, max_bytes, ignored))
        except DecodeError as exc:
            errs.append((i, exc))
    return oks, errs


def encode(event: Any) -> bytes:
    """Serialize any event dataclass to JSON bytes (orjson handles slotted dataclasses).

    An input event carries only the fields of its own contract version: the models hold every
    version's fields, and a v1 event written with v2's extra (null) fields would not decode.
    """
    version: int = getattr(event, "schema_version", 0)
    fields = _input_fields().get((type(event), version))
    if fields is None:
        return orjson.dumps(event)
    return orjson.dumps({name: getattr(event, name) for name in fields})


@cache
def _input_fields() -> dict[tuple[type, int], tuple[str, ...]]:
    """(input model, major) -> the property names of that contract version, in schema order."""
    return {
        (contract.model, major): tuple(contract.fields)
        for by_major in _contracts().values()
        for major, contract in by_major.items()
    }


def validate_output(obj: dict[str, Any], schema_name: str) -> None:
    """Validate an output event dict against its schema; raises DecodeError on the first problem."""
    err = _output_check(schema_name)(obj)
    if err is not None:
        raise DecodeError(err[0], err[1], err[1].split(":", 1)[0].split(".", 1)[0])


@cache
def _output_check(schema_name: str) -> Check:
    """The compiled check of one schema, built once per process."""
    return _compile_object(load_schema(schema_name))


def dead_letter_for(
    payload: bytes,
    error: DecodeError | Exception,
    *,
    topic: str,
    partition: int | None,
    offset: int | None,
    ts: int,
    key: bytes | None = None,
) -> DeadLetter:
    """The dead-letter record for a message that failed to decode or process."""
    reason = error.reason if isinstance(error, DecodeError) else "processing_error"
    field = error.field if isinstance(error, DecodeError) else None
    head = bytes(payload[:1024]).decode("utf-8", "backslashreplace")
    mint = key.decode("utf-8", "replace") if key else "?"
    return DeadLetter(
        schema_version=SCHEMA_VERSION,
        type="dead_letter",
        event_id=f"dl:{topic}:{partition}:{offset}",
        ts=ts,
        mint=mint[:64] or "?",
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        reason=reason,
        field=field,
        error=str(error),
        payload_size=len(payload),
        payload_head=head,
    )
