"""The open cast: wallets (archetype and hidden skill) and creators (type and hidden talent).

Wallet ids are dense ints in creation order; new wallets keep arriving during the run:
- retail trades through a fixed set of activity *slots* (Zipf: a few very active, most not); a
  slot's wallet churns (is replaced by a fresh one) with a small chance on each pick, which is
  what makes ~37% of a day's curve traders new that day (market-facts.md, 2026);
- a serial rugger's identity churns too: with ``FRESH_RUGGER`` on a launch it comes back as a new
  creator address with a mostly new cabal (``CABAL_KEPT`` of the old members stay).
Creators trade under wallet id ``creator_wallet(c)`` (from ``CREATOR_BASE`` up), so one holdings
map covers everyone. Sizes scale with the launch rate so histories repeat at any market size.
"""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass, field

from streams.sim.ids import address

SNIPER, CABAL, SMART, COPY, RETAIL = "sniper", "cabal", "smart", "copy_trader", "retail"
HONEST, RUGGER = "honest", "serial_rugger"
CREATOR_BASE = 1 << 40  # wallet ids at and above this are creators trading their own tokens
RETAIL_CHURN = 0.011  # per retail pick: the slot's wallet is replaced by a new one
FRESH_RUGGER = 0.3  # per rugger launch: the rugger returns under a new identity
CABAL_KEPT = 0.25  # share of the old cabal that follows a rugger to its new identity
ORGANIC_OTHERS = 0.12  # organic trades made by non-retail wallets
ORGANIC_KINDS = (CABAL, SMART, COPY, SNIPER)
ORGANIC_CDF = list(itertools.accumulate((0.35, 0.2, 0.3, 0.15)))


def _size(base: float, scale: float, floor: int) -> int:
    return max(floor, int(base * scale))


def _zipf_cdf(n: int, power: float) -> list[float]:
    """Cumulative Zipf weights: a few members are very active, most are not."""
    return list(itertools.accumulate(1.0 / (i + 1) ** power for i in range(n)))


@dataclass(slots=True)
class Population:
    seed: int
    rng: random.Random
    archetype: list[str] = field(default_factory=list)  # per wallet id
    skill: list[float] = field(default_factory=list)  # per wallet id, hidden
    members: dict[str, list[int]] = field(default_factory=dict)  # non-retail wallets by kind
    retail_slots: list[int] = field(default_factory=list)  # slot -> wallet trading in it now
    creator_type: list[str] = field(default_factory=list)
    creator_talent: list[float] = field(default_factory=list)  # hidden
    cabal_of: dict[int, list[int]] = field(default_factory=dict)  # rugger creator -> wallets
    ruggers: list[int] = field(default_factory=list)  # rugger slots -> current identity
    serial_honest: list[int] = field(default_factory=list)
    rugger_cdf: list[float] = field(default_factory=list)
    honest_cdf: list[float] = field(default_factory=list)
    retail_cdf: list[float] = field(default_factory=list)
    _addresses: dict[int, str] = field(default_factory=dict)
    _creator_addresses: dict[int, str] = field(default_factory=dict)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, seed: int, scale: float, rng: random.Random) -> Population:
        pop = cls(seed, rng)
        for kind, base, floor in ((SNIPER, 150, 12), (SMART, 400, 30), (COPY, 800, 50)):
            for _ in range(_size(base, scale, floor)):
                pop.new_wallet(kind)
        pop.retail_slots = [pop.new_wallet(RETAIL) for _ in range(_size(30_000, scale, 2_000))]
        pop.retail_cdf = _zipf_cdf(len(pop.retail_slots), 0.7)
        for _ in range(_size(300, scale, 12)):
            c = pop.new_creator(RUGGER, rng.gauss(-0.4, 0.3))
            pop.ruggers.append(c)
            pop.cabal_of[c] = [pop.new_wallet(CABAL) for _ in range(_cabal_size(rng))]
        for _ in range(_size(1_500, scale, 40)):
            pop.serial_honest.append(pop.new_creator(HONEST, rng.gauss(0.0, 0.6)))
        pop.rugger_cdf = _zipf_cdf(len(pop.ruggers), 0.8)
        pop.honest_cdf = _zipf_cdf(len(pop.serial_honest), 0.9)
        return pop

    def new_wallet(self, kind: str) -> int:
        """A wallet with a hidden skill drawn from its archetype's (overlapping) distribution."""
        rng = self.rng
        if kind == RETAIL:
            skill = rng.gauss(0.0, 0.15)
        elif kind == SMART:
            skill = min(1.0, rng.betavariate(2.0, 2.5) + 0.1)
        elif kind == SNIPER:
            skill = rng.betavariate(2.0, 2.0)
        else:  # copy-traders and cabal members: stored, low on average
            skill = rng.betavariate(1.2, 4.0)
        self.archetype.append(kind)
        self.skill.append(skill)
        wallet = len(self.archetype) - 1
        if kind != RETAIL:
            self.members.setdefault(kind, []).append(wallet)
        return wallet

    def new_creator(self, kind: str, talent: float) -> int:
        self.creator_type.append(kind)
        self.creator_talent.append(talent)
        return len(self.creator_type) - 1

    # -- picking --------------------------------------------------------------------------
    def pick(self, kind: str, rng: random.Random) -> int:
        if kind == RETAIL:
            slot = _draw(self.retail_cdf, rng)
            if rng.random() < RETAIL_CHURN:  # the slot's trader leaves; a new one takes over
                self.retail_slots[slot] = self.new_wallet(RETAIL)
            return self.retail_slots[slot]
        cast = self.members[kind]
        return cast[rng.randrange(len(cast))]

    def pick_organic(self, rng: random.Random) -> int:
        """The trader behind one organic trade: mostly retail, sometimes one of the other
        archetypes trading like anyone else (so no archetype only ever acts in its own way)."""
        if rng.random() >= ORGANIC_OTHERS:
            return self.pick(RETAIL, rng)
        return self.pick(ORGANIC_KINDS[_draw(ORGANIC_CDF, rng)], rng)

    def pick_rugger(self, rng: random.Random) -> int:
        """A serial rugger, sometimes back under a fresh identity with a mostly fresh cabal."""
        slot = _draw(self.rugger_cdf, rng)
        old = self.ruggers[slot]
        if rng.random() >= FRESH_RUGGER:
            return old
        new = self.new_creator(RUGGER, self.creator_talent[old])
        kept = [w for w in self.cabal_of[old] if rng.random() < CABAL_KEPT]
        fresh = [self.new_wallet(CABAL) for _ in range(max(0, _cabal_size(rng) - len(kept)))]
        self.cabal_of[new] = kept + fresh
        self.ruggers[slot] = new
        return new

    def pick_serial_honest(self, rng: random.Random) -> int:
        return self.serial_honest[_draw(self.honest_cdf, rng)]

    def followers(self, smart_wallet: int) -> list[int]:
        """The copy-traders that follow one smart wallet (fixed per wallet)."""
        cast = self.members[COPY]
        return [cast[(smart_wallet * 7919 + j * 104_729) % len(cast)] for j in range(3)]

    def is_retail(self, wallet: int) -> bool:
        return wallet < CREATOR_BASE and self.archetype[wallet] == RETAIL

    # -- addresses ------------------------------------------------------------------------
    @property
    def n_wallets(self) -> int:
        return len(self.archetype)

    @staticmethod
    def creator_wallet(creator: int) -> int:
        """Wallet id under which a creator trades (beyond every wallet id)."""
        return CREATOR_BASE + creator

    def wallet_address(self, wallet: int) -> str:
        if wallet >= CREATOR_BASE:
            return self.creator_address(wallet - CREATOR_BASE)
        addr = self._addresses.get(wallet)
        if addr is None:
            addr = self._addresses[wallet] = address(self.seed, "wallet", wallet)
        return addr

    def creator_address(self, creator: int) -> str:
        addr = self._creator_addresses.get(creator)
        if addr is None:
            addr = self._creator_addresses[creator] = address(self.seed, "creator", creator)
        return addr


def _cabal_size(rng: random.Random) -> int:
    """Cabal sizes overlap honest launch teams: 1 to ~12, median ~4."""
    return max(1, min(12, int(rng.lognormvariate(1.35, 0.5))))


def _draw(cdf: list[float], rng: random.Random) -> int:
    return min(bisect.bisect_left(cdf, rng.random() * cdf[-1]), len(cdf) - 1)
