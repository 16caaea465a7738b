"""Shared fixtures: real brokers and the one chdb path of the session.

- ``kafka_bootstrap``: a real Apache Kafka (KRaft, single node) on a free loopback port.
- ``tansu_bootstrap``: the embedded tansu broker (in-memory storage).
- ``chdb_dsn``: ``chdb:///<tmp>/ch``. One process may open only ONE chdb path, so every test
  shares this DSN and isolates itself by database/table name, never by path.
- ``settings_for(bootstrap, **overrides)``: a ``Settings`` pointing at a broker (and chdb_dsn).

Brokers start lazily (the first test that asks for one) and stop at the end of the session. They
are shared, so topics persist between tests: ``create_topics`` is idempotent; use unique consumer
group ids (``unique_id``) and match your own messages (e.g. by event_id). Tests that use a broker
fixture get the ``integration`` and ``kafka``/``tansu`` markers automatically.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from streams.devtools.local.kafka import KafkaBroker, ensure_jars
from streams.devtools.local.tansu import TansuBroker
from streams.settings import Settings

SettingsFor = Callable[..., Settings]

_BROKER_MARKERS = {
    "kafka_broker": "kafka",
    "kafka_bootstrap": "kafka",
    "tansu_broker": "tansu",
    "tansu_bootstrap": "tansu",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture_name, marker in _BROKER_MARKERS.items():
            if fixture_name in used:
                item.add_marker(pytest.mark.integration)
                item.add_marker(getattr(pytest.mark, marker))


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A running Apache Kafka broker (jars resolved via infra/kafka/fetch-jars.sh if needed)."""
    libs = ensure_jars()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), libs=libs)
    with broker:
        yield broker


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: KafkaBroker) -> str:
    return kafka_broker.bootstrap


@pytest.fixture(scope="session")
def tansu_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    with TansuBroker(tmp_path_factory.mktemp("tansu")) as broker:
        yield broker


@pytest.fixture(scope="session")
def tansu_bootstrap(tansu_broker: TansuBroker) -> str:
    return tansu_broker.bootstrap


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The single chdb data path of this pytest process (nothing is opened until a test connects)."""
    return "chdb://" + str(tmp_path_factory.mktemp("chdb") / "ch")


@pytest.fixture(scope="session")
def settings_for(tmp_path_factory: pytest.TempPathFactory, chdb_dsn: str) -> SettingsFor:
    """``settings_for(bootstrap, **overrides)``: Settings at that broker, chdb_dsn, a fresh data_dir."""

    def build(bootstrap: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap": bootstrap,
            "clickhouse_dsn": chdb_dsn,
            "data_dir": tmp_path_factory.mktemp("data"),
            "app_id": unique_id("alphastream-test"),
        }
        values.update(overrides)
        return Settings(**values)

    return build


def unique_id(prefix: str) -> str:
    """A name no other test in the session uses (consumer groups, databases, tables)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """A per-test unique name usable as a group id or a ClickHouse identifier (``[a-z0-9_]``)."""
    base = "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:30]
    return f"{base}_{uuid.uuid4().hex[:8]}"
