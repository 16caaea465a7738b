"""StreamCore without Kafka: arbitrary arrival order across partitions, split ownership between
two workers, outputs exactly once and features equal to an in-order engine run."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.app.core import Inbound, Outbox, StreamCore, TopicNames
from streams.app.metrics import WorkerMetrics
from streams.app.outputs import features_for_json
from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES
from streams.devtools.harness import sim_events
from streams.events import InputEvent, decode_input
from streams.events.decode import validate_output
from streams.features.engine import FeatureEngine
from streams.scoring import ModelRegistry, Scorer
from streams.testing import run_events

TOPICS = TopicNames()
TOPIC_OF = {"token_genesis": TOPICS.genesis, "wallet_buy": TOPICS.buys, "wallet_sell": TOPICS.sells}
TOPIC_OF["token_migrated"] = TOPICS.migrations
PARTITIONS = 3


def _core(tmp: Path) -> StreamCore:
    registry = ModelRegistry(tmp, {"standard": STANDARD_NAMES, "genesis": GENESIS_NAMES}, 300.0)
    return StreamCore(
        FeatureEngine, Scorer(registry), "fs-test", WorkerMetrics(), TOPICS, idle_s=0.5
    )


@pytest.fixture(scope="module")
def market() -> list[InputEvent]:
    return [
        decode_input(orjson.dumps(e))
        for e in sim_events(seed=5, hours=0.5, launch_rate_per_day=1500)
    ]


def _by_source(events: list[InputEvent]) -> dict[tuple[str, int], list[InputEvent]]:
    out: dict[tuple[str, int], list[InputEvent]] = {}
    for e in events:
        tp = (TOPIC_OF[e.type], zlib.crc32(e.mint.encode()) % PARTITIONS)
        out.setdefault(tp, []).append(e)
    return out


def test_split_ownership_scores_each_buy_once_with_replay_features(
    market: list[InputEvent], tmp_path: Path
) -> None:
    sources = _by_source(market)
    owners = {"a": {0}, "b": {1, 2}}
    cores = {name: _core(tmp_path) for name in owners}
    acked: Counter[tuple[tuple[str, int], int]] = Counter()
    for name, parts in owners.items():
        tps = {tp: (0, len(evs)) for tp, evs in sources.items()}
        assigned = [tp for tp in sources if tp[1] in parts]
        cores[name].rebuild(tps, assigned, dict.fromkeys(assigned, 0), now=0.0)
    rng = random.Random(7)
    cursor = dict.fromkeys(sources, 0)
    boxes: dict[str, list[Outbox]] = {name: [] for name in owners}
    now = 10.0  # every source is past its registration grace: only backlogs hold the watermark
    while any(cursor[tp] < len(evs) for tp, evs in sources.items()):
        tp = rng.choice([tp for tp, evs in sources.items() if cursor[tp] < len(evs)])
        offset = cursor[tp]
        cursor[tp] += 1
        event = sources[tp][offset]
        for name, core in cores.items():
            key = (tp, offset)
            ack = (lambda k=key: acked.update([k])) if tp[1] in owners[name] else None
            item = Inbound(
                tp, offset, event, event.mint.encode(), b"{}", None, [ack] if ack else []
            )
            for fn in core.accept(item, now):
                fn()
            boxes[name].append(core.step(now))
    for name, core in cores.items():
        boxes[name].append(core.step(now + 100.0))

    records = [r for name in owners for box in boxes[name] for r in box.records]
    for box in (b for name in owners for b in boxes[name]):
        for fn in box.acks:
            fn()
    scores = [orjson.loads(v) for t, _, v in records if t == TOPICS.scores]
    signals = {
        orjson.loads(v)["source_event_id"]: orjson.loads(v)
        for t, _, v in records
        if t == TOPICS.signals
    }
    buy_ids = [e.event_id for e in market if e.type == "wallet_buy"]
    assert sorted(s["source_event_id"] for s in scores if s["kind"] == "buy") == sorted(buy_ids)

    expected = {
        row.event_id: features_for_json(row.features)
        for row in run_events(market, flush=False).signals
    }
    for event_id, signal in signals.items():
        assert signal["features"] == expected[event_id], event_id
    genesis_scored = [s for s in scores if s["kind"] == "genesis"]
    assert genesis_scored and len({s["source_event_id"] for s in genesis_scored}) == len(
        genesis_scored
    )
    validate_output(scores[0], "score")
    validate_output(next(iter(signals.values())), "signal")
    assert all(n == 1 for n in acked.values())  # each owned message acked at most once
    non_genesis = {
        (tp, o) for tp, evs in sources.items() if tp[0] != TOPICS.genesis for o in range(len(evs))
    }
    assert non_genesis <= set(acked)


def test_duplicate_delivery_is_acked_with_the_original(
    market: list[InputEvent], tmp_path: Path
) -> None:
    core = _core(tmp_path)
    tp = (TOPICS.buys, 0)
    buys = [e for e in market if e.type == "wallet_buy"][:3]
    core.rebuild({tp: (0, 3)}, [tp], {tp: 0}, now=0.0)
    calls: list[str] = []
    first = Inbound(tp, 0, buys[0], None, b"{}", None, [lambda: calls.append("first")])
    again = Inbound(tp, 0, buys[0], None, b"{}", None, [lambda: calls.append("again")])
    assert core.accept(first, 0.0) == []
    assert core.accept(again, 0.0) == []  # held until the original is processed
    box = core.step(100.0)
    for fn in box.acks:
        fn()
    assert sorted(calls) == ["again", "first"]
    late_dup = Inbound(tp, 0, buys[0], None, b"{}", None, [lambda: calls.append("late")])
    for fn in core.accept(late_dup, 100.0):  # already processed: ack right away
        fn()
    assert calls.count("late") == 1 and box.scored == 1


def test_consumer_lag_is_highwater_minus_what_went_through_the_engine(
    market: list[InputEvent], tmp_path: Path
) -> None:
    sources = _by_source(market)
    core = _core(tmp_path)
    owned = [tp for tp in sources if tp[1] == 0]
    core.rebuild({tp: (0, len(evs)) for tp, evs in sources.items()}, owned,
                 dict.fromkeys(owned, 0), now=0.0)  # fmt: skip
    tp = next(t for t in owned if t[0] == TOPICS.buys)
    total = len(sources[tp])
    for other in sources:
        core.note_highwater(other, len(sources[other]))
    assert dict(((t, p), lag) for t, p, lag in core.consumer_lags()) == {
        o: len(sources[o]) for o in owned
    }  # nothing processed: everything is lag; partitions not owned have none
    held_back = 5  # the last events of one owned partition arrive later
    items = [
        (ev.ts, Inbound(t, off, ev, ev.mint.encode(), b"{}", None, []))
        for t, evs in sources.items()
        for off, ev in enumerate(evs)
    ]
    items.sort(key=lambda x: x[0])
    late = [it for _, it in items if it.tp == tp and it.offset >= total - held_back]
    for _, item in items:
        if item not in late:
            core.accept(item, 10.0)
    core.step(110.0)  # past the idle grace: only a backlog holds the watermark
    lag = {(t, p): v for t, p, v in core.consumer_lags()}[tp]
    assert core.released_next(tp) > 0 and lag == total - core.released_next(tp) >= held_back
    for item in late:
        core.accept(item, 10.0)
    core.step(110.0)
    assert all(v == 0 for _, _, v in core.consumer_lags())
