"""Tail latency of one embedded-broker hop as the broker fills up:
``python -m streams.devtools.bench.broker_growth``.

A probe producer writes 500 small records/s to a one-partition topic and a consumer tails it
(``fetch.wait.max.ms`` as given, reading whatever has arrived without waiting for a full batch);
the hop is produce call -> record in the consumer. Between probe windows the broker is grown by
``--grow`` records in batches of ``--grow-batch``, on the probed topic or on another one
(``--other``). ``--grow 0`` shows what the probe's own batches cost. On tansu the hop grows with
the number of batches the probed partition holds, not with records or bytes (docs/demo.md):
this is what the demo's latency on tansu depends on.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from streams.devtools.local.tansu import TansuBroker

PROBE_RATE_PER_S = 500
PAD = b"x" * 300  # about the size of a simulated input event


class TailProbe:
    """Tails ``topic`` and records, for each probe record, produce call -> arrival in seconds."""

    def __init__(self, bootstrap: str, topic: str, fetch_wait_ms: int) -> None:
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "broker-growth",
                                   "enable.auto.commit": False,
                                   "fetch.wait.max.ms": fetch_wait_ms})  # fmt: skip
        self._consumer.assign([TopicPartition(topic, 0, -1)])  # from the end
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            # consume(n, 0) returns what has arrived; consume(n, t) would wait t for n records
            first = self._consumer.poll(0.05)
            if first is None:
                continue
            for m in [first, *self._consumer.consume(1000, 0)]:
                value = m.value()
                if m.error() is None and value and value[:1] == b"L":
                    self.latencies.append(time.time() - float(value[1:30]))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._consumer.close()


def _probe_window(producer: Producer, topic: str, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        producer.produce(topic, b"L" + f"{time.time():<29.6f}".encode() + PAD)
        producer.poll(0)
        time.sleep(1.0 / PROBE_RATE_PER_S)
    producer.flush(30)


def _grow(producer: Producer, topic: str, records: int) -> None:
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, b"B" + PAD)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)


def run(
    fetch_wait_ms: int, grow: int, steps: int, other: bool, window_s: float, grow_batch: int
) -> None:
    broker = TansuBroker().start().wait_ready()
    try:
        boot = broker.bootstrap
        topics = ["probe", "other"]
        admin = AdminClient({"bootstrap.servers": boot})
        for future in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
            future.result()
        producer = Producer({"bootstrap.servers": boot, "linger.ms": 1})
        # tansu stores each produced batch as one object: this sets how many objects a grow adds
        grower = Producer({"bootstrap.servers": boot, "linger.ms": 5,
                           "batch.num.messages": grow_batch})  # fmt: skip
        probe = TailProbe(boot, "probe", fetch_wait_ms)
        held = 0
        for step in range(steps + 1):
            probe.latencies.clear()
            _probe_window(producer, "probe", window_s)
            time.sleep(0.5)  # the last probes arrive
            ms = 1000 * np.asarray(probe.latencies)
            p50, p99 = np.percentile(ms, [50, 99]) if ms.size else (float("nan"),) * 2
            print(f"broker holds ~{held:>9,} grown records: {ms.size} probes, "
                  f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", flush=True)  # fmt: skip
            if step < steps:
                _grow(grower, "other" if other else "probe", grow)
                held += grow
        probe.close()
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fetch-wait-ms", type=int, default=50)
    parser.add_argument("--grow", type=int, default=150_000, help="records added per step")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--other", action="store_true", help="grow another topic, not the probed one"
    )
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument(
        "--grow-batch", type=int, default=10_000, help="records per produced batch when growing"
    )
    args = parser.parse_args()
    run(args.fetch_wait_ms, args.grow, args.steps, args.other, args.window_s, args.grow_batch)


if __name__ == "__main__":
    main()
