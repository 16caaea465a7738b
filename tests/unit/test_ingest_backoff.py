"""The connector's pure parts: the reconnect schedule, the recent-id filter, the silence watch."""

from __future__ import annotations

import pytest

from streams.ingest.backoff import Backoff, BackoffPolicy, RecentIds, SilenceWatch


def test_ceiling_doubles_then_stays_at_the_cap() -> None:
    policy = BackoffPolicy(base_s=0.5, cap_s=8.0)
    assert [policy.ceiling(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert policy.ceiling(10_000) == 8.0  # no float overflow far into a long outage


@pytest.mark.parametrize("seed", range(20))
def test_every_delay_is_within_zero_and_its_ceiling(seed: int) -> None:
    policy = BackoffPolicy(base_s=0.25, cap_s=5.0)
    backoff = Backoff(policy, seed=seed)
    for attempt in range(30):
        delay = backoff.next_delay()
        assert 0.0 <= delay <= policy.ceiling(attempt)


def test_full_jitter_spreads_over_the_whole_range() -> None:
    policy = BackoffPolicy(base_s=1.0, cap_s=1.0)  # every draw from [0, 1]
    backoff = Backoff(policy, seed=3)
    draws = [backoff.next_delay() for _ in range(2000)]
    assert min(draws) < 0.05 and max(draws) > 0.95
    assert 0.45 < sum(draws) / len(draws) < 0.55


def test_same_seed_same_schedule_other_seed_other_schedule() -> None:
    policy = BackoffPolicy()
    a, b, c = Backoff(policy, seed=42), Backoff(policy, seed=42), Backoff(policy, seed=43)
    run_a = [a.next_delay() for _ in range(10)]
    assert run_a == [b.next_delay() for _ in range(10)]
    assert run_a != [c.next_delay() for _ in range(10)]


def test_a_stable_connection_resets_the_schedule_a_short_one_does_not() -> None:
    policy = BackoffPolicy(base_s=1.0, cap_s=60.0, stable_s=10.0)
    backoff = Backoff(policy, seed=1)
    for _ in range(4):
        backoff.next_delay()
    backoff.connection_ended(lived_s=9.9)
    assert backoff.attempt == 4
    assert backoff.next_delay() <= policy.ceiling(4)
    backoff.connection_ended(lived_s=10.0)
    assert backoff.attempt == 0
    assert backoff.next_delay() <= policy.ceiling(0) == 1.0


@pytest.mark.parametrize(
    "kwargs", [{"base_s": 0.0}, {"base_s": 2.0, "cap_s": 1.0}, {"stable_s": -1.0}]
)
def test_a_policy_that_makes_no_sense_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BackoffPolicy(**kwargs)


def test_recent_ids_forget_the_oldest_beyond_capacity() -> None:
    recent = RecentIds(3)
    for event_id in ("a", "b", "c", "d", "e"):
        recent.add(event_id)
    assert len(recent) == 3
    assert "a" not in recent and "b" not in recent
    assert all(e in recent for e in ("c", "d", "e"))


def test_seeing_an_id_again_keeps_it_longest() -> None:
    recent = RecentIds(2)
    recent.add("a")
    recent.add("b")
    recent.add("a")  # a is now the newest
    recent.add("c")
    assert "a" in recent and "c" in recent and "b" not in recent


def test_recent_ids_stay_bounded_over_a_long_stream() -> None:
    recent = RecentIds(1000)
    for i in range(50_000):
        recent.add(f"id-{i}")
    assert len(recent) == 1000
    assert "id-48999" not in recent and "id-49000" in recent


def test_silence_watch_counts_from_the_last_frame() -> None:
    watch = SilenceWatch(silence_s=30.0, now=100.0)
    assert watch.remaining(110.0) == 20.0
    watch.frame(125.0)
    assert watch.remaining(150.0) == 5.0
    assert watch.remaining(155.0) <= 0
    with pytest.raises(ValueError):
        SilenceWatch(0.0, now=0.0)
