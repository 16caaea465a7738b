"""``alphastream topics``: create and list the topic plan on a broker."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of
from streams.kafka_admin import create_topics, list_topics
from streams.topics import TOPIC_PLAN

topics_app = typer.Typer(help="Create or list the topic plan (brokers must not auto-create).")
app.add_typer(topics_app, name="topics")


@topics_app.command("create")
def create(
    ctx: typer.Context,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    partitions: int | None = setting_option("partitions", "--partitions"),
) -> None:
    """Create every topic of the plan that does not exist yet (idempotent)."""
    settings = settings_of(ctx, kafka_bootstrap=bootstrap, partitions=partitions)
    created = create_topics(settings)
    Console().print(f"created {len(created)} topic(s): {', '.join(created) or '-'}")


@topics_app.command("list")
def show(
    ctx: typer.Context,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
) -> None:
    """Show the topic plan and which topics exist on the broker."""
    settings = settings_of(ctx, kafka_bootstrap=bootstrap)
    existing = list_topics(settings)
    table = Table("topic", "key", "partitions", "cleanup", "retention (d)", "exists", "purpose")
    for spec in TOPIC_PLAN:
        table.add_row(
            spec.name,
            spec.key,
            str(spec.partitions or settings.partitions),
            spec.cleanup_policy,
            f"{spec.retention_ms / 86_400_000:g}",
            "yes" if spec.name in existing else "no",
            spec.purpose,
        )
    Console().print(table)
