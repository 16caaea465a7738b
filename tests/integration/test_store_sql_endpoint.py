"""`alphastream sql` against an embedded store owned by another process (endpoint), and fallbacks.

Everything runs in subprocesses: a chdb directory belongs to one process, and this pytest
process already owns the session's chdb path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.store.endpoint import QueryError, run_query
from tests.waiting import wait_until

pytestmark = pytest.mark.integration
ALPHASTREAM = str(Path(sys.executable).parent / "alphastream")
SEED = """
import sys
from streams.store import connect, migrate
from streams.store.clickhouse import ClickHouseStore
from streams.devtools.synthetic.store import make_dataset
client = connect(sys.argv[1]); migrate(client)
data = make_dataset(int(sys.argv[2]))
ClickHouseStore(client).write(data.signals, data.outcomes)
ClickHouseStore(client).write(data.signals[:5], [])
"""
HOLD_WITHOUT_ENDPOINT = """
import sys
from streams.store import connect
client = connect(sys.argv[1]); print("holding", flush=True)
sys.stdin.read()  # holds the store until the test closes this pipe (or ends)
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded store; tests leave it as they found it (owned by nobody)."""
    root = tmp_path_factory.mktemp("sqlstore")
    dsn = f"chdb://{root / 'clickhouse'}"
    subprocess.run([sys.executable, "-c", SEED, dsn, "40"], check=True, env=_env(root), timeout=120)
    return root


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHASTREAM_")}
    env["ALPHASTREAM_DATA_DIR"] = str(data_dir)
    env["ALPHASTREAM_LOG_LEVEL"] = "WARNING"
    return env


def _sql(data_dir: Path, query: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALPHASTREAM, "sql", *args, query],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def served(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([ALPHASTREAM, "db", "serve"], env=_env(data_dir), text=True)
    endpoint = data_dir / "clickhouse.endpoint"
    try:

        def published() -> bool:
            if endpoint.exists():
                return True
            assert proc.poll() is None, "db serve exited early"
            return False

        wait_until(published, timeout_s=60, what="db serve to publish its endpoint file")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)


def test_sql_goes_through_the_owner_endpoint_while_it_runs(
    data_dir: Path, served: subprocess.Popen[str]
) -> None:
    endpoint = data_dir / "clickhouse.endpoint"
    info = json.loads(endpoint.read_text())
    assert info["pid"] == served.pid
    assert endpoint.stat().st_mode & 0o077 == 0
    dsn = f"chdb://{data_dir / 'clickhouse'}"
    # In-process: this process could not open that chdb path, so only the endpoint can answer.
    result, via = run_query(dsn, "SELECT count() AS n, uniqExact(mint) AS mints FROM signals FINAL")
    assert (result.columns, result.rows, via) == (
        ["n", "mints"],
        [[40, 5]],
        f"endpoint 127.0.0.1:{info['port']}",
    )
    with pytest.raises(QueryError, match="readonly"):
        run_query(dsn, "INSERT INTO signals (event_id) VALUES ('x')")
    out = _sql(
        data_dir, "SELECT event_id, kind FROM signals FINAL ORDER BY event_id LIMIT 2", "-f", "csv"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["event_id,kind", "sig-000000,genesis", "sig-000001,genesis"]
    assert "via endpoint" in out.stderr
    served.send_signal(signal.SIGTERM)
    served.wait(30)
    assert not endpoint.exists()


def test_a_stale_endpoint_file_falls_back_to_opening_the_store(data_dir: Path) -> None:
    # The owner died without cleaning up: the pid is alive (ours) but nothing listens there.
    (data_dir / "clickhouse.endpoint").write_text(
        json.dumps({"host": "127.0.0.1", "port": 1, "pid": os.getpid(), "token": "x"})
    )
    try:
        out = _sql(data_dir, "SELECT count() AS n FROM signals FINAL", "-f", "json")
    finally:
        (data_dir / "clickhouse.endpoint").unlink()
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [{"n": 40}]
    assert "via direct" in out.stderr


def test_a_locked_store_without_endpoint_fails_with_a_clear_message(data_dir: Path) -> None:
    dsn = f"chdb://{data_dir / 'clickhouse'}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WITHOUT_ENDPOINT, dsn],
        env=_env(data_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        out = _sql(data_dir, "SELECT 1")
        assert out.returncode == 1
        message = " ".join(out.stderr.split())
        assert "in use by another process" in message
        assert "publishes no query endpoint" in message
    finally:
        holder.kill()
        holder.wait(30)
