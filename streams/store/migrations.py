"""Versioned DDL: ``schemas/clickhouse/NNN_name.sql`` applied in order, recorded in ``schema_migrations``.

Every statement is itself idempotent (IF NOT EXISTS), so a migration interrupted half way is
simply applied again; the table only saves work and records what ran when.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources.abc import Traversable

from clickhouse_connect.driver.client import Client

from streams.resources import schema_dir

SCHEMA_DIR = schema_dir("clickhouse")  # the DDL files, shipped as package data
_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
log = logging.getLogger(__name__)

_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        """Statements split on ``;`` at line ends; ``--`` comment lines dropped."""
        lines = [ln for ln in self.sql.splitlines() if not ln.lstrip().startswith("--")]
        chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
        return [c.strip() for c in chunks if c.strip()]


def load_migrations(schema_dir: Traversable = SCHEMA_DIR) -> list[Migration]:
    found = []
    sql_files = [p for p in schema_dir.iterdir() if p.name.endswith(".sql")]
    for path in sorted(sql_files, key=lambda p: p.name):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name must be NNN_name.sql: {path.name}")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {schema_dir}")
    return found


def applied_versions(client: Client) -> dict[int, str]:
    """version -> checksum of what is recorded as applied."""
    rows = client.query(
        "SELECT version, argMax(checksum, applied_at) FROM schema_migrations GROUP BY version"
    )
    return {int(v): str(c) for v, c in rows.result_rows}


def migrate(client: Client, schema_dir: Traversable = SCHEMA_DIR) -> list[Migration]:
    """Apply pending migrations to the client's database; returns the ones applied now."""
    client.command(_MIGRATIONS_TABLE)
    done = applied_versions(client)
    applied = []
    for migration in load_migrations(schema_dir):
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                log.warning(
                    "migration %03d_%s changed after it was applied",
                    migration.version,
                    migration.name,
                )
            continue
        for statement in migration.statements():
            client.command(statement)
        client.insert(
            "schema_migrations",
            [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
            column_names=["version", "name", "checksum", "applied_at"],
        )
        log.info("applied migration %03d_%s", migration.version, migration.name)
        applied.append(migration)
    return applied
