"""The ClickHouse-down row: ``alphastream sink`` writes the workers' signals to a ClickHouse HTTP
endpoint that is stopped for ``clickhouse_down_s`` mid-run and started again on its data; every
signal must then be stored once.

"Down" here: the endpoint is :mod:`streams.devtools.local.clickhouse_http` (chdb's ClickHouse
engine behind the HTTP interface, in a process of its own), SIGTERMed, so the sink's inserts
fail with connection refused until it is started again on the same port and directory.
"""

from __future__ import annotations

import time
import urllib.request

from streams.devtools.faults.scenario import Scenario
from streams.devtools.local.clickhouse_http import ChdbHttpProcess
from streams.devtools.local.process import free_port
from streams.store.connect import connect

DATABASE = "faults"


class StoreRow:
    """The endpoint, the sink and what the row reads back from the store."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.server = ChdbHttpProcess(sc.work_dir / "clickhouse", free_port(),
                                      sc.work_dir / "clickhouse.log")  # fmt: skip
        self.sink_port = free_port()
        self.stored_at_s: float | None = None  # first time every signal so far was stored

    @property
    def dsn(self) -> str:
        return f"{self.server.dsn}/{DATABASE}?compress=false"  # the endpoint serves no lz4

    def stored(self) -> dict[str, int]:
        """Rows as stored (``raw``), after ReplacingMergeTree's dedup (``final``), distinct ids."""
        client = connect(self.dsn)
        try:
            raw, final = (
                int(client.command(f"SELECT count() FROM signals{f}"))  # type: ignore[arg-type]
                for f in ("", " FINAL")
            )
            ids = {str(r[0]) for r in client.query("SELECT event_id FROM signals").result_rows}
        finally:
            client.close()
        return {"raw": raw, "final": final, "ids": len(ids & self.topic_ids()),
                "extra": len(ids - self.topic_ids())}  # fmt: skip

    def topic_ids(self) -> set[str]:
        return {str(s["event_id"]) for s in self.sc.records.get(self.sc.topics.signals, [])}

    def caught_up(self) -> bool:
        """Every signal read off the topic so far is in the store (checked while draining)."""
        if self.server.proc is None:
            return False
        try:
            done = self.stored()["ids"] == len(self.topic_ids())
        except Exception:  # the endpoint restarting, the sink migrating: not yet
            return False
        if done and self.stored_at_s is None:
            self.stored_at_s = time.time()
        return done

    def sink_retries(self) -> float:
        url = f"http://127.0.0.1:{self.sink_port}/metrics"
        try:
            body = urllib.request.urlopen(url, timeout=5).read().decode()
        except OSError:
            return -1.0
        for line in body.splitlines():
            if line.startswith("alphastream_sink_insert_retries_total "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def finish(self) -> None:
        """Once the workers stopped: let the sink store the last signals, then read the store."""
        deadline = time.monotonic() + 60
        while not self.caught_up() and time.monotonic() < deadline:
            time.sleep(0.5)
        counts = self.stored()
        self.sc.notes["store"] = {
            "signals_on_topic": len(self.topic_ids()),
            "stored_distinct": counts["ids"],
            "missing": len(self.topic_ids()) - counts["ids"],
            "stored_rows_final": counts["final"],
            "stored_rows_raw": counts["raw"],
            "extra": counts["extra"],
            "sink_insert_retries": self.sink_retries(),
            "stored_after_restart_s": None
            if self.stored_at_s is None
            else round(max(0.0, self.stored_at_s - self.sc.fault_end_s), 3),
        }


def setup_clickhouse(sc: Scenario) -> None:
    """The endpoint and the sink up before the workers; the store joins the drain condition."""
    row = StoreRow(sc)
    row.server.start()
    sc.cleanups.append(row.server.stop)
    sc.launch_sink(row.dsn, row.sink_port)
    sc.waits.append(row.caught_up)
    sc.cleanups.append(row.finish)  # runs first: the sink and the endpoint still up
    sc.state["store"] = row


def clickhouse_down(sc: Scenario) -> None:
    """SIGTERM the ClickHouse endpoint, keep it down ``clickhouse_down_s``, start it again."""
    row: StoreRow = sc.state["store"]
    sc.fault_start_s = time.time()
    row.stored_at_s = None
    row.server.stop()
    time.sleep(sc.durations.clickhouse_down_s)  # the fault itself lasts this long
    row.server.start()
    sc.fault_end_s = time.time()
