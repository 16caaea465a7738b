"""``alphastream simulate --kafka`` publishes the same events to the input topics (tansu)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import _register, app
from streams.events import INPUT_TYPES
from streams.kafka_admin import create_topics
from streams.settings import Settings
from streams.topics import INPUT_TOPICS
from tests.integration.test_foundation import consume_ids

pytestmark = [pytest.mark.integration, pytest.mark.tansu]


def test_simulate_publishes_every_event_keyed_by_mint(
    tansu_bootstrap: str, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    create_topics(settings_for(tansu_bootstrap, partitions=3))
    _register()
    args = ["simulate", "--seed", "424242", "--hours", "0.25", "--launch-rate", "2000"]
    args += ["--out", str(tmp_path), "--kafka", "--bootstrap", tansu_bootstrap, "--speed", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    written = [orjson.loads(line) for line in (tmp_path / "events.jsonl").read_bytes().splitlines()]
    assert len(written) > 20
    found = consume_ids(tansu_bootstrap, list(INPUT_TOPICS), {e["event_id"] for e in written})
    assert len(found) == len(written)
    for ev in written:
        topic, key, decoded = found[ev["event_id"]]
        assert topic == INPUT_TYPES[ev["type"]][1]
        assert key == ev["mint"].encode()
        assert decoded.ts == ev["ts"] and decoded.mint == ev["mint"]
    assert "published" in result.output
