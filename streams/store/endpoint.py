"""Read-only SQL over loopback HTTP for an embedded store owned by another process.

A chdb directory can be open in one process only, so the owner (the sink, or
``alphastream db serve``) runs :class:`QueryServer` on 127.0.0.1 and writes
``<data_dir>/clickhouse.endpoint`` (port, pid, token; mode 0600). :func:`run_query` uses that
endpoint when a live owner has published one and opens the store directly otherwise.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from streams.store.connect import StoreLockedError, connect
from streams.store.dsn import parse_dsn

log = logging.getLogger(__name__)
READONLY = {"readonly": 1}
_JSON_OPTS = orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
MAX_SQL_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]  # JSON values: the same whichever way the query ran


class QueryError(RuntimeError):
    """The query failed (bad SQL, or the store is unreachable)."""


def execute(client: Client, sql: str) -> QueryResult:
    """Run one read-only statement; values normalised through JSON."""
    try:
        result = client.query(sql, settings=READONLY)
    except ClickHouseError as exc:
        raise QueryError(str(exc)) from exc
    rows = orjson.loads(orjson.dumps(result.result_rows, default=str, option=_JSON_OPTS))
    return QueryResult(list(result.column_names), rows)


class QueryServer:
    """Serve ``POST /query`` (body: SQL) for the store this process owns."""

    def __init__(self, dsn: str, database: str | None = None) -> None:
        target = parse_dsn(dsn, database)
        if target.endpoint_file is None:
            raise ValueError("a query endpoint is only needed for an embedded (chdb) store")
        self.endpoint_file = target.endpoint_file
        self._client = connect(dsn, database)
        self._token = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="store-query-endpoint", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> QueryServer:
        self._thread.start()
        self._publish()
        log.info("serving read-only SQL on 127.0.0.1:%d (%s)", self.port, self.endpoint_file)
        return self

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError, ValueError, KeyError):
            if json.loads(self.endpoint_file.read_text())["pid"] == os.getpid():
                self.endpoint_file.unlink()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        self._client.close()

    def __enter__(self) -> QueryServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _publish(self) -> None:
        info = {"host": "127.0.0.1", "port": self.port, "pid": os.getpid(), "token": self._token}
        tmp = self.endpoint_file.with_name(self.endpoint_file.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(info, fh)
        tmp.replace(self.endpoint_file)

    def _answer(self, sql: str) -> tuple[int, bytes]:
        try:
            with self._lock:
                result = execute(self._client, sql)
        except QueryError as exc:
            return 400, orjson.dumps({"error": str(exc)})
        return 200, orjson.dumps({"columns": result.columns, "rows": result.rows})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if (
                    self.path != "/query"
                    or self.headers.get("Authorization") != f"Bearer {server._token}"
                ):
                    self._reply(403, b'{"error": "forbidden"}')
                    return
                size = int(self.headers.get("Content-Length") or 0)
                if size > MAX_SQL_BYTES:
                    self._reply(413, b'{"error": "query too large"}')
                    return
                status, body = server._answer(self.rfile.read(size).decode("utf-8", "replace"))
                self._reply(status, body)

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("endpoint: " + format, *args)

        return Handler


def _endpoint_info(endpoint_file: Path) -> dict[str, Any] | None:
    """The published endpoint if its owner process is still alive."""
    try:
        info: dict[str, Any] = json.loads(endpoint_file.read_text())
        os.kill(int(info["pid"]), 0)
    except (FileNotFoundError, ValueError, KeyError, TypeError, ProcessLookupError):
        return None
    except PermissionError:  # alive, owned by another user
        pass
    return info


def _query_endpoint(info: dict[str, Any], sql: str, timeout_s: float) -> QueryResult:
    conn = http.client.HTTPConnection(str(info["host"]), int(info["port"]), timeout=timeout_s)
    try:
        conn.request("POST", "/query", sql.encode(), {"Authorization": f"Bearer {info['token']}"})
        response = conn.getresponse()
        payload = orjson.loads(response.read())
    finally:
        conn.close()
    if response.status != 200:
        raise QueryError(str(payload.get("error", f"endpoint answered HTTP {response.status}")))
    return QueryResult(payload["columns"], payload["rows"])


def run_query(
    dsn: str, sql: str, database: str | None = None, timeout_s: float = 300.0
) -> tuple[QueryResult, str]:
    """Run read-only SQL against the configured store; returns the result and how it ran."""
    target = parse_dsn(dsn, database)
    if target.endpoint_file is not None:
        info = _endpoint_info(target.endpoint_file)
        if info is not None:
            try:
                return _query_endpoint(info, sql, timeout_s), f"endpoint 127.0.0.1:{info['port']}"
            except ConnectionError:
                log.info("stale endpoint file %s; opening the store directly", target.endpoint_file)
    try:
        client = connect(dsn, database)
    except StoreLockedError as exc:
        raise QueryError(
            f"{exc}\nThe owning process publishes no query endpoint ({target.endpoint_file}); "
            "stop it or run `alphastream sink` / `alphastream db serve`, which serve queries."
        ) from exc
    try:
        return execute(client, sql), "direct"
    finally:
        client.close()
