"""``bench lookup`` runs end to end on a small load: every request found its mint (numbers are
reported by the command, not asserted here)."""

from __future__ import annotations

from streams.devtools.bench.lookup import run_lookup_bench


def test_bench_lookup_answers_every_request_from_the_view() -> None:
    result = run_lookup_bench(requests=200, concurrency=2, mints=500, update_rate=200.0)
    assert result.requests == 200 and result.not_found == 0
    assert 0 < result.server_p50_ms <= result.server_p99_ms
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
