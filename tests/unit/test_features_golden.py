"""Golden guard of the feature engine: every signal's features and every outcome, bit for bit.

The inputs (a small simulated market and a seeded random market with late events, a trade
without genesis, a duplicate genesis, not-owned tokens and a restore from serialized state mid
run) are stored WITH the expected outputs under ``tests/unit/golden/``, so this test depends on
nothing but the engine: a simulator change cannot move it, an engine change that moves a single
float (or a NaN) fails it.

Regenerate ONLY when a feature definition changes on purpose (and bump FEATURE_SET_VERSION):

    .venv/bin/python -m tests.unit.test_features_golden --regenerate-on-purpose

An optimisation must never need that: it has to pass against the existing file.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import math
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from streams.contracts.features import HOUR_MS
from streams.events import InputEvent, decode_input, encode
from streams.features.engine import EngineOutput, FeatureEngine
from streams.features.state import EngineState

GOLDEN_DIR = Path(__file__).parent / "golden"
INPUTS = GOLDEN_DIR / "engine_inputs.jsonl.gz"
EXPECTED = GOLDEN_DIR / "engine_outputs.json.gz"
FEATURES = GOLDEN_DIR / "engine_features.npz"
SCENARIOS = ("sim", "market")


def _owned(mint: str) -> bool:
    """About a quarter of the tokens are not owned (another worker's partition)."""
    return zlib.crc32(mint.encode()) % 4 != 0


def _sim_inputs() -> list[InputEvent]:
    from streams.sim import SimConfig, simulate

    config = SimConfig(seed=3, hours=3.0, launch_rate_per_day=1_200.0)
    events = [decode_input(encode(e)) for e in simulate(config)]
    return sorted(events, key=lambda e: (e.ts, e.event_id))


def _market_inputs() -> list[InputEvent]:
    """A dense random market, then perturbed: late events, a lost genesis, a duplicate genesis."""
    from streams.contracts.events import Genesis
    from streams.testing import random_market

    events = list(random_market(21, n_tokens=24, n_wallets=25, minutes=240, trades_per_token=60))
    geneses = [k for k, e in enumerate(events) if isinstance(e, Genesis)]
    lost = events.pop(geneses[3])  # its token trades without a seen genesis
    events.insert(len(events) // 2, dataclasses.replace(lost, event_id=lost.event_id + "dup"))
    first = events[geneses[0]]
    events.insert(geneses[0] + 40, dataclasses.replace(first, event_id=first.event_id + "again"))
    for k in range(100, len(events) - 10, 97):  # swap neighbours: the second one arrives late
        events[k], events[k + 3] = events[k + 3], events[k]
    return events


def _run(events: list[InputEvent]) -> tuple[EngineOutput, dict[str, int]]:
    """Half the log, a restore from the serialized snapshot, the rest, flush, every horizon."""
    half = len(events) // 2
    engine = FeatureEngine()
    out = EngineOutput()
    for event in events[:half]:
        out.extend(engine.process(event, owned=_owned(event.mint)))
    engine.state.drain_changes()
    stats_first = dataclasses.asdict(engine.stats)
    engine = FeatureEngine(state=EngineState.from_snapshot(engine.state.snapshot()))
    for event in events[half:]:
        out.extend(engine.process(event, owned=_owned(event.mint)))
    out.extend(engine.flush())
    out.extend(engine.advance_to(engine.watermark + 25 * HOUR_MS))
    stats = {k: stats_first[k] + v for k, v in dataclasses.asdict(engine.stats).items()}
    stats["tokens_left"] = len(engine.state.tokens)
    stats["pending_left"] = len(engine.state.pending)
    return out, stats


def _signal_meta(out: EngineOutput) -> list[list[Any]]:
    return [[s.kind, s.event_id, s.ts, s.mint, s.wallet, s.creator, s.price] for s in out.signals]


def _feature_matrices(out: EngineOutput, scenario: str) -> dict[str, np.ndarray]:
    mats = {}
    for kind in ("buy", "genesis"):
        rows = [s.features for s in out.signals if s.kind == kind]
        mats[f"{scenario}_{kind}"] = np.vstack(rows) if rows else np.zeros((0, 0))
    return mats


def _outcomes(out: EngineOutput) -> list[Any]:
    return orjson.loads(orjson.dumps([dataclasses.asdict(o) for o in out.outcomes]))


def _read_inputs() -> dict[str, list[InputEvent]]:
    inputs: dict[str, list[InputEvent]] = {name: [] for name in SCENARIOS}
    with gzip.open(INPUTS, "rb") as fh:
        for line in fh:
            name, _, payload = line.rstrip(b"\n").partition(b"\t")
            inputs[name.decode()].append(decode_input(payload))
    return inputs


@pytest.fixture(scope="module")
def golden() -> Iterator[tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]]:
    expected = orjson.loads(gzip.decompress(EXPECTED.read_bytes()))
    with np.load(FEATURES) as npz:
        features = {k: npz[k] for k in npz.files}
    actual = {name: _run(events) for name, events in _read_inputs().items()}
    yield expected, features, actual


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_signals_and_features_equal_the_golden_file(
    golden: tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]], scenario: str
) -> None:
    expected, features, actual = golden
    out, _ = actual[scenario]
    assert _signal_meta(out) == expected[scenario]["signals"]
    assert len(out.signals) > 500
    for key, got in _feature_matrices(out, scenario).items():
        want = features[key]
        assert got.shape == want.shape, key
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        bad = np.argwhere(~same)
        assert not len(bad), f"{key}: {len(bad)} values differ, first (row, feature) {bad[:5]}"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_outcomes_and_stats_equal_the_golden_file(
    golden: tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]], scenario: str
) -> None:
    expected, _, actual = golden
    out, stats = actual[scenario]
    want = expected[scenario]["outcomes"]
    got = _outcomes(out)
    assert len(got) == len(want) and len(got) > 500
    for a, b in zip(got, want, strict=True):
        assert a == b, a["event_id"]
    # counters added after the golden file was written: nothing in these inputs may touch them
    added = {"duplicate_events": 0, "migrations": 0, "migrations_without_token": 0}
    assert stats == expected[scenario]["stats"] | added | {"forgotten_ids": stats["forgotten_ids"]}
    assert stats["forgotten_ids"] > 0  # the sweep forgets ids older than the dedup window


# ---- co-buyer weights kept against a reference time (no golden run spans a rebase) ----------


def _cobuy_days(days: int) -> tuple[FeatureEngine, list[int]]:
    """Wallets a and b are first buyers of a new token together every ~0.9 days for ``days``."""
    from streams.testing import Curve, make_buy, make_genesis

    engine = FeatureEngine()
    start = 1_767_225_600_000
    times = []
    for k in range(int(days / 0.9)):
        t = start + k * 77_760_000  # 0.9 day
        curve = Curve()
        mint = f"m{k}"
        engine.process(make_genesis(mint, t, creator=f"c{k}", curve=curve))
        engine.process(make_buy(curve, mint, "a", 0.5, t + 1_000))
        engine.process(make_buy(curve, mint, "b", 0.5, t + 2_000))
        times.append(t + 2_000)
    return engine, times


def _direct_weight(times: list[int], at: int, decay: float) -> float:
    return sum(math.exp(-(at - t) * decay) for t in times)


def test_cobuy_weights_across_reference_rebases_equal_the_direct_decay_sum() -> None:
    engine, times = _cobuy_days(40)  # several 7-day rebases
    decay = engine._cooc_decay
    table = engine.state.cooc.get("a")
    assert table is not None and table.ref_ts > times[0]  # it was rebased
    at = times[-1] + 3 * HOUR_MS
    got = table.partners["b"] * math.exp(-(at - table.ref_ts) * decay)
    want = _direct_weight(times, at, decay)
    assert got == pytest.approx(want, rel=1e-12)


def test_legacy_cobuyer_tables_are_rescaled_on_restore() -> None:
    engine, times = _cobuy_days(5)
    decay = engine._cooc_decay
    snap = engine.state.snapshot()
    for address, raw in snap["cooc"].items():  # rewrite as the old {partner: [weight at ts, ts]}
        table = orjson.loads(raw)
        ref = table.pop("ref_ts")
        table["partners"] = {
            p: [w * math.exp(-(times[-1] - ref) * decay), times[-1]]
            for p, w in table["partners"].items()
        }
        snap["cooc"][address] = orjson.dumps(table)
    restored = FeatureEngine(state=EngineState.from_snapshot(snap))
    table = restored.state.cooc.get("b")
    assert table is not None and "b" in restored.state.cooc.dirty
    at = times[-1] + HOUR_MS
    got = table.partners["a"] * math.exp(-(at - table.ref_ts) * decay)
    assert got == pytest.approx(_direct_weight(times, at, decay), rel=1e-12)


def regenerate_golden() -> None:
    """Rewrite the golden files from the CURRENT engine. Only for intended feature changes."""
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    inputs = {"sim": _sim_inputs(), "market": _market_inputs()}
    expected: dict[str, Any] = {}
    matrices: dict[str, np.ndarray] = {}
    lines = io.BytesIO()
    for name, events in inputs.items():
        for event in events:
            lines.write(name.encode() + b"\t" + encode(event) + b"\n")
        out, stats = _run(events)
        expected[name] = {"signals": _signal_meta(out), "outcomes": _outcomes(out), "stats": stats}
        matrices.update(_feature_matrices(out, name))
    INPUTS.write_bytes(gzip.compress(lines.getvalue(), mtime=0))
    EXPECTED.write_bytes(gzip.compress(orjson.dumps(expected), mtime=0))
    np.savez_compressed(FEATURES, **matrices)  # type: ignore[arg-type]
    for path in (INPUTS, EXPECTED, FEATURES):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def compare_with_golden() -> bool:
    """Current engine vs the stored golden, with a tolerance: the max relative difference per
    feature (NaN must match NaN), and whether signals, outcomes (labels included) and stats are
    exactly equal. For a change that may move floats by rounding only; True if within 1e-9."""
    from streams.contracts.features import GENESIS_NAMES, STANDARD_NAMES

    expected = orjson.loads(gzip.decompress(EXPECTED.read_bytes()))
    with np.load(FEATURES) as npz:
        want_mats = {k: npz[k] for k in npz.files}
    ok = True
    for name, events in _read_inputs().items():
        out, stats = _run(events)
        exact = {
            "signals": _signal_meta(out) == expected[name]["signals"],
            "outcomes": _outcomes(out) == expected[name]["outcomes"],
            "stats": stats == expected[name]["stats"],
        }
        print(f"[{name}] exactly equal: {exact}")
        ok &= all(exact.values())
        for key, got in _feature_matrices(out, name).items():
            want = want_mats[key]
            names = GENESIS_NAMES if key.endswith("genesis") else STANDARD_NAMES
            if got.shape != want.shape:
                print(f"  {key}: shape {got.shape} != {want.shape}")
                ok = False
                continue
            nan_mismatch = np.isnan(got) != np.isnan(want)
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)
            rel = np.where(np.isnan(got) & np.isnan(want), 0.0, rel)
            rel = np.where(nan_mismatch, np.inf, rel)
            worst = rel.max(axis=0) if len(rel) else np.zeros(len(names))
            print(f"  {key}: max relative difference {worst.max():.3g} over {got.size} values")
            for j in np.flatnonzero(worst > 0):
                print(f"    {names[j]:32s} {worst[j]:.3g}")
            ok &= bool(worst.max() <= 1e-9)
    print("WITHIN 1e-9 and outcomes/labels/stats exact" if ok else "NOT within tolerance")
    return ok


if __name__ == "__main__":
    if sys.argv[1:] == ["--compare"]:
        sys.exit(0 if compare_with_golden() else 1)
    if sys.argv[1:] != ["--regenerate-on-purpose"]:
        sys.exit(
            "Refusing: this OVERWRITES the engine's golden outputs. Use it only when a feature "
            "definition changed on purpose (bump FEATURE_SET_VERSION too), never to make an "
            "optimisation pass. Run with --regenerate-on-purpose."
        )
    print("!!! REGENERATING the feature-engine golden files from the current engine !!!")
    regenerate_golden()
