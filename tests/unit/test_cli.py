"""The CLI's promises: every command is listed, and every option shows its env-var fallback."""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer
from typer.testing import CliRunner

from streams.cli import COMMANDS, _register, app


def _leaf_commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    subcommands = getattr(command, "commands", None)  # typer may vendor its own click: duck-type
    if subcommands is not None:
        for name, sub in subcommands.items():
            yield from _leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def _root() -> click.Command:
    _register()
    return typer.main.get_command(app)


def test_help_lists_every_command() -> None:
    _register()
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert f" {name} " in result.output


def test_every_option_has_an_alphastream_env_var_shown_in_help() -> None:
    leaves = list(_leaf_commands(_root()))
    assert len(leaves) >= len(COMMANDS)
    for path, command in leaves:
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option" and param.name != "help":
                envvars = (
                    [param.envvar] if isinstance(param.envvar, str) else list(param.envvar or [])
                )
                assert envvars and all(e.startswith("ALPHASTREAM_") for e in envvars), (
                    path,
                    param.name,
                )
                assert param.show_envvar, (path, param.name)
