"""Seeded launchpad market simulator: events in canonical order plus a separate hidden truth."""

from streams.sim.config import KNOB_DEFAULTS, RegimeChange, SimConfig, load_regime
from streams.sim.market import simulate
from streams.sim.writer import RunSummary, write_run

__all__ = [
    "KNOB_DEFAULTS",
    "RegimeChange",
    "RunSummary",
    "SimConfig",
    "load_regime",
    "simulate",
    "write_run",
]
