"""The CLI's promises: every command is listed, and every option shows its env-var fallback."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import typer
from typer.testing import CliRunner

from streams.cli import COMMANDS, _register, app

if TYPE_CHECKING:  # what typer.main.get_command builds: typer vendors its own click
    from typer._click import Command
    from typer.core import TyperOption


def _leaf_commands(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Command]]:
    subcommands = getattr(command, "commands", None)  # typer may vendor its own click: duck-type
    if subcommands is not None:
        for name, sub in subcommands.items():
            yield from _leaf_commands(sub, (*path, name))
    else:
        yield " ".join(path), command


def _root() -> Command:
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
                assert cast("TyperOption", param).show_envvar, (path, param.name)


def test_a_runtime_command_loads_only_its_own_module() -> None:
    # `alphastream worker` and `alphastream sequencer` must not pay for training's imports
    # (LightGBM, scikit-learn, SciPy: seconds of CPU at every start of every process)
    probe = (
        "import sys; from streams import cli; sys.argv = ['alphastream', '{cmd}', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('training', 'lightgbm', 'sklearn', 'scipy', 'optuna')\n"
        "print(sorted({{m.split('.')[0] for m in sys.modules}} & set(heavy)))\n"
        "print(sorted(m for m in sys.modules if m.startswith('streams.cli.')))"
    )
    for command in ("worker", "sequencer"):
        out = subprocess.run(
            [sys.executable, "-c", probe.format(cmd=command)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        heavy, modules = out.stdout.strip().splitlines()[-2:]
        assert heavy == "[]", (command, heavy)
        loaded = {m.removeprefix("streams.cli.") for m in ast.literal_eval(modules)}
        assert loaded & set(COMMANDS) == {command}, (command, loaded)


def test_the_full_help_loads_no_training_or_monitor_stack() -> None:
    # `alphastream --help` imports every command module; each loads its heavy stack (LightGBM,
    # scikit-learn, matplotlib: ~2.5 s) only when it runs
    probe = (
        "import sys; from streams import cli; sys.argv = ['alphastream', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('training', 'lightgbm', 'sklearn', 'optuna', 'matplotlib', 'onnx', 'apprise')\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
        "print(sorted(m for m in sys.modules if m.startswith('streams.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    heavy, modules = out.stdout.strip().splitlines()[-2:]
    assert heavy == "[]", heavy
    loaded = {m.removeprefix("streams.cli.") for m in ast.literal_eval(modules)}
    assert set(COMMANDS) <= loaded  # the help did list every command
