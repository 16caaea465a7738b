"""Attention from outside the chain, and the post-migration fate of a graduated token.

Shocks (a call in a group, a post, a listing) are drawn for each token **at its launch**, from a
distribution that depends on its hidden quality only through their count, never on the trades:
what the chain shows before a shock says nothing about when it comes or how big it is. Each
shock adds newcomers to the token's organic flow and a buy tilt that both decay.

At migration a token is either dumped by its holders (most) or becomes a runner with a
heavy-tailed target multiple of its graduation price (Pareto), which its AMM flow buys toward
before it distributes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

SHOCKS_MEAN = 0.4  # mean shocks per token at z = 0
SHOCKS_Z = 0.5  # log-rate per unit of hidden quality: better tokens get noticed more often
SHOCK_DELAY_MEDIAN_S = 300.0  # after launch; lognormal, so some arrive an hour or more later
SHOCK_DELAY_SIGMA = 1.3
SHOCK_RATE_SCALE = 0.05  # newcomer trades per second of a median shock
SHOCK_ALPHA = 1.7  # Pareto tail of shock sizes: most are small, a few are huge
SHOCK_TILT = 0.6  # buy-bias added by a median shock
SHOCK_TAU_MEDIAN_S = 240.0  # how long a shock's crowd keeps coming (lognormal)
RUNNER_SHARE = 0.22  # migrated tokens that run instead of being dumped (~75-78% dump)
RUNNER_ALPHA = 0.85  # Pareto tail of a runner's target (multiple of the graduation price)
RUNNER_MIN = 1.5
RUNNER_MAX = 400.0


@dataclass(frozen=True, slots=True)
class Shock:
    delay_ms: int
    rate: float  # extra newcomer trades per second at the shock
    tilt: float  # extra buy bias at the shock
    tau_ms: float  # decay time of both


def plan_shocks(rng: random.Random, z: float, mult: float) -> list[Shock]:
    """The token's attention shocks, fixed at launch; ``mult`` is the regime's retail activity."""
    count = _poisson(rng, SHOCKS_MEAN * math.exp(SHOCKS_Z * z))
    shocks = []
    for _ in range(count):
        size = rng.paretovariate(SHOCK_ALPHA)  # >= 1, heavy-tailed
        delay = rng.lognormvariate(math.log(SHOCK_DELAY_MEDIAN_S), SHOCK_DELAY_SIGMA)
        shocks.append(
            Shock(
                delay_ms=int(min(delay, 6 * 3600.0) * 1000.0),
                rate=SHOCK_RATE_SCALE * size * mult,
                tilt=SHOCK_TILT * min(size, 3.0) ** 0.5,
                tau_ms=rng.lognormvariate(math.log(SHOCK_TAU_MEDIAN_S), 0.6) * 1000.0,
            )
        )
    return sorted(shocks, key=lambda s: s.delay_ms)


def total_attention(shocks: list[Shock]) -> float:
    """Expected extra trades the shocks bring (rate x decay time), for the truth file."""
    return sum(s.rate * s.tau_ms / 1000.0 for s in shocks)


def runner_target(rng: random.Random) -> float:
    """0 for a dumped migration, else the runner's target multiple of the graduation price."""
    if rng.random() >= RUNNER_SHARE:
        return 0.0
    return min(RUNNER_MIN * rng.paretovariate(RUNNER_ALPHA), RUNNER_MAX)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; fine for the small means used here."""
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
