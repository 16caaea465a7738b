"""Flags over settings: one source of defaults (pydantic-settings), flags validated like env
values, and ``--help`` showing each setting's env var and default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, cast

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

from streams.cli import _register, app
from streams.cli.common import settings_of, shown_default
from streams.settings import Settings, env_var

if TYPE_CHECKING:  # what typer.main.get_command builds: typer vendors its own click
    from typer._click import Command
    from typer.core import TyperOption

ENV_OF_FIELD = {env_var(name): name for name in Settings.model_fields}


def _options() -> Iterator[tuple[str, TyperOption]]:
    _register()

    def walk(command: Command, path: str) -> Iterator[tuple[str, TyperOption]]:
        for name, sub in (getattr(command, "commands", None) or {}).items():
            yield from walk(sub, f"{path} {name}".strip())
        for param in command.params:
            if getattr(param, "param_type_name", "") == "option":  # typer may vendor click
                yield path, cast("TyperOption", param)

    yield from walk(typer.main.get_command(app), "")


def _context(settings: Settings) -> typer.Context:
    return typer.Context(typer.main.get_command(app), obj=settings)


def test_flags_are_layered_over_loaded_settings_and_validated() -> None:
    base = Settings(kafka_bootstrap="env:9092", partitions=3)
    merged = settings_of(_context(base), clickhouse_dsn="chdb:///tmp/x", partitions=None)
    assert isinstance(merged.clickhouse_dsn, SecretStr)  # a plain str flag becomes the secret
    assert merged.clickhouse_url() == "chdb:///tmp/x"
    assert "chdb:///tmp/x" not in repr(merged)
    assert (merged.kafka_bootstrap, merged.partitions) == ("env:9092", 3)  # None: settings kept
    assert settings_of(_context(base)) is base
    with pytest.raises(typer.BadParameter, match="partitions"):
        settings_of(_context(base), partitions=0)
    with pytest.raises(TypeError, match="not settings fields"):
        settings_of(_context(base), no_such_field=1)


def test_flags_do_not_mark_defaults_as_chosen() -> None:
    """The demo's embedded-broker profile reads model_fields_set to keep the user's choices."""
    base = Settings(partitions=4)
    merged = settings_of(_context(base), log_level="DEBUG")
    assert {"partitions", "log_level"} <= merged.model_fields_set
    assert "input_linger_ms" not in merged.model_fields_set
    assert (merged.partitions, merged.log_level) == (4, "DEBUG")


def test_a_bad_flag_or_env_value_is_a_usage_error_naming_the_env_var() -> None:
    _register()
    runner = CliRunner()
    result = runner.invoke(app, ["topics", "create", "--partitions", "0"])
    assert result.exit_code == 2
    assert "ALPHASTREAM_PARTITIONS" in result.output
    result = runner.invoke(app, ["topics", "list"], env={"ALPHASTREAM_PARTITIONS": "zero"})
    assert result.exit_code == 2
    assert "ALPHASTREAM_PARTITIONS" in result.output


def test_options_for_settings_default_to_none_and_show_the_settings_default() -> None:
    seen = set()
    for path, option in _options():
        envvars = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or [])
        for name in envvars:
            if name in ENV_OF_FIELD:
                seen.add(ENV_OF_FIELD[name])
                # None: the loaded settings (env, then the field's default) decide
                assert option.default is None, (path, option.name)
                if isinstance(option.show_default, str):  # built by setting_option
                    assert option.show_default == shown_default(ENV_OF_FIELD[name])
    assert {
        "kafka_bootstrap",
        "clickhouse_dsn",
        "handover_window_s",
        "log_batch",
        "sink_max_rows",
    } <= seen


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (["worker"], "handover_window_s"),
        (["sequencer"], "sequencer_hold_ms"),
        (["worker"], "metrics_port"),
        (["sink"], "sink_max_wait_s"),
        (["db", "init"], "clickhouse_dsn"),
        (["sql"], "clickhouse_dsn"),
    ],
)
def test_help_shows_the_env_var_and_default_of_each_setting(command: list[str], field: str) -> None:
    _register()
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # rich wraps and pads the help table
    assert env_var(field) in text
    assert f"[default: ({shown_default(field)})]" in text
    assert str(Settings.model_fields[field].default).lower() in shown_default(field)
