"""The ClickHouse HTTP interface over an embedded chdb directory, as a process one can stop.

No ClickHouse server runs on this machine (Debian's package is 18.16, too old for the schema's
``DateTime64``), so the fault matrix's "ClickHouse down" row needs a store on the network that
it can take away and bring back. This serves the part of the HTTP interface that
clickhouse-connect uses (``/ping``, a query in the ``query`` parameter and/or the body, the
``database`` parameter, ``INSERT ... FORMAT Native`` with the rows in the body, plain or
gzip/deflate, so clients connect with ``compress=false``) with the ClickHouse engine that chdb
embeds. Settings sent as URL parameters are not applied.

``python -m streams.devtools.local.clickhouse_http --port P --path DIR`` serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import clickhouse_connect

from streams.devtools.local.process import log_tail, port_open, stop_process

_INSERT = re.compile(
    rb"^\s*(INSERT\s+INTO\s+.+?)\s+FORMAT\s+(\w+)\s*?\n", re.IGNORECASE | re.DOTALL
)
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)


class ChdbHttpServer:
    """One chdb connection behind a threaded HTTP server (queries run one at a time)."""

    def __init__(self, path: Path, port: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        # the embedded engine, through the clickhouse-connect client that opens it
        self._client = clickhouse_connect.get_client(dsn=f"chdb://{path.resolve()}")
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True

    def serve(self) -> None:
        self._httpd.serve_forever()

    def shutdown(self) -> None:
        self._httpd.shutdown()

    def close(self) -> None:
        self._httpd.server_close()
        self._client.close()

    def run(self, sql: str, body: bytes, params: dict[str, str]) -> tuple[bytes, str]:
        """Run one request's statement; returns the result bytes and their format."""
        with self._lock:
            self._client.database = params.get("database") or "default"
            insert = _INSERT.match(body) if not sql.strip() else None
            if insert is not None:
                return self._insert(insert.group(1).decode(), insert.group(2).decode(),
                                    body[insert.end():]), "TabSeparated"  # fmt: skip
            if sql.strip() and body:
                text = sql.strip() + "\n" + body.decode()
            else:
                text = sql or body.decode()
            match = _FORMAT.search(text)
            fmt = match.group(1) if match else params.get("default_format", "TabSeparated")
            text = text[: match.start()] if match else text
            binds = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
            return self._client.raw_query(text, parameters=binds, fmt=fmt), fmt

    def _insert(self, head: str, fmt: str, rows: bytes) -> bytes:
        fd, name = tempfile.mkstemp(suffix="." + fmt.lower())
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(rows)
            self._client.command(f"{head} FROM INFILE '{name}' FORMAT {fmt}")
        finally:
            os.unlink(name)
        return b""


def _handler(server: ChdbHttpServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if urlsplit(self.path).path in ("/ping", "/"):
                self._reply(200, b"Ok.\n", {})
            else:
                self._query(b"")

        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size else self._chunked()
            encoding = self.headers.get("Content-Encoding")
            if encoding:
                try:
                    body = _decompress(body, encoding)
                except ValueError as exc:
                    self._reply(400, f"Code: 1. DB::Exception: {exc}\n".encode(),
                                {"X-ClickHouse-Exception-Code": "1"})  # fmt: skip
                    return
            self._query(body)

        def _chunked(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                return b""
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()

        def _query(self, body: bytes) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query))
            try:
                data, fmt = server.run(params.get("query", ""), body, params)
            except Exception as exc:  # the engine's error, as ClickHouse reports it
                text = str(exc)
                code = re.search(r"Code: (\d+)", text)
                self._reply(500, (text if code else f"Code: 1000. DB::Exception: {text}").encode(),
                            {"X-ClickHouse-Exception-Code": code.group(1) if code else "1000"})  # fmt: skip
                return
            headers = {"X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": "UTC",
                       "X-ClickHouse-Summary": '{"read_rows":"0","written_rows":"0"}'}  # fmt: skip
            self._reply(200, data, headers)

        def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    raise ValueError(f"Content-Encoding {encoding!r} is not served")


class ChdbHttpProcess:
    """The server as a subprocess on a fixed port and directory: start, stop, start again."""

    def __init__(self, path: Path, port: int, log_path: Path) -> None:
        self.path, self.port, self.log_path = path, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def dsn(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> ChdbHttpProcess:
        cmd = [sys.executable, "-m", __name__, "--port", str(self.port), "--path", str(self.path)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while not port_open(f"127.0.0.1:{self.port}"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chdb HTTP server did not start:\n{log_tail(self.log_path)}")
            time.sleep(0.1)
        return self

    def stop(self) -> int:
        if self.proc is None:
            return 0
        code = stop_process(self.proc)
        self.proc = None
        return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.devtools.local.clickhouse_http")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", type=Path, required=True, help="the chdb data directory")
    args = parser.parse_args(argv)
    server = ChdbHttpServer(args.path, args.port)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
