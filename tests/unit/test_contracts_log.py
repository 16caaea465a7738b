"""The market log's record format: source refs, markers and the resume rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.contracts.log import (
    HEADER_KIND,
    HEADER_SOURCE,
    KIND_EVENT,
    Marker,
    SourceRef,
    event_headers,
    header,
    resume_positions,
)


@given(st.sampled_from(["wallet-buy", "token-genesis"]), st.integers(0, 99), st.integers(0, 2**40))
def test_source_ref_round_trips(topic: str, partition: int, offset: int) -> None:
    ref = SourceRef(topic, partition, offset)
    assert SourceRef.decode(ref.encode()) == ref


def test_event_headers_name_kind_and_source() -> None:
    headers = event_headers(SourceRef("wallet-buy", 3, 17))
    assert header(headers, HEADER_KIND) == KIND_EVENT
    assert header(headers, HEADER_SOURCE) == b"wallet-buy:3:17"
    assert header(headers, "missing") is None


def test_resume_starts_after_the_marker_and_every_later_record() -> None:
    marker = Marker({"wallet-buy:0": 10, "wallet-sell:1": 4}, at_ms=1)
    assert Marker.decode(marker.encode()) == marker
    later = [SourceRef("wallet-buy", 0, 10), SourceRef("wallet-buy", 0, 11),
             SourceRef("token-genesis", 2, 0)]  # fmt: skip
    assert resume_positions(marker, later) == {
        "wallet-buy:0": 12,
        "wallet-sell:1": 4,
        "token-genesis:2": 1,
    }
    # a record the marker already covers (a zombie's duplicate) never moves a partition back
    assert resume_positions(marker, [SourceRef("wallet-buy", 0, 2)])["wallet-buy:0"] == 10
    assert resume_positions(None, []) == {}
