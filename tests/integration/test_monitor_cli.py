"""``alphastream monitor`` end to end on chdb: table, report, exit code, alert on a real broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from typer.testing import CliRunner

from streams import store
from streams.cli import _register, app
from streams.contracts.metadata import (
    ModelMetadata,
    PlattCalibration,
    metadata_path,
    reference_from_values,
    write_metadata,
)
from streams.events import Outcome, Signal
from streams.kafka_admin import create_topics
from streams.settings import Settings
from streams.store.clickhouse import ClickHouseStore
from streams.topics import ALERTS

pytestmark = pytest.mark.integration

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
HOUR = 3_600_000
TARGETS = ("reach_2x_1h", "reach_3x_30m", "reach_2x_10m", "is_dead_soon")
LABEL = "standard__reach_2x_1h__v1@v1"


def _draw(
    rng: np.random.Generator, n: int, drift: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, calibrated scores and labels; under drift features shift and hits collapse."""
    x = rng.normal(loc=1.0 if drift else 0.0, size=(n, 3))
    p = 1.0 / (1.0 + np.exp(-(x[:, 0] - 1.2)))
    y = (rng.random(n) < (p * 0.2 if drift else p)).astype(np.float64)
    return x, p, y


def _metadata(rng: np.random.Generator) -> ModelMetadata:
    x, p, y = _draw(rng, 20_000, drift=False)
    top = p >= np.quantile(p, 0.9)
    return ModelMetadata(
        model_id="standard__reach_2x_1h__v1", model_type="lightgbm", target="reach_2x_1h",
        family="standard", version="v1", feature_set="fs1", feature_names=("f_a", "f_b", "f_c"),
        feature_count=3, calibration=PlattCalibration(platt_a=1.0, platt_b=0.0),
        pr_auc=0.5, base_rate=float(y.mean()), onnx_sha256="0" * 64,
        reference={
            "score": reference_from_values(p), "f_a": reference_from_values(x[:, 0]),
            "f_c": reference_from_values(x[:, 2]),
        },
        expected_top_decile_hit_rate=float(y[top].mean()),
    )  # fmt: skip


def _events(rng: np.random.Generator, n: int, drift: bool) -> tuple[list[Signal], list[Outcome]]:
    x, p, y = _draw(rng, n, drift)
    signals, outcomes = [], []
    for i in range(n):
        ts = T0 + i * (4 * HOUR // n)  # four hours of signals
        scores = {t: None for t in TARGETS} | {"reach_2x_1h": float(p[i])}
        s = Signal(
            schema_version=1, type="signal", event_id=f"s{i}", ts=ts, mint=f"m{i % 50}",
            source_event_id=f"b{i}", kind="buy", wallet=f"w{i}", creator="c", scored_at=ts,
            price=1.0, scores=scores, rule_score=0.5, source="model", models={"reach_2x_1h": LABEL},
            percentile_1h=None, feature_set="fs1", features=[float(v) for v in x[i]], raw_scores=scores,
        )  # fmt: skip
        signals.append(s)
        labels = {t: False for t in TARGETS} | {"reach_2x_1h": bool(y[i])}
        outcomes.append(
            Outcome(
                schema_version=1,
                type="outcome",
                event_id=f"s{i}:o1h",
                ts=ts + HOUR,
                mint=s.mint,
                signal_event_id=s.event_id,
                kind="buy",
                wallet=s.wallet,
                creator="c",
                signal_ts=ts,
                stage="1h",
                price=1.0,
                peak_10m=1.0,
                peak_30m=1.0,
                peak_1h=1.0,
                peak_4h=None,
                peak_24h=None,
                min_1h=1.0,
                labels=labels,
            )
        )
    return signals, outcomes


@pytest.fixture
def database(chdb_dsn: str, unique_name: str) -> Iterator[tuple[str, Client]]:
    client = store.connect(chdb_dsn, database=unique_name)
    store.migrate(client)
    yield f"{chdb_dsn}?database={unique_name}", client
    client.command(f"DROP DATABASE IF EXISTS {unique_name}")
    client.close()


def _run(dsn: str, models: Path, report: Path, bootstrap: str) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(
        app,
        [
            "monitor",
            "--dsn",
            dsn,
            "--models-dir",
            str(models),
            "--report",
            str(report),
            "--since",
            "2026-01-01T00:00:00Z",
            "--until",
            "2026-01-01T06:00:00Z",
            "--window",
            "2h",
            "--bootstrap",
            bootstrap,
        ],
        env={"COLUMNS": "250"},
    )
    return result.exit_code, result.output


@pytest.mark.parametrize(("drift", "exit_code"), [(False, 0), (True, 20)])
def test_monitor_command_exit_code_report_and_table(
    database: tuple[str, Client], tmp_path: Path, drift: bool, exit_code: int
) -> None:
    dsn, client = database
    rng = np.random.default_rng(11)
    meta = _metadata(rng)
    write_metadata(meta, metadata_path(tmp_path, "standard", "reach_2x_1h"))
    ClickHouseStore(client).write(*_events(rng, 2_000, drift))
    report = tmp_path / "out" / "monitor.html"

    code, output = _run(dsn, tmp_path, report, "127.0.0.1:1")  # no broker there

    assert code == exit_code, output
    assert LABEL in output and "whole period" in output
    assert ("score_psi" in output) is drift
    assert "unreachable" in output if drift else "alerts:" not in output
    html = report.read_text()
    assert ("retrain" if drift else "ok") in html
    pngs = sorted(p.name for p in report.parent.glob("*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 1000 for p in report.parent.glob("*.png"))
    assert all(name in html for name in pngs)


def test_retrain_verdict_publishes_an_alert(
    database: tuple[str, Client], tmp_path: Path, tansu_bootstrap: str
) -> None:
    dsn, client = database
    rng = np.random.default_rng(12)
    write_metadata(_metadata(rng), metadata_path(tmp_path, "standard", "reach_2x_1h"))
    ClickHouseStore(client).write(*_events(rng, 2_000, drift=True))
    create_topics(Settings(kafka_bootstrap=tansu_bootstrap))

    code, output = _run(dsn, tmp_path, tmp_path / "r.html", tansu_bootstrap)

    assert code == 20 and "alerts: 1/1 published" in output, output
    consumer = Consumer(
        {
            "bootstrap.servers": tansu_bootstrap,
            "group.id": f"monitor-{tmp_path.name}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(ALERTS, 0, OFFSET_BEGINNING)])  # one partition, no group join
    try:
        found = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            value = msg.value()
            assert value is not None
            event = orjson.loads(value)
            if (
                event["model_id"] == "standard__reach_2x_1h__v1"
                and event["ts"] == 1_767_247_200_000
            ):
                found = event
                break
    finally:
        consumer.close()
    assert found is not None
    assert (found["type"], found["version"], found["verdict"]) == ("alert", "v1", "retrain")
    assert {"schema_version", "event_id", "reasons", "metrics"} <= set(found)
    assert any(r["rule"] == "top_decile_hit_rate" for r in found["reasons"])
