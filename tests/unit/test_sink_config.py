"""``alphastream sink`` follows ``Settings.topic_prefix`` like the worker does (it read the
unprefixed topics before, so a prefixed deployment's signals never reached the store)."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli import _register, app
from streams.store.sink import GROUP_ID, SinkConfig
from streams.topics import TopicNames


def test_config_for_a_prefix_names_the_workers_output_topics() -> None:
    names = TopicNames.prefixed("run7.")
    config = SinkConfig.for_prefix("run7.", max_rows=12, max_wait_s=0.5)
    assert (config.signals_topic, config.outcomes_topic, config.dead_letter_topic) == (
        names.signals,
        names.outcomes,
        names.dead_letter,
    )
    assert config.group_id == "run7." + GROUP_ID
    assert (config.max_rows, config.max_wait_s) == (12, 0.5)


def test_no_prefix_is_the_default_config() -> None:
    assert SinkConfig.for_prefix("") == SinkConfig()


def test_sink_command_takes_the_topic_prefix() -> None:
    _register()
    result = CliRunner().invoke(app, ["sink", "--help"], env={"COLUMNS": "240"})
    assert result.exit_code == 0, result.output
    assert "--topic-prefix" in result.output and "ALPHASTREAM_TOPIC_PREFIX" in result.output
