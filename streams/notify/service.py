"""The notify consumer: ``scores`` and ``alerts`` from Kafka, rules, apprise out. A thin adapter.

Offsets are stored only after a message was handled (sent, or decided against), and committed
by the client in the background: a crash re-reads at most the last second of input, and the
per-mint cooldown keeps the repeats it could cause within bounds (at least once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import apprise
import orjson
from confluent_kafka import Consumer, KafkaError, Message
from prometheus_client import CollectorRegistry, Counter

from streams.notify.render import Renderer
from streams.notify.rules import (
    Decision,
    NotifyRules,
    RuleState,
    alert_key,
    decide_alert,
    decide_score,
    score_key,
)
from streams.settings import Settings

log = logging.getLogger(__name__)


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.decisions = Counter(
            "alphastream_notify_decisions",
            "Scores and alerts judged by the rules, by outcome (sent or the reason not)",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.send_failures = Counter(
            "alphastream_notify_send_failures",
            "Messages apprise could not deliver to every URL",
            registry=self.registry,
        )
        self.bad_input = Counter(
            "alphastream_notify_bad_input",
            "Input messages that are not a score or alert JSON object",
            ["topic"],
            registry=self.registry,
        )


@dataclass(frozen=True)
class NotifyTopics:
    scores: str = "scores"
    alerts: str = "alerts"


def build_apprise(rules: NotifyRules) -> apprise.Apprise:
    sender = apprise.Apprise()
    for url in rules.urls:
        if not sender.add(url.get_secret_value()):
            raise ValueError(
                "an apprise URL in the rule file is not recognised (see docs/notify.md)"
            )
    return sender


class Notifier:
    """Judge one decoded message and send it when the rules allow (no Kafka in here)."""

    def __init__(
        self,
        rules: NotifyRules,
        send: Callable[[str, str], bool],
        metrics: NotifyMetrics,
        topics: NotifyTopics,
    ) -> None:
        self.rules = rules
        self.state = RuleState.for_rules(rules)
        self.renderer = Renderer(rules)
        self.send = send
        self.metrics = metrics
        self.topics = topics
        self.sent = 0

    def handle(self, topic: str, value: bytes | None) -> Decision | None:
        try:
            item = orjson.loads(value or b"")
            if not isinstance(item, dict) or "ts" not in item:
                raise ValueError("not an object with a ts")
            is_alert = topic == self.topics.alerts
            decision = (decide_alert if is_alert else decide_score)(self.rules, self.state, item)
            if decision.send:
                if is_alert:
                    title, body = self.renderer.alert_text(item)
                else:
                    title, body = self.renderer.score_text(item, decision)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping a message on %s: %s", topic, exc)
            self.metrics.bad_input.labels(topic).inc()
            return None
        self.metrics.decisions.labels(topic, decision.reason).inc()
        if not decision.send:
            return decision
        # recorded before sending: a failing endpoint must not be retried per score
        self.state.record(alert_key(item) if is_alert else score_key(item), int(item["ts"]))
        if self.send(title, body):
            self.sent += 1
        else:
            self.metrics.send_failures.inc()
        return decision


def run_notify(
    settings: Settings,
    rules: NotifyRules,
    topics: NotifyTopics,
    *,
    group_id: str,
    from_beginning: bool,
    stop: Callable[[], bool],
    metrics: NotifyMetrics | None = None,
    sender: apprise.Apprise | None = None,
) -> Notifier:
    """Consume until ``stop()`` is true; returns the notifier (what it sent, its state)."""
    sender = sender or build_apprise(rules)

    def send(title: str, body: str) -> bool:
        return bool(sender.notify(body=body, title=title))

    notifier = Notifier(rules, send, metrics or NotifyMetrics(), topics)
    consumer = Consumer(
        {
            **settings.kafka_client_config(),
            "group.id": group_id,
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.offset.store": False,
        }
    )
    wanted: Sequence[str] = [topics.scores] + ([topics.alerts] if rules.alerts.enabled else [])
    consumer.subscribe(list(wanted))
    try:
        while not stop():
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                _log_error(msg)
                continue
            notifier.handle(str(msg.topic()), msg.value())
            consumer.store_offsets(message=msg)
    finally:
        consumer.close()
    return notifier


def _log_error(msg: Message) -> None:
    err: Any = msg.error()
    if err.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error: %s", err)
        time.sleep(0.1)  # a dead broker must not spin the loop
