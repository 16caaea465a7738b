"""Open a clickhouse-connect client on an embedded chdb directory or a ClickHouse server."""

from __future__ import annotations

import clickhouse_connect
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ProgrammingError

from streams.store.dsn import parse_dsn


class StoreLockedError(RuntimeError):
    """The chdb directory is owned by another process (chdb allows one process per directory)."""


def connect(dsn: str, database: str | None = None, create_database: bool = True) -> Client:
    """A client whose current database is the DSN's (``alphastream`` by default), created if missing."""
    target = parse_dsn(dsn, database)
    try:
        client = clickhouse_connect.get_client(dsn=target.client_dsn)
    except ProgrammingError as exc:
        if target.embedded and "Unable to open the chdb engine" in str(exc):
            raise StoreLockedError(
                f"chdb store {target.chdb_path} is in use by another process (or this process "
                f"already opened a different chdb path): {exc}"
            ) from exc
        raise
    if create_database:
        client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(target.database)}")
    client.database = target.database
    return client
