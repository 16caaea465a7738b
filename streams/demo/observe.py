"""Watch the ``scores`` topic from the beginning (no consumer group) while the demo runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import orjson
from confluent_kafka import Consumer, TopicPartition

from streams.settings import Settings

HEADLINE_TARGET = "reach_2x_1h"


@dataclass(frozen=True, slots=True)
class SeenScore:
    source_event_id: str
    kind: str
    scored_at_ms: int
    model: str  # model_id@version that scored the headline target; "" = none
    by_model: bool  # some deployed model scored this event (else the rule score only)


class ScoreWatcher:
    """A background consumer of the scores topic: unique scores by kind, duplicates, arrival."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self._consumer = Consumer(
            {
                **settings.kafka_client_config(),
                "group.id": f"{settings.app_id}-demo-watch",
                "enable.auto.commit": False,
                "log.connection.close": False,
            }
        )
        self._lock = threading.Lock()
        self._seen: dict[str, SeenScore] = {}
        self.duplicates = 0
        self.counts = {"buy": 0, "genesis": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-score-watch", daemon=True)
        self.error: str | None = None

    def start(self) -> ScoreWatcher:
        meta = self._consumer.list_topics(self.topic, timeout=10)
        partitions = sorted(meta.topics[self.topic].partitions)
        self._consumer.assign([TopicPartition(self.topic, p, 0) for p in partitions])
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for msg in self._consumer.consume(2000, 0.2):
                    if msg.error() is None:
                        self._add(orjson.loads(msg.value() or b"{}"))
        except Exception as exc:  # reported by the demo as a failed phase
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._consumer.close()

    def _add(self, record: dict[str, object]) -> None:
        source = str(record.get("source_event_id", ""))
        kind = str(record.get("kind", ""))
        models = record.get("models") or {}
        model = str(models.get(HEADLINE_TARGET, "")) if isinstance(models, dict) else ""
        scored_at = record.get("scored_at")
        at = int(scored_at) if isinstance(scored_at, int) else 0
        seen = SeenScore(source, kind, at, model, bool(models))
        with self._lock:
            if source in self._seen:
                self.duplicates += 1
                return
            self._seen[source] = seen
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def snapshot(self) -> list[SeenScore]:
        with self._lock:
            return list(self._seen.values())

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
