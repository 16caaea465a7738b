"""The worker stays small enough to read: ``streams/app/`` (the worker's runtime code) holds at
most 2,000 lines of Python, no module over 400 lines and no function over 60."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "streams" / "app"
TOTAL_LINES, MODULE_LINES, FUNCTION_LINES = 2_000, 400, 60


def _modules() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(APP.glob("*.py"))}


def test_the_worker_package_fits_its_line_budget() -> None:
    lines = {name: len(source.splitlines()) for name, source in _modules().items()}
    assert sum(lines.values()) <= TOTAL_LINES, lines
    assert {n: c for n, c in lines.items() if c > MODULE_LINES} == {}


def test_no_worker_function_is_longer_than_sixty_lines() -> None:
    long = {}
    for name, source in _modules().items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > FUNCTION_LINES:
                    long[f"{name}:{node.name}"] = length
    assert long == {}
