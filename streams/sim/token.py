"""Live state of one simulated token, and the small random helpers the engine shares."""

from __future__ import annotations

import math
import random

from streams.sim import curve
from streams.sim.attention import Shock


class Token:
    """Live state of one token (dropped from memory when it dies)."""

    __slots__ = (
        "alive",
        "attention",
        "attention_ms",
        "creator",
        "dump",
        "ema_price",
        "ema_ts",
        "exc",
        "exc_ts",
        "first_price",
        "gen",
        "grad_price",
        "grad_vsol",
        "graduated_ts",
        "holders",
        "hype",
        "hype_tau_ms",
        "hype_ts",
        "index",
        "launch_ts",
        "mint",
        "mu0",
        "mu_start",
        "mu_tau_ms",
        "n_branch",
        "peak_price",
        "pending",
        "real_tok",
        "rug_planned",
        "rugged",
        "runner",
        "sellable",
        "shocks",
        "trades",
        "venue",
        "vsol",
        "vtok",
        "z",
    )

    def __init__(self, index: int, mint: str, creator: int, z: float, rug_planned: bool, ts: int):
        self.index, self.mint, self.creator, self.z = index, mint, creator, z
        self.rug_planned, self.rugged, self.dump = rug_planned, False, False
        self.launch_ts, self.graduated_ts = ts, -1
        self.vsol, self.vtok = curve.INITIAL_VIRTUAL_SOL, curve.INITIAL_VIRTUAL_TOKENS
        self.real_tok, self.venue = curve.INITIAL_REAL_TOKENS, "curve"
        self.holders: dict[int, float] = {}
        self.sellable: list[int] = []  # retail holders the organic flow may pick as sellers
        self.alive, self.pending, self.gen, self.trades = True, 0, 0, 0
        self.exc, self.exc_ts = 0.0, ts
        self.mu0, self.mu_start, self.mu_tau_ms = 0.0, ts, 1.0
        self.n_branch, self.attention_ms = 0.0, 1.0
        self.hype, self.hype_ts, self.hype_tau_ms = 0.0, ts, 1.0
        self.shocks: list[Shock] = []  # not yet arrived, earliest first
        self.attention, self.runner, self.grad_price, self.grad_vsol = 0.0, 0.0, 0.0, 1.0
        p0 = self.vsol / self.vtok
        self.ema_price, self.ema_ts, self.first_price, self.peak_price = p0, ts, 0.0, p0


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small means used here."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def geometric(rng: random.Random, p: float) -> int:
    """Failures before the first success: 0 with probability p, then a geometric tail."""
    k = 0
    while rng.random() >= p and k < 50:
        k += 1
    return k
