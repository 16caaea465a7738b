"""End-to-end smoke test: ``alphastream demo --quick`` as a user runs it (own process, own chdb).

The demo runs as a subprocess because it owns an embedded chdb path, and a pytest process may
open only the one session chdb path (see tests/conftest.py).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.devtools.local.process import pid_alive
from tests.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALPHASTREAM = str(Path(sys.executable).parent / "alphastream")
QUICK_TIMEOUT_S = 600


def _demo(work_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALPHASTREAM, "demo", "--quick", "--work-dir", str(work_dir), *extra],
        capture_output=True,
        text=True,
        timeout=QUICK_TIMEOUT_S,
        env={**os.environ, "COLUMNS": "160"},
    )


def _children_of_run(work_dir: Path) -> list[int]:
    """Processes whose command line names this run's work dir or its worker logs."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if f"ALPHASTREAM_DATA_DIR={work_dir.resolve()}".encode() in environ:
            found.append(int(proc.name))
    return found


def _worker_metrics_ports(work_dir: Path) -> list[int]:
    """The metrics ports of the demo's running workers (from their command lines)."""
    pid_file = work_dir / "demo.pids"
    ports = []
    for pid in pid_file.read_text().split() if pid_file.exists() else []:
        try:
            args = (Path("/proc") / pid / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if "worker" in args and "--metrics-port" in args:
            ports.append(int(args[args.index("--metrics-port") + 1]))
    return ports


def _scored(port: int) -> float:
    """Events a worker has scored so far (0 while its metrics endpoint is not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "alphastream_scored"
        for sample in family.samples
        if sample.name == "alphastream_scored_total"
    )


def _check_summary(summary: dict[str, Any], work_dir: Path) -> None:
    published = summary["events_published"]
    assert summary["buys_published"] == published["wallet_buy"] > 1000
    # every buy published is scored exactly once (unique by source event id)
    assert summary["buys_scored"] == summary["buys_published"]
    assert 0 < summary["genesis_scored"] <= published["token_genesis"]
    assert summary["signals_in_clickhouse"] == summary["buys_scored"] + summary["genesis_scored"]
    assert 0 < summary["outcomes_in_clickhouse"] <= summary["signals_in_clickhouse"]
    # both families trained from ClickHouse, deployed, and served by the running worker
    families = {info["family"] for info in summary["training"].values()}
    assert families == {"standard", "genesis"}
    assert len(summary["models_deployed"]) == 2
    assert summary["reload_seconds"] is not None and summary["reload_seconds"] < 90
    assert summary["scores_after_reload"] > 0
    assert summary["model_share_after_reload"] == 1.0
    lat = summary["latency_ms"]
    assert 0 <= lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] < 120_000
    assert summary["input_events_per_s"] > 0 and summary["scores_per_s"] > 0
    for quality in summary["quality"]:
        assert quality["rows"] > 0
        assert 0 <= quality["rule_pr_auc"] <= 1 and 0 <= quality["model_pr_auc"] <= 1
    assert {q["family"] for q in summary["quality"]} == {"standard", "genesis"}
    assert summary["verdict"] in {"ok", "watch", "retrain"}
    report = Path(summary["report"])
    assert report == work_dir / "report.html" and report.stat().st_size > 1000
    for png in ("throughput.png", "latency.png", "pr_curves.png", "calibration.png"):
        assert (work_dir / png).stat().st_size > 1000


def test_quick_demo_end_to_end(tmp_path: Path) -> None:
    work_dir = tmp_path / "demo"
    done = _demo(work_dir)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    summary = json.loads((work_dir / "summary.json").read_text())
    _check_summary(summary, work_dir)
    assert "report:" in done.stdout
    assert not (work_dir / "demo.pids").exists()
    assert _children_of_run(work_dir) == []


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    work_dir = tmp_path / "demo"
    proc = subprocess.Popen(
        [ALPHASTREAM, "demo", "--quick", "--work-dir", str(work_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # interrupt once the market is streaming: a worker's metrics count scored events
    poll_until(
        lambda: any(_scored(port) > 0 for port in _worker_metrics_ports(work_dir)),
        timeout_s=300,
        interval_s=0.5,
    )
    children = [int(p) for p in (work_dir / "demo.pids").read_text().split()]
    assert children, "the demo records the pids it started"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out[-3000:]
    assert "interrupted" in out
    assert not any(pid_alive(pid) for pid in children)
    assert _children_of_run(work_dir) == []
