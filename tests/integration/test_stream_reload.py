"""Live hot reload on real Apache Kafka, and a smoke run on tansu.

A new model pair dropped into the models dir changes the scores' model version within the
reload interval, without a restart; a corrupt pair changes nothing and the reason is logged."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.app import TopicNames
from streams.contracts.features import STANDARD_NAMES
from streams.devtools.harness import Collector, new_producer, produce_events, sim_events
from streams.devtools.pipeline import InProcessWorker
from streams.devtools.synthetic.models import synthetic_pair
from streams.kafka_admin import create_prefixed_topics
from tests.conftest import SettingsFor, unique_id
from training.export import deploy_pair

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def phases() -> Iterator[list[list[dict[str, Any]]]]:
    events = sim_events(seed=31, hours=0.75, launch_rate_per_day=1200)
    third = len(events) // 3
    yield [events[:third], events[third : 2 * third], events[2 * third :]]


def _buy_scores(
    collector: Collector, topic: str, phase: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    ids = {e["event_id"] for e in phase if e["type"] == "wallet_buy"}
    return [s for s in collector.records[topic] if s["source_event_id"] in ids]


def test_hot_reload_live(
    kafka_bootstrap: str,
    settings_for: SettingsFor,
    tmp_path: Path,
    phases: list[list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    models = tmp_path / "models"
    settings = settings_for(kafka_bootstrap, models_dir=models, model_reload_interval_s=1.0)
    prefix = unique_id("reload") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    producer = new_producer(settings)
    collector = Collector(settings, [topics.scores])
    caplog.set_level(logging.WARNING, logger="streams.scoring")

    def feed_and_wait(phase: list[dict[str, Any]]) -> list[dict[str, Any]]:
        n = sum(e["type"] == "wallet_buy" for e in phase)
        produce_events(producer, topics, phase)
        assert collector.wait_for(
            lambda: len(_buy_scores(collector, topics.scores, phase)) >= n, 60
        )
        return _buy_scores(collector, topics.scores, phase)

    first = synthetic_pair(STANDARD_NAMES, version="20250101T000000Z", seed=1)
    with InProcessWorker(settings, topics) as running:
        before = feed_and_wait(phases[0])
        assert {s["source"] for s in before} == {"rule"} and all(s["models"] == {} for s in before)

        deploy_pair(first.onnx_bytes, first.metadata, models)
        label = f"{first.metadata.model_id}@{first.metadata.version}"
        serving = {"family": "standard", "target": "reach_2x_1h", "model": label}
        assert collector.wait_for(
            lambda: running.sample("alphastream_model_info", serving) == 1, 60
        )
        after = feed_and_wait(phases[1])
        assert {s["models"].get("reach_2x_1h") for s in after} == {label}
        assert all(s["source"] == "model" and s["scores"]["reach_2x_1h"] is not None for s in after)

        corrupt = synthetic_pair(STANDARD_NAMES, version="20260101T000000Z", seed=2)
        deploy_pair(corrupt.onnx_bytes, corrupt.metadata, models)
        onnx = next(models.glob("standard__reach_2x_1h.onnx"))
        onnx.write_bytes(onnx.read_bytes()[:200])  # truncated: sha mismatch, unloadable
        assert collector.wait_for(
            lambda: running.sample("alphastream_rejected_model_pairs") >= 1, 60
        )
        last = feed_and_wait(phases[2])
        assert {s["models"].get("reach_2x_1h") for s in last} == {
            label
        }  # old version keeps serving
    collector.close()
    worker = running.worker  # set once the worker stopped
    assert worker is not None and worker.registry.rejections, "the corrupt pair was not reported"
    assert any("model rejected" in r.getMessage() for r in caplog.records)


def test_smoke_on_tansu(tansu_bootstrap: str, settings_for: SettingsFor, tmp_path: Path) -> None:
    settings = settings_for(
        tansu_bootstrap,
        models_dir=tmp_path / "models",
        partitions=3,
        kafka_idempotence=False,
    )
    prefix = unique_id("tansu") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    events = sim_events(seed=41, hours=0.3, launch_rate_per_day=1200)
    buys = {e["event_id"] for e in events if e["type"] == "wallet_buy"}
    produce_events(new_producer(settings), topics, events)
    collector = Collector(settings, [topics.scores])
    with InProcessWorker(settings, topics):
        done = collector.wait_for(
            lambda: buys <= {s["source_event_id"] for s in collector.records[topics.scores]},
            90,
            settle_s=1.0,
        )
    collector.close()
    scored = [s["source_event_id"] for s in collector.records[topics.scores] if s["kind"] == "buy"]
    assert done and sorted(scored) == sorted(buys)
