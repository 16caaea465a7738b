"""Where a connector's events go: Kafka topics (``ingest``) or a JSONL directory (``record``).

Both take an already validated event plus the exact bytes that passed validation, and dead
letters as ``dead_letter`` records. A delivery that finally fails raises :class:`SinkError` on the
next call: the connector stops with it instead of dropping events quietly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Protocol

import orjson
from confluent_kafka import KafkaError, Message, Producer

from streams.events import INPUT_TYPES, DeadLetter, InputEvent, encode
from streams.kafka_produce import produce_blocking, warm_metadata
from streams.settings import Settings
from streams.topics import DEAD_LETTER

EVENTS_FILE = "events.jsonl"
DEAD_LETTER_FILE = "dead_letter.jsonl"


class SinkError(RuntimeError):
    """The sink could not deliver: the broker refused or timed out (after librdkafka's retries)."""


class EventSink(Protocol):
    def event(self, event: InputEvent, payload: bytes) -> None: ...

    def dead(self, letter: DeadLetter) -> None: ...

    def poll(self) -> None:
        """Serve delivery reports; raises SinkError if one failed."""
        ...

    def close(self, timeout_s: float = 30.0) -> None:
        """Deliver what is queued; raises SinkError if something stayed undelivered."""
        ...


def producer_config(settings: Settings) -> dict[str, str | int | float | bool]:
    """acks=all always; idempotence where the broker supports it (``ingest_idempotence``)."""
    return {
        **settings.kafka_client_config(),
        "acks": "all",
        "enable.idempotence": settings.ingest_idempotence,
        "linger.ms": settings.input_linger_ms,
    }


class KafkaSink:
    """Events to their type's input topic keyed by mint; dead letters to ``dead-letter``."""

    def __init__(self, settings: Settings, *, topic_prefix: str = "") -> None:
        self._topic_of_type = {t: topic_prefix + topic for t, (_, topic) in INPUT_TYPES.items()}
        self._dead_topic = topic_prefix + DEAD_LETTER
        self.producer = Producer(producer_config(settings))
        self.delivered = 0
        self._failures: list[str] = []
        self._check_topics()
        warm_metadata(self.producer, [*self._topic_of_type.values(), self._dead_topic])

    def _check_topics(self) -> None:
        meta = self.producer.list_topics(timeout=15)
        wanted = [*self._topic_of_type.values(), self._dead_topic]
        missing = [t for t in wanted if t not in meta.topics or meta.topics[t].error is not None]
        if missing:
            raise SinkError(f"topics missing on the broker: {missing} (alphastream topics create)")

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            self.delivered += 1
        else:
            self._failures.append(f"{msg.topic()}: {err.str()}")

    def _send(self, topic: str, value: bytes, key: bytes) -> None:
        self.poll()
        produce_blocking(
            self.producer, topic, value, key=key, timestamp=int(time.time() * 1000),
            on_delivery=self._on_delivery,
        )  # fmt: skip

    def event(self, event: InputEvent, payload: bytes) -> None:
        self._send(self._topic_of_type[event.type], payload, event.mint.encode())

    def dead(self, letter: DeadLetter) -> None:
        self._send(self._dead_topic, encode(letter), letter.mint.encode())

    def poll(self) -> None:
        self.producer.poll(0)
        if self._failures:
            failures, self._failures = self._failures, []
            raise SinkError(f"{len(failures)} deliveries failed, first: {failures[0]}")

    def close(self, timeout_s: float = 30.0) -> None:
        left = self.producer.flush(timeout_s)
        self.poll()
        if left:
            raise SinkError(f"{left} messages still undelivered after {timeout_s:.0f} s")


class JsonlSink:
    """``record``: events to ``DIR/events.jsonl``, dead letters to ``DIR/dead_letter.jsonl``.

    Events arrive in feed order; ``replay`` streams input in ``(ts, event_id)`` order, so lines go
    to ``events.jsonl.partial`` as they come (a killed recording keeps them) and :meth:`close`
    writes them sorted into ``events.jsonl``. Memory is one line per event (``record`` is
    bounded by ``--max-events`` / ``--max-seconds``)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.partial_path = out_dir / (EVENTS_FILE + ".partial")
        self._partial = self.partial_path.open("wb")
        self._dead = (out_dir / DEAD_LETTER_FILE).open("wb")
        self._keys: list[tuple[int, str, bytes]] = []
        self.delivered = 0

    def event(self, event: InputEvent, payload: bytes) -> None:
        self._partial.write(payload + b"\n")
        self._keys.append((event.ts, event.event_id, payload))
        self.delivered += 1

    def dead(self, letter: DeadLetter) -> None:
        self._dead.write(encode(letter) + b"\n")

    def poll(self) -> None:
        return None

    def close(self, timeout_s: float = 30.0) -> None:
        self._partial.close()
        self._dead.close()
        self._keys.sort(key=lambda k: (k[0], k[1]))
        with (self.out_dir / EVENTS_FILE).open("wb") as out:
            for _, _, payload in self._keys:
                out.write(payload + b"\n")
        self.partial_path.unlink()

    def meta(self, extra: dict[str, Any]) -> None:
        """Write ``record_meta.json`` beside the events (source, counts, times)."""
        body = {"events": self.delivered, **extra}
        (self.out_dir / "record_meta.json").write_bytes(
            orjson.dumps(body, option=orjson.OPT_INDENT_2)
        )
