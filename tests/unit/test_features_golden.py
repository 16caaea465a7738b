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
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from streams.events import InputEvent, decode_input, encode
from streams.features import EngineOutput, EngineState, FeatureEngine
from streams.features.registry import HOUR_MS

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
    from streams.events.models import Genesis
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
    assert stats == expected[scenario]["stats"]


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


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate-on-purpose"]:
        sys.exit(
            "Refusing: this OVERWRITES the engine's golden outputs. Use it only when a feature "
            "definition changed on purpose (bump FEATURE_SET_VERSION too), never to make an "
            "optimisation pass. Run with --regenerate-on-purpose."
        )
    print("!!! REGENERATING the feature-engine golden files from the current engine !!!")
    regenerate_golden()
