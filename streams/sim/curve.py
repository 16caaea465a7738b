"""Bonding-curve and AMM math (constant product on virtual reserves). Pure functions.

A buy pays ``sol`` including the fee; the net SOL enters the curve. A sell's gross SOL leaves
the curve and the seller receives it minus the fee. The curve graduates when its real token
reserves run out: the last buy is capped to exactly what is left.
"""

from __future__ import annotations

from dataclasses import dataclass

TOTAL_SUPPLY = 1_000_000_000.0
INITIAL_VIRTUAL_TOKENS = 1_073_000_000.0
INITIAL_REAL_TOKENS = 793_100_000.0
INITIAL_VIRTUAL_SOL = 30.0
# Tokens left in the virtual reserve when the real reserve is exhausted (graduation point).
GRADUATION_VIRTUAL_TOKENS = INITIAL_VIRTUAL_TOKENS - INITIAL_REAL_TOKENS
# What migrates to the AMM pool: the real SOL raised minus a migration fee, and the LP tokens.
MIGRATION_FEE_SOL = 6.0
AMM_POOL_TOKENS = TOTAL_SUPPLY - INITIAL_REAL_TOKENS


@dataclass(frozen=True, slots=True)
class Fill:
    """Result of one trade: amounts moved and the reserves after it."""

    sol: float  # paid (buy, fee included) or received (sell, after fee)
    tokens: float
    vsol: float
    vtok: float
    real_tok: float
    graduated: bool = False


def price(vsol: float, vtok: float) -> float:
    """SOL per token."""
    return vsol / vtok


def curve_buy(vsol: float, vtok: float, real_tok: float, sol_paid: float, fee: float) -> Fill:
    """Buy on the curve with ``sol_paid`` SOL (fee included); capped at the real reserves."""
    k = vsol * vtok
    net = sol_paid * (1.0 - fee)
    tokens = vtok - k / (vsol + net)
    if tokens < real_tok:
        return Fill(sol_paid, tokens, vsol + net, vtok - tokens, real_tok - tokens)
    # The buy would drain the curve: take exactly the remaining real tokens and graduate.
    new_vtok = GRADUATION_VIRTUAL_TOKENS
    new_vsol = k / new_vtok
    paid = (new_vsol - vsol) / (1.0 - fee)
    return Fill(paid, vtok - new_vtok, new_vsol, new_vtok, 0.0, graduated=True)


def curve_sell(vsol: float, vtok: float, real_tok: float, tokens: float, fee: float) -> Fill:
    """Sell ``tokens`` into the curve; the seller receives the gross SOL minus the fee."""
    k = vsol * vtok
    new_vtok = vtok + tokens
    new_vsol = k / new_vtok
    gross = vsol - new_vsol
    return Fill(gross * (1.0 - fee), tokens, new_vsol, new_vtok, real_tok + tokens)


def amm_buy(sol_res: float, tok_res: float, sol_paid: float, fee: float) -> Fill:
    """Buy on the post-migration constant-product pool (no real-reserve cap)."""
    net = sol_paid * (1.0 - fee)
    new_sol = sol_res + net
    new_tok = sol_res * tok_res / new_sol
    return Fill(sol_paid, tok_res - new_tok, new_sol, new_tok, 0.0)


def amm_sell(sol_res: float, tok_res: float, tokens: float, fee: float) -> Fill:
    new_tok = tok_res + tokens
    new_sol = sol_res * tok_res / new_tok
    return Fill((sol_res - new_sol) * (1.0 - fee), tokens, new_sol, new_tok, 0.0)


def migration_pool(vsol: float) -> tuple[float, float]:
    """Pool reserves (SOL, tokens) when a graduated curve migrates to the AMM."""
    real_sol = vsol - INITIAL_VIRTUAL_SOL
    return max(real_sol - MIGRATION_FEE_SOL, 1.0), AMM_POOL_TOKENS
