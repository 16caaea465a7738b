"""Helpers shared by command modules: settings from the context, overrides from flags.

``Settings`` (pydantic-settings) is the one source of every default and env var. A flag that
sets a settings field is built with :func:`setting_option`: it defaults to ``None`` (so the
loaded settings apply), and its help shows the field's env var and default. The flags a user
gave are layered over the loaded settings and validated exactly like env values.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from streams.settings import Settings, env_var


def settings_of(ctx: typer.Context, **overrides: Any) -> Settings:
    """The loaded settings with the flags the user passed (not ``None``) layered on top.

    The merged values go through the same validation as env values (types, bounds, ``SecretStr``
    for secrets); a value that fails is reported as a bad parameter (exit 2), not a traceback.
    """
    base: Settings = ctx.obj if isinstance(ctx.obj, Settings) else load_settings()
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return base
    unknown = sorted(set(given) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"not settings fields: {', '.join(unknown)}")
    # only what was set (env, flags) is passed on, so model_fields_set still says what a user
    # chose and what is a default (the demo's embedded-broker profile keeps the user's choices)
    merged = {name: getattr(base, name) for name in base.model_fields_set} | given
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise typer.BadParameter(_describe(exc)) from None


def load_settings() -> Settings:
    """Settings from the ALPHASTREAM_* environment; a bad value is a usage error (exit 2)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise typer.BadParameter(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    """One line per bad field, naming the env var/flag it came from (never echoing the value)."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        lines.append(f"{field} ({env_var(field)}): {error['msg']}")
    return "; ".join(lines)


def setting_default(field: str) -> Any:
    """The default of one settings field, as declared in ``Settings``."""
    info = Settings.model_fields[field]
    return None if info.is_required() else info.get_default(call_default_factory=True)


def shown_default(field: str) -> str:
    """How ``--help`` writes a field's default."""
    default = setting_default(field)
    if default is None:
        return "none"
    return str(default) if default != "" else '""'


def setting_option(field: str, *flags: str, **extra: Any) -> Any:
    """A typer option for one settings field: default ``None`` (the settings decide), help,
    env var and shown default all generated from the field."""
    return typer.Option(
        None,
        *flags,
        help=extra.pop("help", Settings.model_fields[field].description),
        envvar=env_var(field),
        show_envvar=True,
        show_default=shown_default(field),
        **extra,
    )
