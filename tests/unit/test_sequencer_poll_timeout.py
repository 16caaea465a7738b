"""The sequencer's poll timeouts are whole milliseconds, rounded up (librdkafka truncates)."""

from __future__ import annotations

import pytest

from streams.sequencer.kafka_io import poll_timeout_s


@pytest.mark.parametrize(
    ("wait_s", "timeout_s"),
    [(1e-6, 0.001), (0.0009, 0.001), (0.001, 0.001), (0.0015, 0.002), (0.003, 0.003),
     (0.0030001, 0.004), (0.05, 0.05)],
)  # fmt: skip
def test_a_wait_is_rounded_up_to_whole_milliseconds(wait_s: float, timeout_s: float) -> None:
    assert poll_timeout_s(wait_s) == pytest.approx(timeout_s, abs=1e-12)
    assert poll_timeout_s(wait_s) >= wait_s  # never shorter than asked: a hold stays a hold
