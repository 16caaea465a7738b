"""The faults, one small function each: strike, record when, undo (restart, resume)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import orjson

from streams.devtools.faults.disk import disk_full, setup_disk
from streams.devtools.faults.models import corrupt_models, setup_models
from streams.devtools.faults.scenario import Fault, Scenario, Setup, _gauge
from streams.devtools.faults.slow_consumer import start_slow_consumer
from streams.devtools.faults.store import clickhouse_down, setup_clickhouse
from streams.devtools.harness import new_producer
from streams.kafka_produce import produce_blocking


def kill_worker(sc: Scenario, index: int) -> None:
    """kill -9 one worker mid-burst, then start a replacement (the restart)."""
    victim = sc.procs[index]
    sc.fault_start_s = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(30)
    sc.launch()
    sc.fault_end_s = time.time()


def kill_sequencer(sc: Scenario) -> None:
    """kill -9 the leading sequencer mid-burst; the standby takes the lease over and recovers
    its position from the market log; a new standby is started (the restart)."""
    leader = sc.sequencers[0]
    sc.fault_start_s = time.time()
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait(30)
    standby_port = sc.sequencer_ports[1]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _gauge(standby_port, "alphastream_sequencer_leader") != 1:
        time.sleep(0.1)
    sc.notes["standby_led_after_s"] = round(time.time() - sc.fault_start_s, 2)
    sc.launch_sequencer()
    sc.fault_end_s = time.time()


def kill_one_of_two(sc: Scenario) -> None:
    kill_worker(sc, 1)


def kill_the_only_worker(sc: Scenario) -> None:
    kill_worker(sc, 0)


def pause_broker(sc: Scenario) -> None:
    """The broker unreachable: SIGSTOP its process group for ``broker_pause_s``, then SIGCONT."""
    pid = sc.broker.pid
    if pid is None:
        raise RuntimeError("the broker is not running")
    sc.fault_start_s = time.time()
    os.killpg(pid, signal.SIGSTOP)
    try:
        time.sleep(sc.durations.broker_pause_s)  # the fault itself lasts this long
    finally:
        os.killpg(pid, signal.SIGCONT)
    sc.fault_end_s = time.time()


def restart_broker(sc: Scenario) -> None:
    """Stop Apache Kafka (SIGTERM, controlled shutdown) under load and start it on its data dir."""
    sc.fault_start_s = time.time()
    sc.broker.stop()
    sc.broker.start()
    sc.broker.wait_ready()
    sc.fault_end_s = time.time()


# ---- poison flood ----------------------------------------------------------------------------

# kind -> the dead-letter reason it must get; None: not a decode failure (see poison_flood)
POISON_REASONS: dict[str, str | None] = {
    "bad_json": "bad_json",
    "wrong_type": "wrong_type",
    "oversized": "too_large",
    "unknown_version": "bad_value",
    "future_ts": "future_ts",  # well-formed, ts 10 minutes ahead of the wall clock
    "duplicate_event_id": None,  # a good buy sent a second time: must not be scored twice
}
FUTURE_SKEW_MS = 10 * 60 * 1000


def poison_payload(kind: str, template: dict[str, Any], i: int) -> bytes:
    """One malformed (or replayed) message of ``kind`` built from a good buy."""
    marked = {**template, "event_id": f"poison-{kind}-{i}"}
    if kind == "bad_json":
        return b'{"event_id": "poison-bad-json-' + str(i).encode() + b'", '
    if kind == "wrong_type":
        return orjson.dumps({**marked, "sol_amount": "lots"})
    if kind == "oversized":
        return orjson.dumps({**marked, "pad": "x" * (66 * 1024)})
    if kind == "unknown_version":
        return orjson.dumps({**marked, "schema_version": 99})
    if kind == "future_ts":  # a producer whose clock runs 10 minutes fast
        return orjson.dumps({**marked, "ts": int(time.time() * 1000) + FUTURE_SKEW_MS})
    if kind == "past_ts":  # a producer whose clock runs 10 minutes slow: a late, real buy
        return orjson.dumps({**marked, "ts": int(template["ts"]) - FUTURE_SKEW_MS})
    if kind == "duplicate_event_id":
        return orjson.dumps(template)
    raise ValueError(f"unknown poison kind {kind!r}")


MALFORMED = [kind for kind, reason in POISON_REASONS.items() if reason is not None]
REPLAYED = [kind for kind, reason in POISON_REASONS.items() if reason is None]
SKEWED = ["future_ts", "past_ts"]


def poison_flood(sc: Scenario) -> None:
    """Messages that cannot decode: each must be dead-lettered with its reason."""
    flood(sc, MALFORMED, sc.durations.poison_messages)


def replayed_flood(sc: Scenario) -> None:
    """Well-formed events that must not count twice: good buys sent a second time."""
    flood(sc, REPLAYED, max(2, sc.durations.poison_messages // 5))


def clock_skew(sc: Scenario) -> None:
    """Buys from producers whose clocks are 10 minutes fast (dead-lettered: future_ts) or slow
    (accepted: late in the log, scored once each)."""
    flood(sc, SKEWED, max(2, sc.durations.poison_messages // 5))


def flood(sc: Scenario, kinds: list[str], n: int) -> None:
    """``n`` messages of ``kinds`` interleaved with the market over a third of the feed, on the
    buys topic keyed like the buy they imitate (so they land among its partition)."""
    by_id = {e["event_id"]: e for e in sc.events if e["type"] == "wallet_buy"}
    producer = new_producer(sc.settings)
    window_s = sc.durations.feed_s / 3
    sc.fault_start_s = time.time()
    for i in range(n):
        ahead = sc.fault_start_s + i * window_s / n - time.time()
        if ahead > 0:
            producer.poll(0)
            time.sleep(ahead)
        template = _recent_buy(sc, by_id)
        kind = kinds[i % len(kinds)]
        produce_blocking(
            producer,
            sc.topics.buys,
            poison_payload(kind, template, i),
            key=str(template["mint"]).encode(),
            timestamp=int(time.time() * 1000),
        )
    producer.flush(60)
    sc.fault_end_s = time.time()
    sc.offered_extra = n
    counts = {k: len(range(j, n, len(kinds))) for j, k in enumerate(kinds)}
    sc.notes["poison_sent"] = counts
    for kind in kinds:
        reason = POISON_REASONS.get(kind)
        if reason is not None:
            sc.expected_dead[reason] = sc.expected_dead.get(reason, 0) + counts[kind]


def _recent_buy(sc: Scenario, by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A good buy already sent (the latest one the feeder noted)."""
    for event_id in reversed(list(sc.sent_s)[-200:]):
        if event_id in by_id:
            return by_id[event_id]
    return next(iter(by_id.values()))


# name -> (fault, workers in the group)
# name -> (fault, workers, sequencers: the first leads, the others stand by)
ROWS: dict[str, tuple[Fault, int, int]] = {
    "worker_sigkill_one_of_two": (kill_one_of_two, 2, 1),
    "worker_sigkill_only_worker": (kill_the_only_worker, 1, 1),
    "sequencer_sigkill": (kill_sequencer, 2, 2),
    "poison_flood": (poison_flood, 2, 1),
    "duplicate_event_ids": (replayed_flood, 2, 1),
    "clock_skew": (clock_skew, 2, 1),
    "broker_unreachable": (pause_broker, 2, 1),
    "broker_restart": (restart_broker, 2, 1),
    "clickhouse_down": (clickhouse_down, 2, 1),
    "model_pair_corrupted_on_reload": (corrupt_models, 2, 1),
    "slow_scores_consumer": (start_slow_consumer, 2, 1),
    "disk_full_state_dir": (disk_full, 1, 1),  # one worker: a state_dir is one worker's
}

# name -> what runs before its workers start (rows not named here need nothing)
SETUPS: dict[str, Setup] = {
    "clickhouse_down": setup_clickhouse,
    "model_pair_corrupted_on_reload": setup_models,
    "disk_full_state_dir": setup_disk,
}

UNTESTED: dict[str, str] = {
    "clickhouse_server_down": "the clickhouse_down row stops a chdb-backed ClickHouse HTTP "
    "endpoint (streams/devtools/local/clickhouse_http.py): no ClickHouse server runs here",
}
