"""A single-node Apache Kafka (KRaft broker + controller) on loopback, run from the Maven jars.

``make kafka-jars`` resolves the pinned jars into ``infra/.cache/kafka-<version>/libs``. Use
:class:`KafkaBroker` from Python (tests, demo) or the small CLI behind ``make kafka-up``::

    python -m streams.devtools.local.kafka up|down|status
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from streams.devtools.local.process import (
    BrokerNotReady,
    LocalBroker,
    broker_answers,
    free_port,
    pid_alive,
    stop_pid,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
POM = REPO_ROOT / "infra" / "kafka" / "pom.xml"
FETCH_SCRIPT = REPO_ROOT / "infra" / "kafka" / "fetch-jars.sh"
DEFAULT_JVM_OPTS = ("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true")
READY_TIMEOUT_S = 90.0

# Single node, tuned for tests: no auto-created topics, RF 1 internal topics, instant rebalances.
# One network and two request threads (defaults 3 and 8): on a 2-core machine shared with the
# pipeline, the extra threads only cost CPU (docs/stream.md, "Fewer broker threads").
_SERVER_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dirs}
num.partitions=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
log.retention.check.interval.ms=60000
num.network.threads=1
num.io.threads=2
"""

# log4j2: everything INFO and up to stdout, which the launcher redirects into broker.log.
_LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
"""


def kafka_version() -> str:
    """The Kafka version pinned in ``infra/kafka/pom.xml``."""
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text(encoding="utf-8"))
    if found is None:
        raise RuntimeError(f"no <kafka.version> in {POM}")
    return found.group(1).strip()


def libs_dir() -> Path:
    return REPO_ROOT / "infra" / ".cache" / f"kafka-{kafka_version()}" / "libs"


def ensure_jars() -> Path:
    """The jar directory, resolving it first through ``fetch-jars.sh`` (instant when cached)."""
    subprocess.run(["bash", str(FETCH_SCRIPT)], check=True)
    return libs_dir()


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like StorageTool).

    Never starting with "-" (Kafka's own Uuid does the same): ``kafka-storage format
    --cluster-id -x...`` reads such an id as an option and fails (seen in CI, 1 run in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaBroker(LocalBroker):
    """One KRaft broker+controller process with its data under ``work_dir``."""

    work_dir: Path
    port: int = 0  # 0: pick a free port at start
    controller_port: int = 0
    jvm_opts: tuple[str, ...] = DEFAULT_JVM_OPTS
    libs: Path | None = None
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    ready_timeout_s = READY_TIMEOUT_S

    @property
    def log_path(self) -> Path:
        return self.work_dir / "broker.log"

    def start(self) -> KafkaBroker:
        """Format storage (first run only) and launch the broker; does not wait for it."""
        libs = self.libs or libs_dir()
        if not (libs / f"kafka_2.13-{kafka_version()}.jar").exists():
            raise BrokerNotReady(f"Kafka jars missing in {libs}: run `make kafka-jars` first")
        self.port = self.port or free_port()
        self.controller_port = self.controller_port or free_port()
        config = self._write_config()
        classpath = f"{libs}/*"
        self._format_storage(classpath, config)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [*self._java(classpath), "kafka.Kafka", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: clean group kill, no stray ^C
            )
        return self

    def _java(self, classpath: str) -> list[str]:
        log4j = self.work_dir / "log4j2.properties"
        return [
            "java",
            *self.jvm_opts,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={self.work_dir}",
            "-cp",
            classpath,
        ]

    def _write_config(self) -> Path:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "log4j2.properties").write_text(_LOG4J2_PROPERTIES, encoding="utf-8")
        config = self.work_dir / "server.properties"
        config.write_text(
            _SERVER_PROPERTIES.format(
                port=self.port,
                controller_port=self.controller_port,
                log_dirs=self.work_dir / "data",
            ),
            encoding="utf-8",
        )
        return config

    def _format_storage(self, classpath: str, config: Path) -> None:
        if (self.work_dir / "data" / "meta.properties").exists():
            return  # a kept data dir (make kafka-up) restarts with its cluster id and topics
        cmd = [
            *self._java(classpath),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(config),
        ]
        with self.log_path.open("ab") as log:
            done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise BrokerNotReady(
                f"kafka storage format failed ({done.returncode}):\n{self.log_tail()}"
            )


# ---- make kafka-up / kafka-down -------------------------------------------------------------

STATE_DIR = REPO_ROOT / "var" / "kafka"
PID_FILE = STATE_DIR / "broker.pid"


def _running_pid() -> int | None:
    if not PID_FILE.exists():
        return None
    pid = int(PID_FILE.read_text(encoding="utf-8").strip() or 0)
    return pid if pid and pid_alive(pid) else None


def cmd_up(port: int, controller_port: int) -> int:
    pid = _running_pid()
    if pid is not None:
        print(f"kafka already running (pid {pid}) on 127.0.0.1:{port}")
        return 0
    ensure_jars()
    broker = KafkaBroker(STATE_DIR, port=port, controller_port=controller_port)
    try:
        broker.start()
        PID_FILE.write_text(str(broker.pid), encoding="utf-8")
        broker.wait_ready()
    except BrokerNotReady as exc:
        broker.stop()
        PID_FILE.unlink(missing_ok=True)
        print(exc, file=sys.stderr)
        return 1
    print(
        f"kafka {kafka_version()} up on {broker.bootstrap} (pid {broker.pid}); log {broker.log_path}"
    )
    return 0


def cmd_down() -> int:
    pid = _running_pid()
    if pid is None:
        print("kafka is not running")
    else:
        stop_pid(pid)
        print(f"kafka stopped (pid {pid})")
    PID_FILE.unlink(missing_ok=True)
    return 0


def cmd_status(port: int) -> int:
    pid = _running_pid()
    bootstrap = f"127.0.0.1:{port}"
    if pid is None:
        print("kafka is not running")
        return 1
    answers = broker_answers(bootstrap)
    print(f"kafka pid {pid} on {bootstrap}: {'ready' if answers else 'not answering'}")
    return 0 if answers else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m streams.devtools.local.kafka", description=__doc__
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--controller-port", type=int, default=9093)
    args = parser.parse_args(argv)
    if args.action == "up":
        return cmd_up(args.port, args.controller_port)
    if args.action == "down":
        return cmd_down()
    return cmd_status(args.port)


if __name__ == "__main__":
    sys.exit(main())
