"""The persistent cast: wallets (with archetype and hidden skill) and creators (with type).

Wallet ids are dense ints: snipers, cabal members, smart wallets, copy-traders, retail. Creators
get their own ids; a creator trades under wallet id ``creator_wallet(c)`` so one holdings map
covers everyone. Sizes scale with the launch rate so histories repeat at any market size.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from streams.sim.ids import address

SNIPER, CABAL, SMART, COPY, RETAIL = "sniper", "cabal", "smart", "copy_trader", "retail"
HONEST, RUGGER = "honest", "serial_rugger"


def _size(base: float, scale: float, floor: int) -> int:
    return max(floor, int(base * scale))


def _zipf_cdf(n: int, power: float) -> list[float]:
    """Cumulative Zipf weights: a few members are very active, most are not."""
    return list(itertools.accumulate(1.0 / (i + 1) ** power for i in range(n)))


@dataclass(slots=True)
class Population:
    seed: int
    archetype: list[str] = field(default_factory=list)  # per wallet id
    skill: list[float] = field(default_factory=list)  # per wallet id, hidden
    ranges: dict[str, tuple[int, int]] = field(default_factory=dict)
    creator_type: list[str] = field(default_factory=list)
    creator_talent: list[float] = field(default_factory=list)  # hidden
    cabal_of: dict[int, list[int]] = field(default_factory=dict)  # rugger creator -> wallets
    ruggers: list[int] = field(default_factory=list)
    serial_honest: list[int] = field(default_factory=list)
    rugger_cdf: list[float] = field(default_factory=list)
    honest_cdf: list[float] = field(default_factory=list)
    retail_cdf: list[float] = field(default_factory=list)
    _addresses: dict[int, str] = field(default_factory=dict)
    _creator_addresses: dict[int, str] = field(default_factory=dict)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, seed: int, scale: float, rng: random.Random) -> Population:
        pop = cls(seed)
        pop._add_wallets(SNIPER, _size(150, scale, 12), lambda: rng.uniform(0.2, 1.0))
        n_ruggers = _size(300, scale, 12)
        cabal_sizes = [rng.randint(3, 8) for _ in range(n_ruggers)]
        cabal_start = len(pop.archetype)
        pop._add_wallets(CABAL, sum(cabal_sizes), lambda: rng.uniform(0.0, 0.3))
        pop._add_wallets(SMART, _size(400, scale, 30), lambda: rng.uniform(0.15, 1.0))
        pop._add_wallets(COPY, _size(800, scale, 50), lambda: rng.uniform(0.0, 0.3))
        pop._add_wallets(RETAIL, _size(30_000, scale, 2_000), lambda: rng.gauss(0.0, 0.15))
        pop.retail_cdf = _zipf_cdf(pop.count(RETAIL), 0.7)
        for size in cabal_sizes:
            c = pop.new_creator(RUGGER, rng.gauss(-0.4, 0.3))
            pop.ruggers.append(c)
            pop.cabal_of[c] = list(range(cabal_start, cabal_start + size))
            cabal_start += size
        for _ in range(_size(1_500, scale, 40)):
            pop.serial_honest.append(pop.new_creator(HONEST, rng.gauss(0.0, 0.6)))
        pop.rugger_cdf = _zipf_cdf(len(pop.ruggers), 0.8)
        pop.honest_cdf = _zipf_cdf(len(pop.serial_honest), 0.9)
        return pop

    def _add_wallets(self, kind: str, n: int, skill: Callable[[], float]) -> None:
        start = len(self.archetype)
        self.archetype.extend([kind] * n)
        self.skill.extend(skill() for _ in range(n))
        self.ranges[kind] = (start, start + n)

    def new_creator(self, kind: str, talent: float) -> int:
        self.creator_type.append(kind)
        self.creator_talent.append(talent)
        return len(self.creator_type) - 1

    # -- picking --------------------------------------------------------------------------
    def count(self, kind: str) -> int:
        lo, hi = self.ranges[kind]
        return hi - lo

    def pick(self, kind: str, rng: random.Random) -> int:
        lo, hi = self.ranges[kind]
        if kind == RETAIL:
            return lo + _draw(self.retail_cdf, rng)
        return rng.randrange(lo, hi)

    def pick_rugger(self, rng: random.Random) -> int:
        return self.ruggers[_draw(self.rugger_cdf, rng)]

    def pick_serial_honest(self, rng: random.Random) -> int:
        return self.serial_honest[_draw(self.honest_cdf, rng)]

    def followers(self, smart_wallet: int) -> list[int]:
        """The copy-traders that follow one smart wallet (fixed per wallet)."""
        lo, hi = self.ranges[COPY]
        n = hi - lo
        return [lo + (smart_wallet * 7919 + j * 104_729) % n for j in range(3)]

    # -- addresses ------------------------------------------------------------------------
    @property
    def n_wallets(self) -> int:
        return len(self.archetype)

    def creator_wallet(self, creator: int) -> int:
        """Wallet id under which a creator trades (beyond the wallet range)."""
        return self.n_wallets + creator

    def wallet_address(self, wallet: int) -> str:
        if wallet >= self.n_wallets:
            return self.creator_address(wallet - self.n_wallets)
        addr = self._addresses.get(wallet)
        if addr is None:
            addr = self._addresses[wallet] = address(self.seed, "wallet", wallet)
        return addr

    def creator_address(self, creator: int) -> str:
        addr = self._creator_addresses.get(creator)
        if addr is None:
            addr = self._creator_addresses[creator] = address(self.seed, "creator", creator)
        return addr


def _draw(cdf: list[float], rng: random.Random) -> int:
    return min(bisect.bisect_left(cdf, rng.random() * cdf[-1]), len(cdf) - 1)
