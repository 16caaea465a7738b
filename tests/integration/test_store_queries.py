"""Every ```sql block of docs/queries.md runs on chdb against generated data and returns rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.devtools.synthetic.store import make_dataset
from streams.store import connect, migrate, refresh_summaries
from streams.store.clickhouse import ClickHouseStore
from streams.store.endpoint import READONLY

pytestmark = pytest.mark.integration
DOC = Path(__file__).resolve().parents[2] / "docs" / "queries.md"
QUERIES = re.findall(r"```sql\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_doc_has_a_dozen_queries() -> None:
    assert len(QUERIES) >= 12


@pytest.fixture(scope="module")
def client(chdb_dsn: str) -> Iterator[Client]:
    database = "docs_queries"
    c = connect(chdb_dsn, database=database)
    migrate(c)
    data = make_dataset(1500, seed=4)
    store = ClickHouseStore(c)
    store.write(data.signals, data.outcomes)
    store.write(data.signals[:100], data.outcomes[:100])  # duplicates must not matter
    refresh_summaries(c)
    try:
        yield c
    finally:
        c.command(f"DROP DATABASE IF EXISTS {database}")
        c.close()


@pytest.mark.parametrize("query", QUERIES, ids=[f"query{i + 1}" for i in range(len(QUERIES))])
def test_documented_query_runs_and_returns_rows(client: Client, query: str) -> None:
    result = client.query(query, settings=READONLY)  # as `alphastream sql` runs it
    assert result.column_names
    assert len(result.result_rows) > 0
