"""``alphastream notify``: post scores and monitor alerts to chat through apprise, per a rule file."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from prometheus_client import start_http_server

from streams.cli import app
from streams.cli.common import setting_option, settings_of


@app.command("notify")
def notify(
    ctx: typer.Context,
    rules_path: Annotated[Path, typer.Argument(help="TOML rule file (format: docs/notify.md)", exists=True,
                                               dir_okay=False)],
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    group_id: str = typer.Option("alphastream-notify", "--group-id", envvar="ALPHASTREAM_NOTIFY_GROUP_ID",
                                 show_envvar=True, help="Consumer group (one notifier per group)"),
    topic_prefix: str | None = setting_option("topic_prefix", "--topic-prefix",
                                              help="Prefix of the scores/alerts topic names"),
    from_beginning: bool = typer.Option(False, "--from-beginning/--from-latest",
                                        envvar="ALPHASTREAM_NOTIFY_FROM_BEGINNING", show_envvar=True,
                                        help="A new group starts at the oldest retained score (default: new ones only)"),
    metrics_port: int = typer.Option(0, "--metrics-port", envvar="ALPHASTREAM_NOTIFY_METRICS_PORT",
                                     show_envvar=True, help="Serve Prometheus metrics on this port (0: off)"),
) -> None:  # fmt: skip
    """Consume scores (and alerts) until Ctrl-C / SIGTERM; send what the rules allow."""
    from pydantic import ValidationError

    from streams.notify.rules import load_rules
    from streams.notify.service import NotifyMetrics, NotifyTopics, build_apprise, run_notify

    settings = settings_of(ctx, kafka_bootstrap=bootstrap, topic_prefix=topic_prefix)
    try:
        rules = load_rules(rules_path)
        sender = build_apprise(rules)
    except (ValidationError, ValueError) as exc:
        typer.secho(f"error: {rules_path}: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    metrics = NotifyMetrics()
    if metrics_port:
        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    prefix = settings.topic_prefix
    topics = NotifyTopics(scores=prefix + "scores", alerts=prefix + "alerts")
    logging.getLogger(__name__).info(
        "notify: %d rules, %d URLs, topics %s", len(rules.rules), len(rules.urls), topics
    )
    notifier = run_notify(settings, rules, topics, group_id=group_id, from_beginning=from_beginning,
                          stop=stop.is_set, metrics=metrics, sender=sender)  # fmt: skip
    typer.echo(f"notify: {notifier.sent} messages sent")
