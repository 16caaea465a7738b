"""Render a report template (autoescaped) and write it as a page."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("streams.reports", "templates"),
        autoescape=True,  # every value is text from data: escaped unless a template says so
        undefined=jinja2.StrictUndefined,  # a missing value fails the render, not the reader
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, **values: Any) -> str:
    return environment().get_template(template).render(**values)


def write_page(path: Path, template: str, **values: Any) -> Path:
    path.write_text(render(template, **values), encoding="utf-8")
    return path
