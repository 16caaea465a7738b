"""Apache Kafka launcher pieces that need no broker: pinned version, cluster ids, config, jar fetch."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from streams.devtools.local.kafka import (
    FETCH_SCRIPT,
    POM,
    KafkaBroker,
    kafka_version,
    new_cluster_id,
)
from streams.devtools.local.process import BrokerNotReady


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def test_the_pinned_version_is_a_release_with_a_jar_dir_name() -> None:
    version = kafka_version()
    assert version.count(".") == 2 and all(part.isdigit() for part in version.split("."))
    assert f"<kafka.version>{version}</kafka.version>" in POM.read_text()


def test_cluster_ids_are_16_random_bytes_in_url_safe_base64() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cluster_id in ids:
        assert len(cluster_id) == 22 and "=" not in cluster_id
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_server_config_is_single_node_kraft_without_auto_create(tmp_path: Path) -> None:
    broker = KafkaBroker(tmp_path, port=19092, controller_port=19093)
    config = _properties(broker._write_config().read_text())
    assert config["process.roles"] == "broker,controller"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert config["auto.create.topics.enable"] == "false"
    assert config["offsets.topic.replication.factor"] == "1"
    assert config["transaction.state.log.replication.factor"] == "1"
    assert config["group.initial.rebalance.delay.ms"] == "0"
    assert config["log.dirs"] == str(tmp_path / "data")
    assert (tmp_path / "log4j2.properties").exists()
    assert "-Xmx512m" in broker._java("libs/*")


def test_missing_jars_fail_with_the_make_target_to_run(tmp_path: Path) -> None:
    with pytest.raises(BrokerNotReady, match="make kafka-jars"):
        KafkaBroker(tmp_path / "work", libs=tmp_path / "no-libs").start()


@pytest.mark.parametrize("java_version", ['"11.0.21" 2023-10-17', '"1.8.0_392"'])
def test_fetch_jars_refuses_java_older_than_17(tmp_path: Path, java_version: str) -> None:
    # A copy of infra/kafka with an empty cache, and a fake `java` first on PATH.
    kafka_dir = tmp_path / "infra" / "kafka"
    kafka_dir.mkdir(parents=True)
    shutil.copy(FETCH_SCRIPT, kafka_dir)
    shutil.copy(POM, kafka_dir)
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    java = fake_bin / "java"
    java.write_text(f"#!/bin/sh\necho 'openjdk version {java_version}' >&2\n")
    java.chmod(0o755)
    done = subprocess.run(
        ["bash", str(kafka_dir / "fetch-jars.sh")],
        env={"PATH": f"{fake_bin}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "needs Java 17 or newer" in done.stderr
    assert not (tmp_path / "infra" / ".cache" / f"kafka-{kafka_version()}" / "libs").exists()


def test_cluster_ids_never_start_with_a_dash() -> None:
    """``kafka-storage format --cluster-id -abc`` reads the id as an option; a random id starts
    with "-" once in 64, so 2,000 draws without the guard would almost surely show one."""
    assert not any(new_cluster_id().startswith("-") for _ in range(2000))
