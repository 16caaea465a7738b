"""``alphastream sequencer``: merge the input topics into the market log (leader or standby)."""

from __future__ import annotations

import signal
import threading

import typer

from streams.cli import app
from streams.cli.common import setting_option, settings_of


@app.command("sequencer")
def sequencer(
    ctx: typer.Context,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    app_id: str | None = setting_option("app_id", "--app-id"),
    topic_prefix: str | None = setting_option("topic_prefix", "--topic-prefix"),
    hold_ms: float | None = setting_option("sequencer_hold_ms", "--hold-ms"),
    max_wait_ms: float | None = setting_option("sequencer_max_wait_ms", "--max-wait-ms"),
    marker_interval_s: float | None = setting_option(
        "sequencer_marker_interval_s", "--marker-interval-s"
    ),
    max_future_skew_s: float | None = setting_option("max_future_skew_s", "--max-future-skew-s"),
    metrics_port: int | None = setting_option("sequencer_metrics_port", "--metrics-port"),
) -> None:
    """Lead (or stand by to lead) the writing of the market log until Ctrl-C / SIGTERM."""
    from streams.sequencer import run_sequencer
    from streams.topics import TopicNames

    settings = settings_of(
        ctx,
        kafka_bootstrap=bootstrap,
        app_id=app_id,
        topic_prefix=topic_prefix,
        sequencer_hold_ms=hold_ms,
        sequencer_max_wait_ms=max_wait_ms,
        sequencer_marker_interval_s=marker_interval_s,
        max_future_skew_s=max_future_skew_s,
        sequencer_metrics_port=metrics_port,
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a clean stop: last marker, leave the group
        signal.signal(sig, lambda *_: stop.set())
    prefix = settings.topic_prefix
    topics = TopicNames.prefixed(prefix) if prefix else TopicNames()
    run_sequencer(settings, topics, stop)
