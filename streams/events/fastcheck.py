"""The decoder's fast path: one generated straight-line validity check per input contract.

It answers "valid?" without building a reason (about 5x cheaper than walking the closures of
``streams.events.decode``). It is conservative: whenever it says no, or meets a keyword it does
not know, the closure path decides and names the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_FAST_KEYWORDS = {
    "const", "enum", "type", "minimum", "exclusiveMinimum", "maximum", "minLength", "maxLength",
    "description", "$comment", "title", "examples",
}  # fmt: skip
_FAST_TYPES = {
    "string": "type(v) is str",
    "integer": "type(v) is int",
    "number": "(type(v) is float or type(v) is int)",
    "boolean": "type(v) is bool",
    "null": "v is None",
    "object": "type(v) is dict",
    "array": "type(v) is list",
}
_NUMERIC = "(type(v) is float or type(v) is int)"


def _fast_field_lines(index: int, spec: dict[str, Any], env: dict[str, Any]) -> list[str]:
    if set(spec) - _FAST_KEYWORDS:
        return ["return False"]  # something only the closure path understands
    lines: list[str] = []
    if "const" in spec:
        env[f"C{index}"], env[f"T{index}"] = spec["const"], type(spec["const"])
        lines.append(f"if type(v) is not T{index} or v != C{index}: return False")
    if "enum" in spec:
        env[f"E{index}"] = tuple(spec["enum"])
        lines.append(f"if v not in E{index}: return False")
    if "type" in spec:
        names = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        lines.append(f"if not ({' or '.join(_FAST_TYPES[n] for n in names)}): return False")
    for key, op in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
        if key in spec:
            env[f"B{index}{key}"] = spec[key]
            # written as "not (v op b)" so NaN is refused here and left to the closure path
            lines.append(f"if {_NUMERIC} and not (v {op} B{index}{key}): return False")
    if "minLength" in spec or "maxLength" in spec:
        lo, hi = spec.get("minLength", 0), spec.get("maxLength", 1 << 62)
        lines.append(f"if type(v) is str and not ({lo} <= len(v) <= {hi}): return False")
    return lines


def compile_fast_check(schema: dict[str, Any], name: str) -> Callable[[dict[str, Any]], bool]:
    """Generate ``name(obj) -> bool`` for a flat object schema (the input contracts)."""
    props: dict[str, Any] = schema.get("properties", {})
    env: dict[str, Any] = {
        "REQUIRED": frozenset(schema.get("required", ())),
        "ALLOWED": frozenset(props),
        "MISSING": object(),
    }
    body = [
        "if not REQUIRED <= obj.keys() or not obj.keys() <= ALLOWED: return False",
    ]
    for index, (field_name, spec) in enumerate(props.items()):
        body.append(f"v = obj.get({field_name!r}, MISSING)")
        body.append("if v is not MISSING:")
        body.extend(f"    {line}" for line in _fast_field_lines(index, spec, env))
    body.append("return True")
    source = f"def {name}(obj):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(source, f"<fast check {name}>", "exec"), env)  # our own generated source
    fn: Callable[[dict[str, Any]], bool] = env[name]
    return fn
