"""The Grafana dashboards in infra/: valid JSON models, provisioned data sources, real metrics."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from streams.app.metrics import WorkerMetrics
from streams.contracts.features import STANDARD_NAMES
from streams.events import TARGETS
from streams.store.metrics import SinkMetrics
from tests.grafana import (
    CLICKHOUSE_TYPE,
    INFRA,
    PROMETHEUS_TYPE,
    dashboards,
    panels,
    promql_metric_names,
    provisioned_datasources,
    queries,
    registered_names,
    variables,
)

BOARDS = dashboards()
PREFIX = "alphastream_"  # the project's own metrics (process_* and python_* are generic)
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range"}  # Grafana's own ($__...)


def _project_registries() -> list[CollectorRegistry]:
    """A fresh registry of each metrics class the worker and the sink serve on /metrics."""
    return [WorkerMetrics().registry, SinkMetrics(CollectorRegistry()).registry]


def test_the_three_dashboards_exist_with_unique_uids_and_titles() -> None:
    assert set(BOARDS) == {"worker", "sink", "market"}
    uids = [b["uid"] for b in BOARDS.values()]
    titles = [b["title"] for b in BOARDS.values()]
    assert len(set(uids)) == len(uids) and len(set(titles)) == len(titles)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", uid) for uid in uids)


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_panels_have_unique_ids_fit_the_grid_and_have_queries(name: str) -> None:
    board = BOARDS[name]
    found = list(panels(board))
    assert found, "a dashboard without panels"
    ids = [p["id"] for p in found]
    assert len(set(ids)) == len(ids), f"duplicate panel ids in {name}"
    cells: set[tuple[int, int]] = set()
    for panel in found:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        area = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                for y in range(grid["y"], grid["y"] + grid["h"])}  # fmt: skip
        assert not area & cells, f"panel {panel['title']!r} overlaps another"
        cells |= area
        assert panel["title"] and panel["type"] in {"timeseries", "table", "stat", "barchart"}
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(set(refs)) == len(refs), panel["title"]


def test_every_panel_and_target_uses_a_provisioned_data_source() -> None:
    provisioned = {(d["type"], d["uid"]) for d in provisioned_datasources()}
    assert {t for t, _ in provisioned} == {PROMETHEUS_TYPE, CLICKHOUSE_TYPE}
    for name, board in BOARDS.items():
        for panel in panels(board):
            sources = [panel["datasource"], *(t.get("datasource") for t in panel["targets"])]
            for source in filter(None, sources):
                key = (source["type"], source["uid"])
                assert key in provisioned, f"{name}/{panel['title']}: {key} is not provisioned"


def test_clickhouse_data_source_points_at_the_compose_server() -> None:
    source = next(d for d in provisioned_datasources() if d["type"] == CLICKHOUSE_TYPE)
    compose = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
    env = compose["services"]["clickhouse"]["environment"]
    assert source["jsonData"]["host"] == "clickhouse"
    assert source["jsonData"]["protocol"] == "http" and source["jsonData"]["port"] == 8123
    assert source["jsonData"]["username"] == env["CLICKHOUSE_USER"]
    assert source["secureJsonData"]["password"] == env["CLICKHOUSE_PASSWORD"]
    assert source["jsonData"]["defaultDatabase"] == env["CLICKHOUSE_DB"]


def test_the_promql_name_extractor_skips_functions_labels_and_grouping() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, family) (rate(a_seconds_bucket{job="x"}[5m])))'
        " / on(instance) group_left(version) b_info + ignoring (x) c_total offset 5m"
        " > bool 1e3 and max_over_time(d[$__rate_interval:1m])"
    )
    assert promql_metric_names(expr) == {"a_seconds_bucket", "b_info", "c_total", "d"}


def test_every_promql_expression_names_a_registered_metric() -> None:
    registered = registered_names(_project_registries())
    exprs = queries(PROMETHEUS_TYPE)
    assert len(exprs) >= 15
    for query in exprs:
        names = promql_metric_names(query.text)
        assert names, f"{query.dashboard}/{query.panel}: no metric in {query.text!r}"
        unknown = names - registered
        assert not unknown, f"{query.dashboard}/{query.panel}: not registered: {sorted(unknown)}"


def test_the_dashboards_chart_most_of_what_the_code_registers() -> None:
    """A metric added to the code shows up as a gap here (processes' own metrics aside)."""
    used = set().union(*(promql_metric_names(q.text) for q in queries(PROMETHEUS_TYPE)))
    families = {
        f.name for r in _project_registries() for f in r.collect() if f.name.startswith(PREFIX)
    }
    uncharted = {f for f in families if not any(u.startswith(f) for u in used)}
    assert not uncharted, f"metrics no dashboard shows: {sorted(uncharted)}"


def _referenced(text: str) -> set[str]:
    return {a or b for a, b in re.findall(r"\$\{(\w+)\}|\$(\w+)", text)} - BUILTIN_VARIABLES


@pytest.mark.parametrize("name", sorted(BOARDS))
def test_every_template_variable_used_is_defined(name: str) -> None:
    board: dict[str, Any] = BOARDS[name]
    defined = set(variables(board))
    for panel in panels(board):
        texts = [t.get("expr") or t.get("rawSql") or "" for t in panel["targets"]]
        for text in [*texts, panel["title"], panel.get("description", "")]:
            used = {v for v in _referenced(text) if not v.startswith("__")}
            assert used <= defined, f"{name}/{panel['title']}: undefined {used - defined}"


def test_market_variables_match_the_code() -> None:
    board = BOARDS["market"]
    target = variables(board)["target"]
    assert [o["value"] for o in target["options"]] == list(TARGETS)
    assert target["query"].split(",") == list(TARGETS)
    position = int(variables(board)["graduated_pos"]["query"])
    assert STANDARD_NAMES[position - 1] == "tok_is_graduated"  # ClickHouse arrays are 1-based
