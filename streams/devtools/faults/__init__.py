"""The fault matrix: one fault at a time against real workers and a real Apache Kafka while a
simulated market flows at a steady rate; each row reports what went in, what came out, what was
lost (must be nothing) and how long the pipeline took to recover.

``python -m streams.devtools.faults`` (``make faults``) runs every row at full duration and
writes ``faults.md`` and ``faults.json``; ``tests/integration/test_fault_matrix.py`` runs the
same rows with short durations and asserts their invariants.
"""

from streams.devtools.faults.report import render_json, render_markdown
from streams.devtools.faults.rows import ROWS, UNTESTED
from streams.devtools.faults.scenario import Durations, RowResult, run_row

__all__ = [
    "ROWS",
    "UNTESTED",
    "Durations",
    "RowResult",
    "render_json",
    "render_markdown",
    "run_row",
]
