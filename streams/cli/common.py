"""Helpers shared by command modules: settings from the context, overrides from flags."""

from __future__ import annotations

from typing import Any

import typer

from streams.settings import Settings


def settings_of(ctx: typer.Context, **overrides: Any) -> Settings:
    """The loaded settings, with any flags the user passed explicitly applied on top."""
    base: Settings = ctx.obj if isinstance(ctx.obj, Settings) else Settings()
    given = {k: v for k, v in overrides.items() if v is not None}
    return base.model_copy(update=given) if given else base
