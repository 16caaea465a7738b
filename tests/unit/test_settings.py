from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from streams.settings import Settings, env_var
from streams.topics import TOPIC_PLAN


def test_settings_come_from_prefixed_env_and_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHASTREAM_KAFKA_BOOTSTRAP", "broker:1234")
    monkeypatch.setenv("ALPHASTREAM_PARTITIONS", "3")
    settings = Settings()
    assert (settings.kafka_bootstrap, settings.partitions) == ("broker:1234", 3)
    with pytest.raises(pydantic.ValidationError):
        settings.partitions = 4  # type: ignore[misc]
    assert env_var("kafka_bootstrap") == "ALPHASTREAM_KAFKA_BOOTSTRAP"


def test_secrets_are_masked_but_reach_the_client_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHASTREAM_KAFKA_SASL_PASSWORD", "hunter2")
    monkeypatch.setenv("ALPHASTREAM_CLICKHOUSE_DSN", "https://u:pw@ch.example:8443/db")
    settings = Settings()
    shown = repr(settings) + str(settings.masked())
    assert "hunter2" not in shown and "pw@" not in shown
    assert settings.kafka_client_config()["sasl.password"] == "hunter2"
    assert settings.clickhouse_url() == "https://u:pw@ch.example:8443/db"


def test_default_clickhouse_is_embedded_chdb_under_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.clickhouse_url() == f"chdb://{tmp_path.resolve()}/clickhouse"


def test_topic_plan_is_keyed_and_never_relies_on_auto_creation() -> None:
    names = [t.name for t in TOPIC_PLAN]
    assert len(names) == len(set(names))
    assert {"token-genesis", "wallet-buy", "wallet-sell", "scores", "dead-letter"} <= set(names)
    assert all(t.config()["cleanup.policy"] in {"delete", "compact"} for t in TOPIC_PLAN)


def test_producers_are_idempotent_on_kafka_and_off_for_tansu() -> None:
    kafka = Settings().kafka_producer_config()
    assert kafka["enable.idempotence"] is True and kafka["acks"] == "all"
    tansu = Settings(kafka_idempotence=False).kafka_producer_config()
    assert tansu["enable.idempotence"] is False


def test_group_less_readers_never_share_a_group_and_never_commit() -> None:
    settings = Settings(app_id="desk", kafka_bootstrap="broker:9092")
    first, second = (settings.kafka_reader_config("log-dump") for _ in range(2))
    assert first["bootstrap.servers"] == "broker:9092"
    assert str(first["group.id"]).startswith("desk.log-dump-")
    assert first["group.id"] != second["group.id"]
    assert first["enable.auto.commit"] is False and first["enable.partition.eof"] is True


def test_fetch_shapes_reach_the_sequencer_and_log_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    from confluent_kafka import Consumer

    from streams.app.logsource import reader_config
    from streams.sequencer.kafka_io import input_config

    defaults = Settings()
    assert input_config(defaults)["fetch.min.bytes"] == 1  # an answer per arrival
    assert reader_config(defaults)["fetch.min.bytes"] == 1
    monkeypatch.setenv("ALPHASTREAM_SEQUENCER_FETCH_MIN_BYTES", "1000000")
    monkeypatch.setenv("ALPHASTREAM_SEQUENCER_FETCH_WAIT_MS", "2")
    monkeypatch.setenv("ALPHASTREAM_LOG_FETCH_MIN_BYTES", "500000")
    batched = Settings(kafka_bootstrap="127.0.0.1:9")
    sequencer, worker = input_config(batched), reader_config(batched)
    assert (sequencer["fetch.min.bytes"], sequencer["fetch.wait.max.ms"]) == (1_000_000, 2)
    assert worker["fetch.min.bytes"] == 500_000 and worker["enable.partition.eof"] is False
    for conf in (sequencer, worker):  # librdkafka accepts them (it rejects unknown or bad ones)
        Consumer(conf).close()
    monkeypatch.setenv("ALPHASTREAM_LOG_FETCH_MIN_BYTES", "0")
    with pytest.raises(pydantic.ValidationError, match="log_fetch_min_bytes"):
        Settings()
