"""The event-time re-sequencer: canonical order behind a watermark, idle sources, bounds."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.app.ordering import Key, Resequencer


def _sorted_sources(draw: st.DrawFn) -> dict[int, list[Key]]:
    n_sources = draw(st.integers(1, 5))
    keys = draw(
        st.lists(
            st.tuples(st.integers(0, 50), st.text("abc", min_size=1, max_size=3)),
            min_size=1,
            max_size=60,
            unique=True,
        )
    )
    out: dict[int, list[Key]] = {s: [] for s in range(n_sources)}
    for key in keys:
        out[draw(st.integers(0, n_sources - 1))].append(key)
    return {s: sorted(v) for s, v in out.items()}


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[dict[int, list[Key]], list[int]]:
    sources = _sorted_sources(draw)
    # an arbitrary interleaving that keeps each source's own order
    remaining = {s: len(v) for s, v in sources.items()}
    order: list[int] = []
    while any(remaining.values()):
        live = [s for s, n in remaining.items() if n]
        pick = draw(st.sampled_from(live))
        order.append(pick)
        remaining[pick] -= 1
    return sources, order


@given(interleavings())
@settings(max_examples=200, deadline=None)
def test_backlogged_sources_release_in_canonical_order(
    case: tuple[dict[int, list[Key]], list[int]],
) -> None:
    sources, order = case
    reseq: Resequencer[Key] = Resequencer(idle_s=1.0)
    for s, keys in sources.items():
        reseq.add_source(s, now=0.0, next_offset=0)
        reseq.note_highwater(s, len(keys))  # the whole partition is known backlog
    cursor = dict.fromkeys(sources, 0)
    released: list[Key] = []
    now = 100.0  # long after registration: only the backlog rule holds sources back
    for s in order:
        key = sources[s][cursor[s]]
        assert reseq.push(s, cursor[s], key, key, now)
        cursor[s] += 1
        now += 2.0  # every source is "idle" by wall time; backlog alone must order them
        released += reseq.pop_ready(now)
    released += reseq.pop_ready(now + 10)
    expected = sorted(k for keys in sources.values() for k in keys)
    assert released == expected
    assert reseq.stats.late == 0 and reseq.stats.forced == 0 and len(reseq) == 0


def test_watermark_waits_for_the_slowest_busy_source() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=0.5)
    for s in ("a", "b"):
        reseq.add_source(s, now=0.0, next_offset=0)
        reseq.note_highwater(s, 10)
    reseq.push("a", 0, (5, "x"), "a5", now=0.1)
    reseq.push("a", 1, (9, "x"), "a9", now=0.1)
    assert reseq.pop_ready(now=0.2) == []  # b has a backlog and has shown nothing yet
    reseq.push("b", 0, (7, "x"), "b7", now=0.2)
    assert reseq.pop_ready(now=0.3) == ["a5", "b7"]  # watermark = b's (7, "x")


def test_equal_timestamps_are_split_by_event_id_not_released_early() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=10.0)
    for s in ("a", "b"):
        reseq.add_source(s, now=0.0, next_offset=0)
    reseq.push("a", 0, (5, "c"), "a5c", now=0.0)
    reseq.push("b", 0, (5, "b"), "b5b", now=0.0)
    # b may still deliver (5, "bb") < (5, "c"): only keys <= (5, "b") are safe
    assert reseq.pop_ready(now=0.1) == ["b5b"]
    reseq.push("b", 1, (5, "bb"), "b5bb", now=0.1)
    reseq.push("b", 2, (6, "a"), "b6a", now=0.1)
    assert reseq.pop_ready(now=0.2) == ["b5bb", "a5c"]


def test_caught_up_idle_source_does_not_stall_the_others() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=0.5)
    reseq.add_source("busy", now=0.0, next_offset=0)
    reseq.add_source("quiet", now=0.0, next_offset=0)
    reseq.note_highwater("quiet", 0)  # nothing in the broker for it
    reseq.note_highwater("busy", 2)
    reseq.push("busy", 0, (1, "a"), "x", now=0.0)
    reseq.push("busy", 1, (2, "a"), "y", now=0.0)
    assert reseq.pop_ready(now=0.1) == ["x", "y"]  # quiet has no backlog: ignored


def test_unknown_highwater_holds_until_idle_then_releases() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=0.5)
    reseq.add_source("a", now=0.0, next_offset=0)
    reseq.add_source("b", now=0.0, next_offset=0)
    reseq.push("a", 0, (1, "a"), "x", now=0.0)
    assert reseq.pop_ready(now=0.1) == []  # b might still deliver something older
    assert reseq.pop_ready(now=0.6) == ["x"]


def test_late_event_is_released_at_once_and_counted() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=0.5)
    reseq.add_source("a", now=0.0, next_offset=0)
    reseq.add_source("b", now=0.0, next_offset=0)
    for s in ("a", "b"):
        reseq.note_highwater(s, 0)
    reseq.push("a", 0, (10, "a"), "a10", now=0.0)
    assert reseq.pop_ready(now=1.0) == ["a10"]
    reseq.push("b", 0, (3, "a"), "b3", now=1.0)  # older than what was released
    assert reseq.pop_ready(now=1.0) == ["b3"]
    assert reseq.stats.late == 1


def test_duplicates_by_offset_are_refused() -> None:
    reseq: Resequencer[str] = Resequencer()
    reseq.add_source("a", now=0.0, next_offset=5)
    assert not reseq.push("a", 4, (1, "a"), "old", now=0.0)
    assert reseq.push("a", 5, (2, "a"), "new", now=0.0)
    assert not reseq.push("a", 5, (2, "a"), "again", now=0.0)
    assert reseq.stats.duplicates == 2 and reseq.next_offset("a") == 6


def test_buffer_is_bounded_by_forcing_out_the_oldest() -> None:
    reseq: Resequencer[int] = Resequencer(max_buffer=3, idle_s=100.0)
    reseq.add_source("a", now=0.0, next_offset=0)
    reseq.add_source("stuck", now=0.0, next_offset=0)  # never delivers: holds everything
    for i in range(5):
        reseq.push("a", i, (i, "e"), i, now=0.0)
    assert reseq.pop_ready(now=0.0) == [0, 1]
    assert len(reseq) == 3 and reseq.stats.forced == 2
    assert reseq.drain() == [2, 3, 4]


def test_all_caught_up_on_confirmed_marks_releases_at_once_without_the_idle_grace() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=10.0)
    for s in ("a", "b"):
        reseq.add_source(s, now=0.0, next_offset=0)
        reseq.note_highwater(s, 1)
    reseq.push("a", 0, (5, "x"), "a5", now=0.0)
    # b has a backlog: a, busy a moment ago, still holds at its own last key
    assert reseq.pop_ready(now=0.01, cutoff=reseq.push_mark()) == []
    reseq.push("b", 0, (3, "x"), "b3", now=0.01)
    # both at their (freshly asked) high-water marks: nothing else exists, so no idle_s wait
    assert reseq.pop_ready(now=0.02, cutoff=reseq.push_mark()) == ["b3", "a5"]
    reseq.note_highwater("a", 2)  # a new message on a: a holds again at its last key
    reseq.note_highwater("b", 2)
    reseq.push("b", 1, (6, "x"), "b6", now=0.03)
    assert reseq.pop_ready(now=0.04, cutoff=reseq.push_mark()) == []
    reseq.push("a", 1, (7, "x"), "a7", now=0.05)
    assert reseq.pop_ready(now=0.06, cutoff=reseq.push_mark()) == ["b6", "a7"]
    assert reseq.stats.late == 0


def test_marks_that_may_trail_never_release_everything_at_once() -> None:
    """Cached fetch marks (or tansu's trailing ListOffsets) can call a partition caught up
    while the broker already holds more of it: recently active sources keep their grace."""
    for reseq in (
        Resequencer[str](idle_s=0.25),  # no question asked (cutoff None)
        Resequencer[str](idle_s=0.25, marks_exact=False),  # asked, but the answer may trail
    ):
        for s in ("a", "b"):
            reseq.add_source(s, now=0.0, next_offset=0)
            reseq.note_highwater(s, 1)
        reseq.push("a", 0, (5, "x"), "a5", now=1.0)
        reseq.push("b", 0, (3, "x"), "b3", now=1.0)
        cutoff = None if reseq.marks_exact else reseq.push_mark()
        assert reseq.pop_ready(now=1.1, cutoff=cutoff) == ["b3"]  # a holds at its last key
        assert reseq.pop_ready(now=1.3, cutoff=cutoff) == ["a5"]  # quiet for idle_s


@st.composite
def broker_runs(draw: st.DrawFn) -> tuple[dict[int, list[Key]], list[tuple[str, int]]]:
    """Events appended to the broker in key order across sources; consumers deliver each
    source's appended events with arbitrary lag; the worker steps at arbitrary moments, and
    more deliveries may land between its high-water question and its release."""
    sources = _sorted_sources(draw)
    actions = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["append", "deliver", "step"]), st.integers(0, len(sources) - 1)
            ),
            max_size=300,
        )
    )
    return sources, actions


@given(broker_runs())
@example(  # the race: both appended after the question, the newer one delivered first
    (
        {0: [(0, "a")], 1: [(1, "a")]},
        [
            *[("step", 0), ("append", 0), ("append", 0), ("deliver", 1), ("step", 0)],
            *[("deliver", 0), ("step", 0), ("step", 0), ("step", 0), ("step", 0)],
        ],
    )
)
@settings(max_examples=500, deadline=None)
def test_fresh_marks_with_a_cutoff_never_release_out_of_order(
    case: tuple[dict[int, list[Key]], list[tuple[str, int]]],
) -> None:
    sources, actions = case
    log = sorted((key, s) for s, keys in sources.items() for key in keys)  # append order
    appended = dict.fromkeys(sources, 0)
    delivered = dict.fromkeys(sources, 0)
    reseq: Resequencer[Key] = Resequencer(idle_s=0.0)  # no wall-time grace at all
    for s in sources:
        reseq.add_source(s, now=0.0, next_offset=0)
    released: list[Key] = []
    now, cursor = 0.0, 0

    def deliver(s: int) -> None:
        if delivered[s] < appended[s]:
            key = sources[s][delivered[s]]
            assert reseq.push(s, delivered[s], key, key, now)
            delivered[s] += 1

    pending_step: int | None = None  # push mark of a question asked, release not yet done
    for action, s in actions:
        now += 0.01
        if action == "append" and cursor < len(log):
            appended[log[cursor][1]] += 1
            cursor += 1
        elif action == "deliver":
            deliver(s)
        elif pending_step is None:  # ask the broker now ...
            pending_step = reseq.push_mark()
            for src, n in appended.items():
                reseq.note_highwater(src, n)
        else:  # ... release later, after whatever was delivered meanwhile
            released += reseq.pop_ready(now, cutoff=pending_step)
            pending_step = None
    assert released == sorted(released)
    assert reseq.stats.late == 0


def test_an_item_delivered_after_the_question_waits_for_the_next_one() -> None:
    reseq: Resequencer[str] = Resequencer(idle_s=0.0)
    for s in ("a", "b"):
        reseq.add_source(s, now=0.0, next_offset=0)
        reseq.note_highwater(s, 0)
    mark = reseq.push_mark()  # the broker said: nothing anywhere
    reseq.push("a", 0, (10, "a10"), "a10", now=0.1)  # a's event arrives meanwhile
    assert reseq.pop_ready(0.1, cutoff=mark) == []  # b may already hold an older one
    reseq.note_highwater("b", 1)  # the next question: b has one
    assert reseq.pop_ready(0.2, cutoff=reseq.push_mark()) == []  # b's backlog holds
    reseq.push("b", 0, (5, "b5"), "b5", now=0.2)
    reseq.note_highwater("a", 1)
    assert reseq.pop_ready(0.3, cutoff=reseq.push_mark()) == ["b5", "a10"]


def test_with_settle_time_an_item_is_released_only_once_it_has_settled() -> None:
    """A producer's batches can append a newer event on one partition a few ms before an older
    one on another: items wait settle_s after arrival before the question may release them."""
    reseq: Resequencer[str] = Resequencer(idle_s=0.0, settle_s=0.03)
    for s in ("a", "b"):
        reseq.add_source(s, now=0.0, next_offset=0)
    reseq.push("a", 0, (10, "a10"), "a10", now=1.000)
    for src, mark in (("a", 1), ("b", 0)):
        reseq.note_highwater(src, mark)
    assert reseq.pop_ready(1.01, cutoff=reseq.push_mark(1.01)) == []  # not settled yet
    assert reseq.unsettled()
    reseq.push("b", 0, (5, "b5"), "b5", now=1.02)  # the older event, appended late
    for src, mark in (("a", 1), ("b", 1)):
        reseq.note_highwater(src, mark)
    assert reseq.pop_ready(1.04, cutoff=reseq.push_mark(1.04)) == []  # b5 arrived 20 ms ago
    assert reseq.pop_ready(1.06, cutoff=reseq.push_mark(1.06)) == ["b5", "a10"]
    assert reseq.stats.late == 0 and not reseq.unsettled()
