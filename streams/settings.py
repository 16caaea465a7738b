"""One frozen settings object, loaded once by the CLI and passed down.

Every field can be set from the environment with the ``ALPHASTREAM_`` prefix, e.g.
``ALPHASTREAM_KAFKA_BOOTSTRAP=broker:9092``. Secrets are ``SecretStr`` and print masked.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ALPHASTREAM_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    # Kafka
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: str | None = Field(
        None, description="SASL mechanism, e.g. PLAIN or SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (secret)")
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle for SSL")
    kafka_idempotence: bool = Field(
        True,
        description="Producers of the worker and the harness use enable.idempotence (Apache "
        "Kafka: a retried send is not written twice); false for tansu, which has none",
    )
    sequencer_fetch_wait_ms: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Sequencer: longest a fetch of its input reader waits at the broker for data "
        "(Apache Kafka answers as soon as data arrives; tansu only at this deadline)",
    )
    log_fetch_wait_ms: int = Field(
        50,
        ge=1,
        le=10_000,
        description="Worker: longest a fetch of its market-log reader waits at the broker for "
        "data (Apache Kafka answers as soon as data arrives; tansu only at this deadline)",
    )
    sequencer_fetch_min_bytes: int = Field(
        1,
        ge=1,
        le=64 * 1024 * 1024,
        description="Sequencer: bytes a fetch of its input reader waits for at the broker (up to "
        "SEQUENCER_FETCH_WAIT_MS). 1: an answer per arrival, the lowest latency. Large (1000000) "
        "with a short wait (2): one answer per wait carrying every partition's records, about a "
        "third less sequencer CPU at high rates for up to the wait more latency (docs/stream.md)",
    )
    log_fetch_min_bytes: int = Field(
        1,
        ge=1,
        le=64 * 1024 * 1024,
        description="Worker: bytes a fetch of its market-log reader waits for at the broker (up "
        "to LOG_FETCH_WAIT_MS); see SEQUENCER_FETCH_MIN_BYTES",
    )
    input_linger_ms: float = Field(
        5.0,
        ge=0,
        le=1_000,
        description="Producers of input events (demo feed, ingest connectors): linger before a "
        "batch is sent. tansu stores every batch as one object and lists them all on each fetch, "
        "so fewer, larger batches keep its fetches fast (docs/demo.md)",
    )
    log_linger_ms: float = Field(
        1.0,
        ge=0,
        le=1_000,
        description="Sequencer: linger of its market-log producer (batches per second written "
        "to the log; see INPUT_LINGER_MS for why that matters on tansu)",
    )
    gc_freeze_interval_s: float = Field(
        1.0,
        ge=0,
        le=3_600,
        description="Worker and sequencer: seconds between moves of the surviving heap out of the "
        "cyclic garbage collector's reach (gc.freeze), so no collection walks the whole state "
        "(0: Python's collector as is; docs/stream.md, 'Garbage collection')",
    )
    partitions: int = Field(6, ge=1, description="Partitions per data topic")
    replication_factor: int = Field(1, ge=1, description="Replication factor of created topics")
    app_id: str = Field("alphastream", description="Consumer group / faust app id")

    # ClickHouse
    clickhouse_dsn: SecretStr | None = Field(
        None,
        description="ClickHouse DSN: chdb:///abs/path (embedded) or http(s)://user:pass@host:port/db; "
        "default: embedded chdb under DATA_DIR/clickhouse",
    )

    # Scoring and batching
    models_dir: Path = Field(
        Path("models"), description="Deployed model pairs (.onnx + _metadata.json)"
    )
    model_reload_interval_s: float = Field(
        300.0, gt=0, description="Seconds between model dir rescans"
    )
    checkpoint_interval_s: float = Field(
        60.0,
        ge=0,
        description="Seconds between engine checkpoints written to engine-checkpoints (0: off)",
    )
    checkpoint_in_child: bool = Field(
        True,
        description="Serialize each Kafka checkpoint in a forked child (in-memory state, POSIX) "
        "instead of in the hot loop, which then pays for the fork instead of the values",
    )
    state_backend: Literal["memory", "rocksdb"] = Field(
        "memory",
        description="Where the worker keeps engine state: memory (tests, demo) or rocksdb "
        "(production: a local RocksDB copy, committed at every checkpoint, restores a restart)",
    )
    state_dir: Path | None = Field(
        None, description="RocksDB directory of the engine state (default DATA_DIR/state/APP_ID)"
    )
    state_cache_entries: int = Field(
        500_000,
        ge=1,
        description="rocksdb backend: deserialized values kept per store after a checkpoint "
        "(tokens, wallets, creators, co-buyers; older ones are re-read from RocksDB)",
    )
    max_message_bytes: int = Field(
        64 * 1024, ge=1024, description="Larger input messages are dead-lettered"
    )
    data_dir: Path = Field(
        Path("var"), description="Local state: chdb store, faust tables, reports"
    )
    log_level: str = Field("INFO", description="Logging level")

    # Worker process (``alphastream worker``)
    metrics_port: int = Field(9464, ge=0, description="Worker Prometheus metrics port (0: off)")
    web: bool = Field(False, description="Start faust's web server in the worker")
    web_port: int = Field(6066, ge=1, description="Port of faust's web server (with WEB)")
    http_port: int = Field(
        0,
        ge=0,
        description="Serve /scores/{mint}, /healthz, /ready, /metrics and /board on this port (0: off)",
    )
    http_host: str = Field(
        "127.0.0.1", description="Address the worker's HTTP server binds (0.0.0.0 in a container)"
    )
    topic_prefix: str = Field(
        "", description="Prefix of every topic name (isolated runs on a shared broker)"
    )
    handover_window_s: float = Field(
        30.0,
        gt=0,
        description="Worker: unscored rows of shards it does not own are kept this long, so it "
        "can publish what a dead owner had not when it takes a shard over",
    )
    handover_max_rows: int = Field(
        200_000, ge=1, description="Worker: most rows kept for a handover (oldest dropped, counted)"
    )
    log_batch: int = Field(
        500, ge=1, description="Worker: most market-log records read and applied per step"
    )

    # Sequencer process (``alphastream sequencer``)
    sequencer_hold_ms: float = Field(
        2.0,
        ge=0,
        description="Sequencer: an event waits this long for earlier ones from other partitions "
        "before it is written to the market log (the only reordering wait in the pipeline)",
    )
    sequencer_max_wait_ms: float = Field(
        500.0,
        ge=0,
        description="Sequencer: longest wait for a partition with a known backlog before later "
        "events are written anyway (counted as forced)",
    )
    sequencer_marker_interval_s: float = Field(
        0.5, gt=0, description="Sequencer: seconds between position markers in the market log"
    )
    max_future_skew_s: float = Field(
        60.0,
        gt=0,
        description="Sequencer: events stamped further than this past its clock are "
        "dead-lettered (future_ts)",
    )
    sequencer_metrics_port: int = Field(
        0, ge=0, description="Sequencer: serve Prometheus metrics on this port (0: off)"
    )

    # Sink process (``alphastream sink``)
    sink_max_rows: int = Field(5000, ge=1, description="Sink: flush a batch at this many messages")
    sink_max_wait_s: float = Field(
        1.0, gt=0, description="Sink: flush a batch this many seconds after its first message"
    )
    sink_metrics_port: int = Field(
        0, ge=0, description="Sink: serve Prometheus metrics on this port (0: off)"
    )
    sink_metrics_addr: str = Field(
        "127.0.0.1", description="Sink: address the metrics server binds (0.0.0.0 in a container)"
    )

    # Real-feed connectors (alphastream ingest / record)
    solana_ws_url: SecretStr | None = Field(
        None,
        description="Solana JSON-RPC websocket URL for ingest solana-logs (secret: providers put "
        "the API key in it), e.g. wss://mainnet.helius-rpc.com/?api-key=...",
    )
    pumpportal_url: str = Field(
        "wss://pumpportal.fun/api/data", description="PumpPortal data websocket URL (no key in it)"
    )
    pumpportal_api_key: SecretStr | None = Field(
        None, description="PumpPortal API key (secret; trade subscriptions need it)"
    )
    ingest_silence_s: float = Field(
        30.0, gt=0, description="No frame for this many seconds: drop the connection, reconnect"
    )
    ingest_backoff_base_s: float = Field(
        0.5, gt=0, description="First reconnect delay ceiling (doubles per failed attempt)"
    )
    ingest_backoff_cap_s: float = Field(30.0, gt=0, description="Largest reconnect delay ceiling")
    ingest_dedup_ids: int = Field(
        100_000, ge=1, description="Recent event ids a connector remembers to drop resent frames"
    )
    ingest_idempotence: bool = Field(
        True,
        description="Idempotent producer for ingest (Apache Kafka: true; tansu: false, it does "
        "not support it)",
    )

    def clickhouse_url(self) -> str:
        """The DSN to connect with; the embedded chdb store under data_dir when none is set."""
        if self.clickhouse_dsn is not None:
            return self.clickhouse_dsn.get_secret_value()
        return "chdb://" + str((self.data_dir / "clickhouse").resolve())

    def state_path(self) -> Path:
        """The RocksDB directory of the engine state (``state_backend="rocksdb"``)."""
        return self.state_dir or self.data_dir / "state" / self.app_id

    def kafka_client_config(self) -> dict[str, str | int | float | bool]:
        """librdkafka/confluent-kafka client options, including security passthrough."""
        conf: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.kafka_bootstrap,
            "security.protocol": self.kafka_security_protocol,
        }
        if self.kafka_sasl_mechanism:
            conf["sasl.mechanism"] = self.kafka_sasl_mechanism
        if self.kafka_sasl_username:
            conf["sasl.username"] = self.kafka_sasl_username
        if self.kafka_sasl_password is not None:
            conf["sasl.password"] = self.kafka_sasl_password.get_secret_value()
        if self.kafka_ssl_cafile is not None:
            conf["ssl.ca.location"] = str(self.kafka_ssl_cafile)
        return conf

    def kafka_reader_config(self, purpose: str) -> dict[str, str | int | float | bool]:
        """A group-less reader's options: partitions are assigned at explicit offsets, nothing is
        committed, and partition EOF is reported so a read can stop at the end. librdkafka
        wants a ``group.id`` even so; a fresh one per reader keeps readers from ever sharing."""
        return {
            **self.kafka_client_config(),
            "group.id": f"{self.app_id}.{purpose}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }

    def kafka_producer_config(self) -> dict[str, str | int | float | bool]:
        """Client options of a producer: idempotent (acks=all) unless the broker has none."""
        conf = self.kafka_client_config()
        conf["enable.idempotence"] = self.kafka_idempotence
        if self.kafka_idempotence:
            conf["acks"] = "all"
        return conf

    def masked(self) -> dict[str, Any]:
        """Settings as a dict safe to log (secrets stay masked)."""
        return {k: (str(v) if isinstance(v, SecretStr) else v) for k, v in self}


def env_var(field: str) -> str:
    """Environment variable name of a settings field (shown in CLI help)."""
    return ENV_PREFIX + field.upper()
