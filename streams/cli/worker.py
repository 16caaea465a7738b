"""``alphastream worker``: run one streaming scorer worker (faust, consumer group = app id)."""

from __future__ import annotations

import logging

import typer
from prometheus_client import start_http_server

from streams.cli import app
from streams.cli.common import settings_of


@app.command("worker")
def worker(
    ctx: typer.Context,
    bootstrap: str = typer.Option(
        None, "--bootstrap", envvar="ALPHASTREAM_KAFKA_BOOTSTRAP", show_envvar=True
    ),
    app_id: str = typer.Option(None, "--app-id", envvar="ALPHASTREAM_APP_ID", show_envvar=True),
    models_dir: str = typer.Option(
        None, "--models-dir", envvar="ALPHASTREAM_MODELS_DIR", show_envvar=True
    ),
    batch_size: int = typer.Option(
        None, "--batch-size", envvar="ALPHASTREAM_BATCH_SIZE", show_envvar=True
    ),
    metrics_port: int = typer.Option(
        9464,
        "--metrics-port",
        envvar="ALPHASTREAM_METRICS_PORT",
        show_envvar=True,
        help="Prometheus metrics port (0: off)",
    ),
    web: bool = typer.Option(
        False,
        "--web/--no-web",
        help="Start faust's web server (off by default)",
        envvar="ALPHASTREAM_WEB",
        show_envvar=True,
    ),
    web_port: int = typer.Option(
        6066, "--web-port", envvar="ALPHASTREAM_WEB_PORT", show_envvar=True
    ),
    http_port: int = typer.Option(
        0,
        "--http-port",
        envvar="ALPHASTREAM_HTTP_PORT",
        show_envvar=True,
        help="Serve /scores/{mint}, /healthz, /ready, /metrics and /board on this port (0: off)",
    ),
    http_host: str = typer.Option(
        "127.0.0.1",
        "--http-host",
        envvar="ALPHASTREAM_HTTP_HOST",
        show_envvar=True,
        help="Address the HTTP server binds (0.0.0.0 in a container)",
    ),
    topic_prefix: str = typer.Option(
        "",
        "--topic-prefix",
        envvar="ALPHASTREAM_TOPIC_PREFIX",
        show_envvar=True,
        help="Prefix of every topic name (isolated runs on a shared broker)",
    ),
    idle_s: float = typer.Option(
        0.25,
        "--idle-s",
        envvar="ALPHASTREAM_IDLE_S",
        show_envvar=True,
        help="Re-sequencer: a caught-up partition quiet this long stops holding the watermark",
    ),
    settle_s: float = typer.Option(
        0.05,
        "--settle-s",
        min=0.0,
        envvar="ALPHASTREAM_SETTLE_S",
        show_envvar=True,
        help="Re-sequencer on exact brokers: release an event once it is this old (the "
        "cross-partition reordering by producers it tolerates; a floor under latency)",
    ),
    profile_path: str = typer.Option(
        "",
        "--profile",
        envvar="ALPHASTREAM_PROFILE_PATH",
        show_envvar=True,
        help="Write a cProfile (CPU time) of the event-loop thread to this file on exit (pstats)",
    ),
) -> None:
    """Consume token-genesis / wallet-buy / wallet-sell, score, publish scores/signals/outcomes."""
    from streams.app.core import TopicNames
    from streams.app.faust_app import WorkerOptions, create_app
    from streams.app.metrics import WorkerMetrics

    settings = settings_of(
        ctx, kafka_bootstrap=bootstrap, app_id=app_id, models_dir=models_dir, batch_size=batch_size
    )
    options = WorkerOptions(
        topics=TopicNames.prefixed(topic_prefix) if topic_prefix else TopicNames(),
        idle_s=idle_s,
        settle_s=settle_s,
        web=web,
        web_port=web_port,
        http_port=http_port or None,
        http_host=http_host,
    )
    metrics = WorkerMetrics()
    if metrics_port:
        start_http_server(metrics_port, registry=metrics.registry)
        logging.getLogger(__name__).info("metrics on :%d/metrics", metrics_port)
    import faust

    try:
        faust_app = create_app(settings, options, metrics=metrics)
    except RuntimeError as exc:  # e.g. the state dir is held by another worker
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc
    runner = faust.Worker(
        faust_app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False
    )
    if not profile_path:
        runner.execute_from_commandline()
        return
    import cProfile
    import time

    # CPU time of the event-loop thread: stable on a shared machine, idle waits cost nothing
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        runner.execute_from_commandline()
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)
