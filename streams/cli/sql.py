"""``alphastream sql``: run read-only SQL against the configured store, even while the sink owns it."""

from __future__ import annotations

import csv
import sys
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.store.endpoint import QueryError, QueryResult, run_query


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


@app.command("sql")
def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help='e.g. "SELECT count() FROM signals FINAL"'),
    fmt: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table, csv or json",
            envvar="ALPHASTREAM_SQL_FORMAT",
            show_envvar=True,
        ),
    ] = Format.table,
    dsn: str | None = setting_option("clickhouse_dsn", "--dsn"),
) -> None:
    """Run one read-only query. An embedded store held by a running sink is queried through
    the loopback endpoint it publishes in DATA_DIR/clickhouse.endpoint."""
    settings = settings_of(ctx, clickhouse_dsn=dsn)
    try:
        result, via = run_query(settings.clickhouse_url(), query)
    except QueryError as exc:
        Console(stderr=True).print(f"[red]query failed:[/red] {exc}")
        raise typer.Exit(1) from None
    render(result, fmt)
    Console(stderr=True).print(f"[dim]{len(result.rows)} row(s) via {via}[/dim]")


def render(result: QueryResult, fmt: Format) -> None:
    if fmt is Format.json:
        records = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
        sys.stdout.write(orjson.dumps(records, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([[_cell(v) for v in row] for row in result.rows])
    else:
        table = Table(*result.columns)
        for row in result.rows:
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)
