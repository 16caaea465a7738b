"""Market simulator: contract, canonical order, determinism, truth separation, regimes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from streams.events import Buy, Genesis, Sell, TokenMigrated, decode_input
from streams.sim import SimConfig, simulate, write_run
from streams.sim.config import regime_from_json

START = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = SimConfig(seed=4, start=START, hours=1.0, launch_rate_per_day=4000)  # 3 migrations on v2
# Large enough for a few graduations (checked below) yet ~2 s.
BUSY = SimConfig(seed=11, start=START, hours=8.0, launch_rate_per_day=6000)


@pytest.fixture(scope="module")
def hour_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim_hour")
    write_run(HOUR, out)
    return out


@pytest.fixture(scope="module")
def busy_events() -> list[dict[str, object]]:
    return list(simulate(BUSY))


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_every_event_of_an_hour_decodes(hour_run: Path) -> None:
    events = [decode_input(line) for line in _lines(hour_run / "events.jsonl")]
    kinds = {type(e) for e in events}
    assert kinds == {Genesis, Buy, Sell, TokenMigrated}
    assert len(events) > 1000


def test_a_migration_follows_the_buy_that_emptied_the_curve(hour_run: Path) -> None:
    events = [decode_input(line) for line in _lines(hour_run / "events.jsonl")]
    migrated = [(k, e) for k, e in enumerate(events) if isinstance(e, TokenMigrated)]
    assert migrated
    for k, event in migrated:
        before = events[k - 1]
        assert isinstance(before, Buy) and before.venue == "curve"
        assert (before.mint, before.ts, before.real_token_reserves) == (event.mint, event.ts, 0.0)
        assert event.schema_version == 2 and event.ts_source == "simulated"
        assert event.sol_amount is not None and event.sol_amount > 0
        later = [e for e in events[k + 1 :] if isinstance(e, Buy | Sell) and e.mint == event.mint]
        assert all(e.venue == "amm" for e in later)


def test_canonical_order_genesis_first_and_slots(hour_run: Path) -> None:
    events = [decode_input(line) for line in _lines(hour_run / "events.jsonl")]
    keys = [(e.ts, e.event_id) for e in events]
    assert keys == sorted(keys)
    assert len({e.event_id for e in events}) == len(events)
    born: set[str] = set()
    for e in events:
        assert e.slot == e.ts // 400
        if isinstance(e, Genesis):
            born.add(e.mint)
        else:
            assert e.mint in born, "a trade came before its genesis"
    assert events[0].ts >= HOUR.start_ms and events[-1].ts < HOUR.end_ms


def test_same_seed_gives_byte_identical_files(hour_run: Path, tmp_path: Path) -> None:
    write_run(HOUR, tmp_path)
    for name in ("events.jsonl", "truth.jsonl"):
        assert (tmp_path / name).read_bytes() == (hour_run / name).read_bytes()
    other = tmp_path / "other"
    write_run(SimConfig(seed=8, start=START, hours=1.0, launch_rate_per_day=4000), other)
    assert (other / "events.jsonl").read_bytes() != (hour_run / "events.jsonl").read_bytes()


def test_truth_is_separate_and_never_in_events(hour_run: Path) -> None:
    truth = [orjson.loads(line) for line in _lines(hour_run / "truth.jsonl")]
    kinds = {t["kind"] for t in truth}
    assert kinds == {"token", "wallet", "creator"}
    events_text = (hour_run / "events.jsonl").read_bytes()
    for word in (b"quality", b"archetype", b"rug_planned", b"fate", b"skill", b"talent"):
        assert word not in events_text
    archetypes = {t["archetype"] for t in truth if t["kind"] == "wallet"}
    assert archetypes == {"sniper", "cabal", "smart", "copy_trader", "retail"}
    mints = {orjson.loads(line)["mint"] for line in _lines(hour_run / "events.jsonl")}
    token_truth = {t["mint"] for t in truth if t["kind"] == "token"}
    assert mints == token_truth
    for t in truth:
        if t["kind"] == "token":
            assert 0.0 <= t["quality"] <= 1.0
            assert t["fate"] in {"dead", "rugged", "graduated", "alive"}


def test_graduation_zeroes_real_reserves_then_trades_move_to_the_amm(
    busy_events: list[dict[str, object]],
) -> None:
    graduated: dict[str, int] = {}
    for ev in busy_events:
        if ev["type"] in ("token_genesis", "token_migrated"):
            continue
        mint = str(ev["mint"])
        if mint in graduated:
            assert ev["venue"] == "amm" and ev["real_token_reserves"] == 0
        elif ev["real_token_reserves"] == 0:
            assert ev["venue"] == "curve" and ev["type"] == "wallet_buy"
            assert float(ev["virtual_sol_reserves"]) == pytest.approx(115.0, abs=0.1)  # type: ignore[arg-type]
            graduated[mint] = int(ev["ts"])  # type: ignore[call-overload]
        else:
            assert ev["venue"] == "curve" and float(ev["real_token_reserves"]) > 0  # type: ignore[arg-type]
    assert len(graduated) >= 2


def test_bundles_share_the_creation_slot_and_snipers_follow(
    busy_events: list[dict[str, object]],
) -> None:
    genesis_slot: dict[object, object] = {}
    same_slot = next_slots = 0
    for ev in busy_events:
        if ev["type"] == "token_genesis":
            genesis_slot[ev["mint"]] = ev["slot"]
        elif ev["type"] == "wallet_buy":
            lag = int(ev["slot"]) - int(genesis_slot[ev["mint"]])  # type: ignore[call-overload]
            same_slot += lag == 0
            next_slots += 1 <= lag <= 3
    assert same_slot > 0 and next_slots > 0


def test_regime_knob_changes_the_market_from_its_time() -> None:
    regime = regime_from_json([{"at": "2026-01-01T02:00:00Z", "set": {"launch_rate_mult": 4.0}}])
    cfg = SimConfig(seed=3, start=START, hours=4.0, launch_rate_per_day=2000, regime=regime)
    split = cfg.start_ms + 2 * 3_600_000
    launches = [e["ts"] for e in simulate(cfg) if e["type"] == "token_genesis"]
    before = sum(ts < split for ts in launches)
    after = len(launches) - before
    assert after > 2.5 * before


def test_unknown_regime_knob_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown regime knob"):
        regime_from_json([{"at": "2026-01-01T00:00:00Z", "set": {"no_such_knob": 1}}])


def test_config_requires_aware_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimConfig(start=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
