"""The sequencer's decision per input record, with a fixed clock: a merge key, or a dead
letter in the worker's format (the decoder's reasons, plus ``future_ts``)."""

from __future__ import annotations

from typing import Any

import jsonschema
import orjson
import pytest

from streams.contracts.events import DeadLetter
from streams.devtools.harness import bad_messages, sim_events
from streams.events.decode import encode, load_schema
from streams.sequencer.admit import FUTURE_TS, InputRecord, admit
from streams.topics import TopicNames

NOW_MS = 1_767_300_000_000
SKEW_MS = 60_000
EVENTS = sim_events(seed=11, hours=0.1, launch_rate_per_day=1200)
TOPICS = TopicNames.prefixed("t.")


def _record(topic: str, value: bytes, key: bytes | None = b"mint", offset: int = 7) -> InputRecord:
    return InputRecord(topic, TOPICS.canonical(topic), 2, offset, key, value)


def _decide(record: InputRecord, now_ms: int = NOW_MS) -> Any:
    return admit(record, now_ms, max_bytes=64 * 1024, max_future_skew_ms=SKEW_MS)


def _topic_of(event: dict[str, Any]) -> str:
    return {"token_genesis": TOPICS.genesis, "wallet_buy": TOPICS.buys,
            "wallet_sell": TOPICS.sells}[event["type"]]  # fmt: skip


def test_a_good_event_gets_its_ts_and_event_id_as_key() -> None:
    for event in EVENTS[:50]:
        decided = _decide(_record(_topic_of(event), orjson.dumps(event)))
        assert decided == (event["ts"], event["event_id"])


@pytest.mark.parametrize("case", bad_messages(TOPICS, EVENTS), ids=lambda c: c[3])
def test_bad_input_becomes_the_workers_dead_letter(
    case: tuple[str, bytes, bytes | None, str],
) -> None:
    topic, payload, key, reason = case
    letter = _decide(_record(topic, payload, key))
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.source_topic, letter.source_partition, letter.source_offset) == (
        reason, topic, 2, 7,
    )  # fmt: skip
    assert letter.event_id == f"dl:{topic}:2:7" and letter.ts == NOW_MS
    jsonschema.validate(orjson.loads(encode(letter)), load_schema("dead-letter"))


def test_an_event_too_far_in_the_future_is_dead_lettered_once_decided() -> None:
    buy = next(e for e in EVENTS if e["type"] == "wallet_buy")
    at_limit = {**buy, "ts": NOW_MS + SKEW_MS}
    beyond = {**buy, "ts": NOW_MS + SKEW_MS + 1}
    assert _decide(_record(TOPICS.buys, orjson.dumps(at_limit))) == (
        NOW_MS + SKEW_MS,
        buy["event_id"],
    )
    letter = _decide(_record(TOPICS.buys, orjson.dumps(beyond)))
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.field) == (FUTURE_TS, "ts")
    jsonschema.validate(orjson.loads(encode(letter)), load_schema("dead-letter"))
    # the same record, judged by a later clock, passes: the decision depends on `now` only
    assert _decide(_record(TOPICS.buys, orjson.dumps(beyond)), now_ms=NOW_MS + 1) == (
        beyond["ts"], buy["event_id"],
    )  # fmt: skip


def test_past_timestamps_and_duplicate_ids_pass() -> None:
    buy = next(e for e in EVENTS if e["type"] == "wallet_buy")
    old = {**buy, "ts": 0}
    assert _decide(_record(TOPICS.buys, orjson.dumps(old))) == (0, buy["event_id"])
    twice = [_decide(_record(TOPICS.buys, orjson.dumps(buy), offset=o)) for o in (1, 2)]
    assert twice[0] == twice[1] == (buy["ts"], buy["event_id"])
