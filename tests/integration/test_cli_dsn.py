"""The documented ways to point alphastream at a ClickHouse, run through the real CLI on chdb.

``ALPHASTREAM_CLICKHOUSE_DSN`` and ``--dsn`` both reach a ``SecretStr`` field: before the flags
were validated like env values, ``db init`` and ``sql`` crashed on the flag's plain string.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import _register, app
from streams.store.migrations import load_migrations

pytestmark = pytest.mark.integration


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    _register()
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ALPHASTREAM_DATA_DIR": str(tmp_path / "var")}


@pytest.mark.parametrize("how", ["env", "flag"])
def test_db_init_then_sql_with_the_dsn(how: str, chdb_dsn: str, env: dict[str, str]) -> None:
    if how == "env":
        env = env | {"ALPHASTREAM_CLICKHOUSE_DSN": chdb_dsn}
    dsn_flag = ["--dsn", chdb_dsn] if how == "flag" else []
    code, out, err = _run(["db", "init", *dsn_flag], env)
    assert code == 0, err
    total = len(load_migrations())
    assert f"{total}/{total} recorded" in out

    query = "SELECT count() AS n FROM (SELECT DISTINCT version FROM schema_migrations)"
    code, out, err = _run(["sql", query, "--format", "json", *dsn_flag], env)
    assert code == 0, err
    assert orjson.loads(out) == [{"n": total}]
    # the DSN never reached the embedded store's default location
    assert not (Path(env["ALPHASTREAM_DATA_DIR"]) / "clickhouse").exists()
