"""Figures for the HTML reports (demo, monitor): headless matplotlib and one way to save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers or in CI
import matplotlib.pyplot as plt


def save_figure(fig: Any, out: Path, dpi: int = 90) -> Path:
    """Lay out, write ``out`` as PNG and free the figure (reports make many)."""
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
