"""The sequencer's k-way merge: examples of each release rule, then properties over random
inputs (any keys, any interleaving of the sources, any timing)."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.sequencer.merge import Key, Merge


@dataclass(frozen=True)
class Rec:
    source: str
    offset: int
    key: Key | None
    arrival_s: float = 0.0


def _merge(hold_s: float = 0.002, max_wait_s: float = 0.5) -> Merge[Rec]:
    return Merge(hold_s=hold_s, max_wait_s=max_wait_s)


def _add(m: Merge[Rec], source: str, offset: int, ts: int | None, at: float) -> Rec:
    key = None if ts is None else (ts, f"{source}-{offset}")
    rec = Rec(source, offset, key, at)
    m.add(source, offset, key, at, rec)
    return rec


def test_an_event_waits_its_hold_then_goes_when_the_others_are_caught_up() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=0)
    m.add_source("b", 0, highwater=0)
    rec = _add(m, "a", 0, 10, at=1.0)
    assert m.release(1.001) == []
    assert m.wake_at() == 1.0 + m.hold_s
    assert m.release(1.002) == [rec]
    assert m.positions() == {"a": 1, "b": 0}


def test_a_source_with_a_backlog_and_nothing_buffered_holds_until_max_wait() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=1)
    m.add_source("b", 0, highwater=5)  # b has records in the broker not fetched yet
    rec = _add(m, "a", 0, 10, at=1.0)
    assert m.release(1.4) == []
    assert m.wake_at() == 1.5
    assert m.release(1.5) == [rec]
    assert (m.stats.forced, m.stats.late) == (1, 0)


def test_a_source_without_a_highwater_mark_holds_too() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=1)
    m.add_source("b", 0)
    rec = _add(m, "a", 0, 10, at=0.0)
    assert m.release(0.1) == []
    m.note_highwater("b", 0)
    assert m.release(0.1) == [rec]


def test_the_smallest_head_goes_first_once_every_source_has_one() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=1)
    m.add_source("b", 0, highwater=2)
    later_a = _add(m, "a", 0, 20, at=0.0)
    early_b = _add(m, "b", 0, 10, at=0.0)
    assert m.release(0.01) == [early_b]  # b now blocks (empty, one more in the broker): a waits
    _add(m, "b", 1, 30, at=0.01)
    assert m.release(0.011) == [later_a]  # b's next is later than a's: a goes, b's waits its hold


def test_a_late_event_goes_at_once_and_is_counted() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=0)
    m.add_source("b", 0, highwater=0)
    first = _add(m, "a", 0, 50, at=0.0)
    assert m.release(0.01) == [first]
    late = _add(m, "b", 0, 40, at=0.02)
    assert m.release(0.02) == [late]  # no hold: its place in the order has passed
    assert m.stats.late == 1


def test_per_source_fifo_wins_over_the_key() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=2)
    big = _add(m, "a", 0, 90, at=0.0)
    small = _add(m, "a", 1, 10, at=0.0)
    assert m.release(0.01) == [big, small]
    assert m.stats.late == 1


def test_a_keyless_record_follows_its_source_predecessor() -> None:
    m = _merge()
    m.add_source("a", 0, highwater=3)
    m.add_source("b", 0, highwater=0)
    skip_first = _add(m, "a", 0, None, at=0.0)
    event = _add(m, "a", 1, 10, at=0.0)
    skip_after = _add(m, "a", 2, None, at=0.0)
    assert m.wake_at() == float("-inf")
    assert m.release(0.0) == [skip_first]  # event still waits out its hold
    assert m.release(0.01) == [event, skip_after]
    assert m.positions()["a"] == 3
    assert (m.stats.keyless, m.stats.late, m.stats.forced) == (2, 0, 0)


def test_offsets_of_a_source_must_grow() -> None:
    m = _merge()
    m.add_source("a", 5)
    try:
        m.add("a", 4, (1, "x"), 0.0, Rec("a", 4, (1, "x")))
    except ValueError:
        return
    raise AssertionError("an offset behind the source's position was accepted")


# --- properties -------------------------------------------------------------------------

HOLD_S, MAX_WAIT_S = 0.002, 0.05


@st.composite
def scenarios(
    draw: st.DrawFn, in_order: bool = False
) -> tuple[list[list[int | None]], list[int], list[float], bool]:
    """Per source its records' ts (None: keyless), a delivery interleaving, time steps, and
    whether the high-water marks are known up front (a backlog) or only as records arrive."""
    n = draw(st.integers(1, 4))
    sources: list[list[int | None]] = []
    for _ in range(n):
        ts = draw(st.lists(st.integers(0, 40), max_size=10))
        if in_order:
            ts.sort()
        nulls = draw(st.lists(st.booleans(), min_size=len(ts), max_size=len(ts)))
        sources.append(
            [None if (null and not in_order) else t for t, null in zip(ts, nulls, strict=True)]
        )
    order = draw(st.permutations([s for s, recs in enumerate(sources) for _ in recs]))
    steps = draw(st.lists(st.sampled_from([0.0, 0.001, 0.003, 0.02, 0.06]), min_size=len(order),
                          max_size=len(order)))  # fmt: skip
    return sources, list(order), steps, draw(st.booleans())


@dataclass
class Run:
    records: list[Rec]
    out: list[Rec]
    merge: Merge[Rec]


def _drive(
    sources: list[list[int | None]],
    order: list[int],
    steps: list[float],
    marks_up_front: bool,
    max_wait_s: float = MAX_WAIT_S,
    check: bool = True,
    lazy_marks: bool = False,
) -> Run:
    """Deliver records in ``order``; release after each; check the per-call invariants.
    ``lazy_marks``: hand the merge the marks only once the oldest buffered record's hold is
    over (the sequencer's loop), instead of with every record."""
    m: Merge[Rec] = Merge(hold_s=HOLD_S, max_wait_s=max_wait_s)
    for s, recs in enumerate(sources):
        m.add_source(f"s{s}", 0, highwater=len(recs) if marks_up_front else None)
    now, sent, records, out = 0.0, [0] * len(sources), [], []
    buffered: dict[Rec, None] = {}
    for s, step in zip(order, steps, strict=True):
        now += step
        name, offset = f"s{s}", sent[s]
        sent[s] += 1
        records.append(_add(m, name, offset, sources[s][offset], now))
        buffered[records[-1]] = None
        hold_end = m.first_hold_end()
        if not marks_up_front and not lazy_marks:
            m.note_highwater(name, sent[s])  # the mark a fetch response would carry
        elif not marks_up_front and hold_end is not None and now >= hold_end:
            for other, mark in enumerate(sent):
                if mark:  # the eager drive learns a source's mark with its first record
                    m.note_highwater(f"s{other}", mark)
        before = (m.stats.late, m.stats.forced)
        got = m.release(now)
        out += got
        for rec in got:
            del buffered[rec]
        if check:
            _check_call(got, buffered, now, before == (m.stats.late, m.stats.forced), max_wait_s)
    for s, recs in enumerate(sources):
        m.note_highwater(f"s{s}", len(recs))
    out += m.release(now + 1.0)
    return Run(records, out, m)


def _check_call(
    got: list[Rec], buffered: dict[Rec, None], now: float, plain: bool, max_wait_s: float
) -> None:
    # bounded wait: nothing keyed left in the buffer has waited max_wait
    assert all(now < r.arrival_s + max_wait_s for r in buffered if r.key is not None)
    if plain:  # no late or forced release in this call: every keyed record waited its hold
        assert all(now >= r.arrival_s + HOLD_S for r in got if r.key is not None)


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_every_record_comes_out_once_in_its_source_order(
    case: tuple[list[list[int | None]], list[int], list[float], bool],
) -> None:
    run = _drive(*case)
    assert sorted(run.out, key=id) == sorted(run.records, key=id)  # a permutation of the input
    assert len(run.out) == len(set(run.out)) == len(run.records)
    for name in {r.source for r in run.records}:
        offsets = [r.offset for r in run.out if r.source == name]
        assert offsets == sorted(offsets)
    assert run.merge.positions() == {f"s{s}": len(recs) for s, recs in enumerate(case[0])}
    assert len(run.merge) == 0


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_counters_match_the_output(
    case: tuple[list[list[int | None]], list[int], list[float], bool],
) -> None:
    run = _drive(*case)
    stats = run.merge.stats
    assert stats.added == stats.released == len(run.records)
    assert stats.keyless == sum(r.key is None for r in run.records)
    top: Key | None = None
    late = 0
    for rec in run.out:
        if rec.key is None:
            continue
        if top is not None and rec.key < top:
            late += 1
        top = rec.key if top is None or rec.key > top else top
    assert stats.late == late
    if stats.forced == 0 and stats.late == 0:
        keys = [r.key for r in run.out if r.key is not None]
        assert keys == sorted(keys)


@settings(max_examples=300, deadline=None)
@given(scenarios(in_order=True))
def test_a_backlog_of_in_order_sources_comes_out_sorted(
    case: tuple[list[list[int | None]], list[int], list[float], bool],
) -> None:
    sources, order, steps, _ = case
    run = _drive(sources, order, steps, marks_up_front=True, max_wait_s=1e9, check=False)
    keys = [r.key for r in run.out]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert (run.merge.stats.late, run.merge.stats.forced) == (0, 0)
    assert len(run.out) == len(run.records)


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.lists(st.integers(0, 60), min_size=1, max_size=4))
def test_waking_at_wake_at_makes_progress_and_waking_earlier_does_not(
    case: tuple[list[list[int | None]], list[int], list[float], bool], more: list[int]
) -> None:
    sources, order, steps, up_front = case
    run = _drive(sources, order, steps, up_front)
    m = run.merge
    assert m.wake_at() is None  # everything was released at the end
    t = 100.0
    for i, ts in enumerate(more):
        s = i % len(sources)
        _add(m, f"s{s}", m.next_offset(f"s{s}"), ts, at=t)
        t += 0.001
        wake = m.wake_at()
        assert wake is not None
        if wake > t:
            assert m.release(wake - 1e-9) == []
        assert m.release(max(wake, t))


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_marks_read_only_after_the_hold_change_nothing(
    case: tuple[list[list[int | None]], list[int], list[float], bool],
) -> None:
    """Before the oldest buffered record's hold is over only the late and forced rules
    release, and they read no marks: the sequencer refreshes them only from then on, and the
    output must be the same."""
    eager, lazy = _drive(*case), _drive(*case, lazy_marks=True)
    assert [(r.source, r.offset) for r in lazy.out] == [(r.source, r.offset) for r in eager.out]
    assert lazy.merge.stats == eager.merge.stats


def test_the_first_hold_to_end_is_the_oldest_buffered_records() -> None:
    m = _merge(hold_s=0.002)
    m.add_source("a", 0, highwater=0)
    m.add_source("b", 0, highwater=0)
    assert m.first_hold_end() is None
    _add(m, "a", 0, 20, at=1.000)
    _add(m, "b", 0, 10, at=1.001)  # the head (the smaller key), though it came later
    assert m.first_hold_end() == 1.000 + 0.002
    assert m.release(1.0025) == []  # the head (b) has not waited its hold: nothing goes
    assert [r.offset for r in m.release(1.0031)] == [0, 0]  # b's hold over: b, then a
    assert m.first_hold_end() is None


def test_the_pure_modules_load_no_kafka_client() -> None:
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys, streams.sequencer.merge, streams.sequencer.admit, "
        "streams.sequencer.recovery, streams.sequencer.records; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('confluent_kafka', 'faust')))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "[]"
