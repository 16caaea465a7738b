"""A consumer of ``scores`` that reads a few records a second and commits what it read (the
fault matrix's slow consumer); writes how far it got to a status file after each record.

``python -m streams.devtools.faults.slow_reader --bootstrap B --topic T --group G --status F``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer

READS_PER_S = 2.0


def consume_slowly(bootstrap: str, topic: str, group: str, status: Path) -> None:
    """Read one record every 1/READS_PER_S s from the earliest offset, until SIGTERM."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
        "enable.auto.commit": False, "fetch.max.bytes": 65536, "message.max.bytes": 65536,
        "max.partition.fetch.bytes": 1024, "queued.max.messages.kbytes": 4,
        "queued.min.messages": 1,
    })  # fmt: skip
    consumer.subscribe([topic])
    read, last_ts = 0, None
    try:
        while True:
            msg = consumer.poll(1.0)
            if msg is None or msg.error() is not None:
                continue
            read += 1
            last_ts = json.loads(msg.value() or b"{}").get("ts")
            consumer.commit(message=msg, asynchronous=False)
            tmp = status.with_suffix(".tmp")
            tmp.write_text(json.dumps({"read": read, "last_ts": last_ts}))
            os.replace(tmp, status)
            time.sleep(1.0 / READS_PER_S)
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.devtools.faults.slow_consumer")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--status", type=Path, required=True)
    args = parser.parse_args(argv)
    consume_slowly(args.bootstrap, args.topic, args.group, args.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
