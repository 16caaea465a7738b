"""Read the Grafana dashboards of infra/ and turn their queries into something runnable.

- ``promql_metric_names(expr)``: the metric names a PromQL expression selects (functions,
  keywords, label matchers, ranges, grouping labels and Grafana variables left out).
- ``render_sql(sql, ...)``: a ClickHouse panel query with the Grafana macros and template
  variables replaced by concrete values, as the grafana-clickhouse-datasource plugin expands them.
  Supported (anything else starting with ``$__`` raises, so a new macro cannot slip through):

  ==============================  =========================================================
  ``$__timeFilter(col)``          ``col >= toDateTime(FROM_S) AND col <= toDateTime(TO_S)`` (seconds
                                  rounded outward so the range keeps its last millisecond)
  ``$__timeFilter_ms(col)``       the same with ``fromUnixTimestamp64Milli(FROM_MS / TO_MS)``
  ``$__fromTime`` / ``$__toTime``  ``toDateTime(FROM_S)`` / ``toDateTime(TO_S)``
  ``$__fromTime_ms`` / ``_ms``     ``fromUnixTimestamp64Milli(FROM_MS)`` / ``(TO_MS)``
  ``$__interval_s``               the panel interval in whole seconds
  ``${name}`` / ``$name``         the value given for the template variable ``name``
  ==============================  =========================================================
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INFRA = Path(__file__).resolve().parents[1] / "infra"
DASHBOARD_DIR = INFRA / "grafana" / "dashboards"
DATASOURCES = INFRA / "grafana" / "provisioning" / "datasources" / "alphastream.yml"
CLICKHOUSE_TYPE = "grafana-clickhouse-datasource"
PROMETHEUS_TYPE = "prometheus"


@dataclass(frozen=True)
class Query:
    dashboard: str  # file stem
    panel: str  # panel title
    datasource: dict[str, str]
    text: str  # PromQL expr or ClickHouse rawSql


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARD_DIR.glob("*.json"))}


def provisioned_datasources() -> list[dict[str, Any]]:
    return list(yaml.safe_load(DATASOURCES.read_text())["datasources"])


def panels(board: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in rows."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries(kind: str) -> list[Query]:
    """Every target of every dashboard whose data source type is ``kind``."""
    found = []
    for stem, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                source = target.get("datasource") or panel["datasource"]
                if source["type"] != kind:
                    continue
                text = target["expr"] if kind == PROMETHEUS_TYPE else target["rawSql"]
                found.append(Query(stem, panel["title"], source, text))
    return found


def variables(board: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board.get("templating", {}).get("list", [])}


# --- PromQL --------------------------------------------------------------------------------

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "inf", "nan", "atan2",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:])[A-Za-z_:][A-Za-z0-9_:]*(?![\w(])(?!\s*\()")


def promql_metric_names(expr: str) -> set[str]:
    text = _STRING.sub('""', expr)
    text = re.sub(r"\$\{?\w+\}?", " ", text)  # Grafana variables ($__rate_interval, ${x})
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = _GROUPING.sub(" ", text)
    return {name for name in _IDENT.findall(text) if name.lower() not in _KEYWORDS}


def registered_names(registries: list[Any]) -> set[str]:
    """Every sample name the registries can expose, also for labelled metrics not yet used."""
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum", "_created"),
        "summary": ("", "_count", "_sum", "_created"),
        "info": ("_info",),
        "stateset": ("",),
        "unknown": ("",),
    }
    names: set[str] = set()
    for registry in registries:
        for family in registry.collect():
            names.update(family.name + s for s in suffixes.get(family.type, ("",)))
            names.update(sample.name for sample in family.samples)
    return names


# --- ClickHouse SQL --------------------------------------------------------------------------

_MACRO = re.compile(r"\$__(\w+)(?:\(([^)]*)\))?")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def render_sql(
    sql: str, *, from_ms: int, to_ms: int, values: Mapping[str, str], interval_s: int = 60
) -> str:
    """``sql`` with macros and variables replaced (see the module docstring)."""
    from_s, to_s = from_ms // 1000, -(-to_ms // 1000)

    def macro(match: re.Match[str]) -> str:
        name, arg = match.group(1), (match.group(2) or "").strip()
        plain = {
            "fromTime": f"toDateTime({from_s})",
            "toTime": f"toDateTime({to_s})",
            "fromTime_ms": f"fromUnixTimestamp64Milli({from_ms})",
            "toTime_ms": f"fromUnixTimestamp64Milli({to_ms})",
            "interval_s": str(interval_s),
        }
        if name == "timeFilter" and arg:
            return f"{arg} >= toDateTime({from_s}) AND {arg} <= toDateTime({to_s})"
        if name == "timeFilter_ms" and arg:
            return (
                f"{arg} >= fromUnixTimestamp64Milli({from_ms}) "
                f"AND {arg} <= fromUnixTimestamp64Milli({to_ms})"
            )
        if name in plain and match.group(2) is None:
            return plain[name]
        raise ValueError(f"unsupported Grafana macro {match.group(0)!r}")

    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"no value for template variable {name!r}")
        return values[name]

    return _VARIABLE.sub(variable, _MACRO.sub(macro, sql))
