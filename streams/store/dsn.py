"""DSN handling: which engine, which database, and where an embedded store's endpoint file lives."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

DEFAULT_DATABASE = "alphastream"


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """A parsed DSN: ``client_dsn`` carries no database (it may not exist yet)."""

    client_dsn: str
    database: str
    chdb_path: Path | None  # set for embedded chdb stores

    @property
    def embedded(self) -> bool:
        return self.chdb_path is not None

    @property
    def endpoint_file(self) -> Path | None:
        """``<data_dir>/clickhouse.endpoint`` for the default ``<data_dir>/clickhouse`` store."""
        if self.chdb_path is None:
            return None
        return self.chdb_path.with_name(self.chdb_path.name + ".endpoint")


def parse_dsn(dsn: str, database: str | None = None) -> StoreTarget:
    """Split ``chdb:///path[?database=db]`` or ``http(s)://user:pass@host:port[/db]``."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    db_in_dsn = query.pop("database", None)
    if parts.scheme == "chdb":
        if parts.netloc and parts.netloc not in ("", "memory"):
            raise ValueError(f"chdb DSN must be chdb:///absolute/path, got {dsn!r}")
        if not parts.path or parts.path == "/":
            raise ValueError("an embedded store needs a directory: chdb:///absolute/path")
        path = Path(parts.path).resolve()
        client = f"chdb://{path}" + (f"?{urlencode(query)}" if query else "")
        return StoreTarget(client, database or db_in_dsn or DEFAULT_DATABASE, path)
    if parts.scheme in ("http", "https"):
        db_in_path = parts.path.strip("/") or None
        client = urlunsplit((parts.scheme, parts.netloc, "", urlencode(query), ""))
        return StoreTarget(client, database or db_in_dsn or db_in_path or DEFAULT_DATABASE, None)
    raise ValueError(
        f"unsupported ClickHouse DSN scheme {parts.scheme!r} (use chdb:// or http(s)://)"
    )
