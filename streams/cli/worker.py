"""``alphastream worker``: run one streaming scorer worker (faust, consumer group = app id)."""

from __future__ import annotations

import logging

import typer
from prometheus_client import start_http_server

from streams.cli import app
from streams.cli.common import setting_option, settings_of


@app.command("worker")
def worker(
    ctx: typer.Context,
    bootstrap: str | None = setting_option("kafka_bootstrap", "--bootstrap"),
    app_id: str | None = setting_option("app_id", "--app-id"),
    models_dir: str | None = setting_option("models_dir", "--models-dir"),
    log_batch: int | None = setting_option("log_batch", "--log-batch"),
    metrics_port: int | None = setting_option("metrics_port", "--metrics-port"),
    web: bool | None = setting_option("web", "--web/--no-web"),
    web_port: int | None = setting_option("web_port", "--web-port"),
    http_port: int | None = setting_option("http_port", "--http-port"),
    http_host: str | None = setting_option("http_host", "--http-host"),
    topic_prefix: str | None = setting_option("topic_prefix", "--topic-prefix"),
    handover_window_s: float | None = setting_option("handover_window_s", "--handover-window-s"),
    profile_path: str = typer.Option(
        "",
        "--profile",
        envvar="ALPHASTREAM_PROFILE_PATH",
        show_envvar=True,
        help="Write a cProfile (CPU time) of the hot loop (read, engine, scoring, publish) to this "
        "file on exit (pstats)",
    ),
) -> None:
    """Replay the market log, score the owned shards, publish scores/signals/outcomes."""
    from streams.app.faust_app import WorkerOptions, create_app
    from streams.app.metrics import WorkerMetrics
    from streams.topics import TopicNames

    settings = settings_of(
        ctx,
        kafka_bootstrap=bootstrap,
        app_id=app_id,
        models_dir=models_dir,
        log_batch=log_batch,
        metrics_port=metrics_port,
        web=web,
        web_port=web_port,
        http_port=http_port,
        http_host=http_host,
        topic_prefix=topic_prefix,
        handover_window_s=handover_window_s,
    )
    prefix = settings.topic_prefix
    options = WorkerOptions(
        topics=TopicNames.prefixed(prefix) if prefix else TopicNames(),
        web=settings.web,
        web_port=settings.web_port,
        http_port=settings.http_port or None,
        http_host=settings.http_host,
        profile_path=profile_path or None,
    )
    metrics = WorkerMetrics()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, registry=metrics.registry)
        logging.getLogger(__name__).info("metrics on :%d/metrics", settings.metrics_port)
    import faust

    try:
        faust_app = create_app(settings, options, metrics=metrics)
    except RuntimeError as exc:  # e.g. the state dir is held by another worker
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    runner = faust.Worker(
        faust_app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False
    )
    runner.execute_from_commandline()
