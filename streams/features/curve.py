"""Bonding-curve constants of a pump.fun-style launchpad (whole tokens, SOL)."""

from __future__ import annotations

INITIAL_VIRTUAL_SOL = 30.0
INITIAL_VIRTUAL_TOKENS = 1_073_000_000.0
INITIAL_REAL_TOKENS = 793_100_000.0  # tokens sold on the curve before graduation
TOTAL_SUPPLY = 1_000_000_000.0
FEE_RATE = 0.01  # buy: sol_amount includes the fee; sell: sol_amount is after the fee


def curve_progress(real_token_reserves: float, graduated: bool) -> float:
    """Fraction of the 793.1M real curve tokens sold, clipped to [0, 1]; 1 once graduated."""
    if graduated:
        return 1.0
    progress = 1.0 - real_token_reserves / INITIAL_REAL_TOKENS
    return 0.0 if progress < 0.0 else (1.0 if progress > 1.0 else progress)
