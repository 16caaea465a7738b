"""The hidden truth records: per token (written when it retires), then the whole cast."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from streams.sim.population import Population
from streams.sim.token import Token


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def token_record(tok: Token, pop: Population, ts: int, still_alive: bool) -> dict[str, Any]:
    if tok.graduated_ts >= 0:
        fate = "graduated"
    elif tok.rugged:
        fate = "rugged"
    else:
        fate = "alive" if still_alive else "dead"
    graduated = tok.graduated_ts >= 0
    return {
        "kind": "token",
        "mint": tok.mint,
        "creator": pop.creator_address(tok.creator),
        "quality": round(_phi(tok.z), 6),
        "quality_z": round(tok.z, 6),
        "attention": round(tok.attention, 6),
        "fate": fate,
        "rug_planned": tok.rug_planned,
        "launch_ts": tok.launch_ts,
        "graduated_ts": tok.graduated_ts if graduated else None,
        "migration_dump": tok.dump if graduated else None,
        "runner_target": round(tok.runner, 4) if graduated else None,
        "trades": tok.trades,
        "end_ts": ts,
    }


def cast_records(pop: Population, launches_by: dict[int, int]) -> Iterator[dict[str, Any]]:
    """Every wallet (archetype, hidden skill) and creator (type, talent, launches)."""
    for w in range(pop.n_wallets):
        yield {
            "kind": "wallet",
            "wallet": pop.wallet_address(w),
            "archetype": pop.archetype[w],
            "skill": round(pop.skill[w], 6),
        }
    for c, kind in enumerate(pop.creator_type):
        yield {
            "kind": "creator",
            "creator": pop.creator_address(c),
            "type": kind,
            "talent": round(pop.creator_talent[c], 6),
            "launches": launches_by.get(c, 0),
        }
