"""The sequencer process: a member of the lease group; while it holds the lease it leads.

Every sequencer process joins the consumer group ``<app_id>.sequencer`` subscribed to the
one-partition lease topic; the member assigned its partition 0 leads, the others stand by.
Membership is kept by librdkafka's heartbeats (session 6 s, heartbeat 1 s); the lease consumer
is polled between loop steps (at most ``MAX_IDLE_S`` apart), and its rebalance callbacks run
there, on the loop's thread:

- assigned: the next iteration recovers from the log's tail and starts a term;
- revoked or lost: the term ends at once: nothing more is written, what was produced is
  delivered (so the next leader reads a complete tail), the merge buffer is dropped.

A SIGKILLed leader stops heartbeating; after the session timeout the group gives the lease to
a standby, which recovers from the log (nothing lost; what the dead leader wrote is not written
again). A clean stop writes a last marker and leaves the group, so the standby takes over at
once.
"""

from __future__ import annotations

import logging
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import start_http_server

from streams.heap import GcPauses, HeapKeeper
from streams.sequencer import kafka_io
from streams.sequencer.leader import Clients, Term
from streams.sequencer.metrics import SequencerMetrics
from streams.settings import Settings
from streams.topics import TopicNames

log = logging.getLogger(__name__)

STANDBY_POLL_S = 0.1


class Sequencer:
    def __init__(self, settings: Settings, topics: TopicNames, metrics: SequencerMetrics) -> None:
        self.clients = Clients(
            settings,
            topics,
            metrics,
            producer=kafka_io.log_producer(settings),
            inputs=kafka_io.input_consumer(settings),
            reader=kafka_io.log_reader(settings),
        )
        self.lease = kafka_io.lease_consumer(settings)
        self.heap = HeapKeeper(settings.gc_freeze_interval_s)
        self.term: Term | None = None
        self.lead_wanted = False
        self.assigned_s = 0.0
        self.metrics = metrics
        metrics.leader.set(0)

    def run(self, stop: threading.Event) -> None:
        self.lease.subscribe(
            [self.clients.topics.lease],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_lost,
        )
        pauses = GcPauses(self.metrics.gc_pauses)
        self.heap.settle()
        try:
            while not stop.is_set():
                self.lease.poll(0)  # membership: the rebalance callbacks run here
                if self.term is not None:
                    self.term.step()
                elif self.lead_wanted:
                    self._begin()
                else:
                    self.lease.poll(STANDBY_POLL_S)
                self.heap.tick(time.monotonic())
        finally:
            pauses.close()

    def _begin(self) -> None:
        term = Term(self.clients)
        recovery = term.begin()  # kafka_io.watermarks retries while a new log has no leader
        self.term = term
        self.metrics.recoveries.inc()
        self.metrics.recovery_records.set(recovery.read)
        self.metrics.recovery_seconds.set(time.monotonic() - self.assigned_s)
        self.metrics.leader.set(1)

    def _end(self, why: str, final_marker: bool = False) -> None:
        self.lead_wanted = False
        term, self.term = self.term, None
        self.metrics.leader.set(0)
        if term is not None:
            log.info("no longer leading (%s)", why)
            term.end(final_marker)

    # --- lease callbacks (inside lease.poll) ------------------------------------------------

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if any(p.partition == 0 for p in partitions):
            log.info("lease assigned: recovering from the market log")
            self.lead_wanted = True
            self.assigned_s = time.monotonic()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if any(p.partition == 0 for p in partitions):
            self._end("lease revoked")

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if any(p.partition == 0 for p in partitions):
            self._end("lease lost")

    # --- stop -----------------------------------------------------------------------------

    def close(self) -> None:
        """Clean stop: a last marker if leading, then leave the group (a standby takes over)."""
        try:
            self._end("stopping", final_marker=True)
        finally:
            self.lease.close()
            self.clients.inputs.close()
            self.clients.reader.close()
            self.clients.producer.flush(10)


def run_sequencer(
    settings: Settings,
    topics: TopicNames,
    stop: threading.Event,
    metrics: SequencerMetrics | None = None,
) -> None:
    """Run one sequencer process's loop until ``stop`` is set (blocking; for a thread or a CLI).

    Serves its metrics on ``settings.sequencer_metrics_port`` when that is not 0."""
    metrics = metrics or SequencerMetrics()
    server = None
    if settings.sequencer_metrics_port:
        server, _ = start_http_server(settings.sequencer_metrics_port, registry=metrics.registry)
    try:
        service = Sequencer(settings, topics, metrics)
        try:
            service.run(stop)
        finally:
            service.close()
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
