"""``alphastream bench ...``: the commands; the benches themselves live in streams/devtools/bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from streams.cli import app
from streams.cli.common import setting_option, settings_of

bench_app = typer.Typer(help="Benchmarks (engine; more subcommands are added by other modules).")
app.add_typer(bench_app, name="bench")


@bench_app.command("engine")
def engine(
    events: Annotated[
        Path | None,
        typer.Option("--events", envvar="ALPHASTREAM_BENCH_EVENTS", show_envvar=True,
                     help="Events JSONL to replay (default: simulate --hours)"),
    ] = None,
    hours: Annotated[
        float,
        typer.Option("--hours", envvar="ALPHASTREAM_BENCH_HOURS", show_envvar=True,
                     help="Simulated hours when no --events file is given"),
    ] = 2.0,
    launch_rate: Annotated[
        float,
        typer.Option("--launch-rate", envvar="ALPHASTREAM_BENCH_LAUNCH_RATE", show_envvar=True,
                     help="Simulated launches per day"),
    ] = 20_000.0,
    seed: Annotated[
        int, typer.Option("--seed", envvar="ALPHASTREAM_BENCH_SEED", show_envvar=True)
    ] = 1,
) -> None:  # fmt: skip
    """Feature-engine events/s (parse excluded and included), cProfile top-10, memory per entity."""
    from streams.devtools.bench.engine import bench_engine, simulated_payloads

    console = Console()
    payloads = (
        [line.rstrip(b"\r\n") for line in events.open("rb") if line.strip()]
        if events is not None
        else simulated_payloads(hours, launch_rate, seed)
    )
    result = bench_engine(payloads)
    table = Table("metric", "value")
    table.add_row("events", f"{result.events:,}")
    table.add_row("signals / outcomes", f"{result.signals:,} / {result.outcomes:,}")
    table.add_row("engine events/s (parse excluded)", f"{result.engine_events_per_s:,.0f}")
    table.add_row("events/s (parse included)", f"{result.with_parse_events_per_s:,.0f}")
    table.add_row("tracked tokens / wallets at end", f"{result.tokens:,} / {result.wallets:,}")
    table.add_row("bytes per tracked token (deep size)", f"{result.bytes_per_token:,.0f}")
    table.add_row(
        "bytes per wallet (deep size, incl. co-buyers)", f"{result.bytes_per_wallet:,.0f}"
    )
    table.add_row("traced memory of the engine run (MB)", f"{result.traced_state_mb:,.1f}")
    table.add_row(
        "dedup: event ids held at end / bytes per id (deep size)",
        f"{result.seen_ids:,} / {result.bytes_per_seen_id:,.0f}",
    )
    console.print(table)
    console.print(result.profile_top)


@bench_app.command("scoring")
def scoring(
    trees: Annotated[
        int,
        typer.Option("--trees", envvar="ALPHASTREAM_BENCH_TREES", show_envvar=True,
                     help="Trees per synthetic model (68 standard features, 4 targets)"),
    ] = 200,
    seconds: Annotated[
        float,
        typer.Option("--seconds", envvar="ALPHASTREAM_BENCH_SECONDS", show_envvar=True,
                     help="Minimum timing seconds per engine / model count / batch size"),
    ] = 1.0,
    seed: Annotated[
        int, typer.Option("--seed", envvar="ALPHASTREAM_BENCH_SEED", show_envvar=True)
    ] = 0,
) -> None:  # fmt: skip
    """Scorer (onnxruntime + Platt + rule) with the family's models fused in one session, the
    same with one run per model, LightGBM predict, and the rule score alone: single-row and
    batch-256 latency/throughput for 1 and 4 models."""
    from streams.devtools.bench.scoring import run_scoring_bench

    console = Console()
    with console.status("scoring benchmark") as status:
        rows = run_scoring_bench(
            n_trees=trees, min_seconds=seconds, seed=seed, progress=status.update
        )
    table = Table("engine", "models", "batch", "median µs", "p99 µs", "rows/s")
    for r in rows:
        table.add_row(
            r.engine,
            str(r.n_models),
            str(r.batch),
            f"{r.median_us:,.1f}",
            f"{r.p99_us:,.1f}",
            f"{r.rows_per_s:,.0f}",
        )
    console.print(table)


@bench_app.command("sink")
def sink(
    signals: Annotated[
        int, typer.Option("--signals", envvar="ALPHASTREAM_BENCH_SIGNALS", show_envvar=True,
                          help="Signals to generate (each also gets ~2 outcome stages)"),
    ] = 50_000,
    batch: Annotated[
        int, typer.Option("--batch", envvar="ALPHASTREAM_BENCH_BATCH", show_envvar=True,
                          help="Messages per sink batch"),
    ] = 5_000,
    dsn: Annotated[
        str | None, typer.Option("--dsn", envvar="ALPHASTREAM_BENCH_DSN", show_envvar=True,
                                 help="Store to bench (default: a scratch chdb directory)"),
    ] = None,
) -> None:  # fmt: skip
    """Rows/s through the sink core (decode + validate + convert + batched insert) into chdb."""
    from rich.progress import Progress

    from streams.devtools.bench.sink import insert_throughput

    with Progress() as progress:
        task = progress.add_task("sink batches", total=None)
        result = insert_throughput(
            signals, batch, dsn,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    table = Table("rows", "signals", "batches", "batch size", "seconds", "rows/s")
    table.add_row(
        f"{result.rows:,}", f"{result.stored_signals:,}", str(result.batches), f"{result.batch_size:,}",
        f"{result.seconds:.2f}", f"{result.rows_per_s:,.0f}",
    )  # fmt: skip
    Console().print(table)


@bench_app.command("e2e")
def e2e(
    ctx: typer.Context,
    bootstrap: Annotated[
        str | None,
        typer.Option("--bootstrap", envvar="ALPHASTREAM_KAFKA_BOOTSTRAP", show_envvar=True,
                     help="Broker to use; with --start-kafka a local Apache Kafka is started instead"),
    ] = None,
    start_kafka: Annotated[
        bool, typer.Option("--start-kafka/--no-start-kafka", envvar="ALPHASTREAM_BENCH_START_KAFKA", show_envvar=True,
                           help="Start a local Apache Kafka (KRaft) for the run")
    ] = True,
    rate: Annotated[
        str, typer.Option("--rate", envvar="ALPHASTREAM_BENCH_RATE", show_envvar=True,
                          help="Offered buys/s of the latency phases, e.g. 300,1000 (one after the other)")
    ] = "300,1000",
    seconds: Annotated[
        float, typer.Option("--seconds", envvar="ALPHASTREAM_BENCH_SECONDS", show_envvar=True,
                            help="Seconds of paced input for the latency phase"),
    ] = 10.0,
    burst_hours: Annotated[
        float, typer.Option("--burst-hours", envvar="ALPHASTREAM_BENCH_BURST_HOURS", show_envvar=True,
                            help="Simulated hours (default market) produced at once for throughput"),
    ] = 1.0,
    warmup_hours: Annotated[
        float, typer.Option("--warmup-hours", min=0.0, envvar="ALPHASTREAM_BENCH_WARMUP_HOURS", show_envvar=True,
                            help="Simulated hours produced and scored first, not measured (warms the "
                                 "broker's JIT and the worker)"),
    ] = 0.25,
    workers: Annotated[
        str, typer.Option("--workers", envvar="ALPHASTREAM_BENCH_WORKERS", show_envvar=True,
                          help="Workers in the consumer group (subprocesses); a list such as 1,2 "
                               "runs each count on the same broker and reports the scaling"),
    ] = "1",
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, envvar="ALPHASTREAM_BENCH_REPEAT", show_envvar=True,
                          help="Rounds over the worker counts (alternating, so drift hits all)"),
    ] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", envvar="ALPHASTREAM_BENCH_JSON", show_envvar=True,
                                  help="Also write the results as JSON (one record per run and rate)"),
    ] = None,
    broker_warmup_runs: Annotated[
        int, typer.Option("--broker-warmup-runs", min=0, envvar="ALPHASTREAM_BENCH_BROKER_WARMUP_RUNS",
                          show_envvar=True,
                          help="One-worker runs on a broker started here before the measured ones, "
                               "not reported: a fresh broker's JVM takes minutes of load to warm"),
    ] = 2,
) -> None:  # fmt: skip
    """A sequencer and workers (one by default) on real Apache Kafka: events/s scored on a burst
    next to the floor (the same engine, scorer and encoder over the events in memory), p50/p99
    produce -> score-publish latency at each offered rate, each worker's CPU per input event and
    the share of it spent on events it does not own, and the scoring-kernel ceiling."""
    import tempfile
    from contextlib import ExitStack

    from streams.devtools.bench.e2e import (
        E2EResult,
        deploy_synthetic_models,
        parse_worker_counts,
        run_e2e,
        scaling,
    )

    try:
        counts = parse_worker_counts(workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workers") from exc
    try:
        rates = [float(r) for r in rate.split(",") if r.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"rates are numbers such as 300,1000: {rate!r}", param_hint="--rate"
        ) from exc
    console = Console()
    results: list[E2EResult] = []
    broker_pid: int | None = None  # a broker started here: its CPU share is reported
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-e2e-")))
        if start_kafka and bootstrap is None:
            from streams.devtools.local.kafka import KafkaBroker, ensure_jars

            with console.status("starting Apache Kafka"):
                broker = stack.enter_context(KafkaBroker(tmp / "kafka", libs=ensure_jars()))
            bootstrap, broker_pid = broker.bootstrap, broker.pid
        settings = settings_of(
            ctx, kafka_bootstrap=bootstrap, models_dir=tmp / "models", data_dir=tmp / "data"
        )
        with console.status("deploying synthetic model pairs (4 targets x 2 families)"):
            deploy_synthetic_models(settings.models_dir)
        warmups = broker_warmup_runs if broker_pid is not None else 0
        for i in range(warmups):  # discarded: they warm the broker, not measure it
            with console.status(f"warming the broker: run {i + 1}/{warmups} (not reported)"):
                run_e2e(settings, rates=rates, seconds=seconds, burst_hours=burst_hours,
                        warmup_hours=warmup_hours, log_dir=tmp / f"warm{i}", workers=1)  # fmt: skip
        runs = [n for _ in range(repeat) for n in counts]
        for i, n in enumerate(runs, 1):
            label = f"run {i}/{len(runs)}: {n} worker{'s' if n > 1 else ''}"
            with console.status(
                f"{label}: warm-up, burst, then {rate} buys/s for {seconds:g}s each"
            ):
                results.append(
                    run_e2e(
                        settings,
                        rates=rates,
                        seconds=seconds,
                        burst_hours=burst_hours,
                        warmup_hours=warmup_hours,
                        log_dir=tmp / f"run{i}",
                        workers=n,
                        broker_pid=broker_pid,
                    )
                )
    shard_count = settings.partitions
    records = [rec for r in results for rec in r.records(shard_count)]
    if json_out is not None:
        import orjson

        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2))
    _print_e2e(console, results, scaling(results), records)


def _gc_cell(rec: dict[str, Any]) -> str:
    """Cyclic-GC pause time during the latency run, and how many pauses were over 50 ms."""
    return " / ".join(f"{rec['gc_pause_ms'][k]:,.0f} ({rec['gc_pauses_over_50ms'][k]})"
                      for k in ("worker", "sequencer"))  # fmt: skip


def _cpu_cell(rec: dict[str, Any], key: str = "cpu_share") -> str:
    """Each process's CPU (or run-queue wait) per wall second during the latency run (n/a: not
    measurable)."""
    return " / ".join("n/a" if v is None else f"{v:.0%}" for v in rec[key].values())


def _print_e2e(
    console: Console, results: list[Any], ratios: dict[int, float], records: list[dict[str, Any]]
) -> None:
    first = results[0]
    console.print(
        f"burst: {first.events:,} events ({first.buys:,} buys) after a warm-up; latency: buys "
        "offered at each rate, produce -> score publish"
    )
    table = Table("workers", "events/s", "floor events/s", "of floor", "CPU us/event per worker",
                  "not-owned share", "offered buys/s", "achieved", "p50 ms", "p99 ms",
                  "GC ms (>50 ms) worker / sequencer", "CPU % worker / seq / broker / gen",
                  "waiting for a core %", "checkpoints (stall ms)", title="burst throughput, then latency per offered rate")  # fmt: skip
    for rec in records:
        table.add_row(
            str(rec["workers"]), f"{rec['throughput_events_per_s']:,.0f}",
            f"{rec['floor_events_per_s']:,.0f}", f"{rec['throughput_over_floor']:.0%}",
            ", ".join("n/a" if c is None else f"{c:.0f}" for c in rec["cpu_us_per_event"]),
            ", ".join("n/a" if c is None else f"{c:.0%}" for c in rec["not_owned_share"]),
            f"{rec['offered_buys_per_s']:,.0f}", f"{rec['achieved_buys_per_s']:,.0f}",
            f"{rec['p50_ms']:,.1f}", f"{rec['p99_ms']:,.1f}", _gc_cell(rec), _cpu_cell(rec),
            _cpu_cell(rec, "run_wait_share"),
            f"{rec['checkpoints']} ({rec['checkpoint_stall_ms']:,.0f})",
        )  # fmt: skip
    console.print(table)
    for n, ratio in sorted(ratios.items()):
        console.print(f"throughput with {n} workers / with 1 (medians): {ratio:.2f}x")
    for result in results:
        cap = result.core_capacity_events_per_s()
        if cap:  # a projection from the measured CPU, for hosts with a core per worker
            console.print(f"{result.workers} worker(s), a core each: ~{cap:,.0f} events/s "
                          "(one over the busiest worker's CPU per event)")  # fmt: skip
    console.print(
        f"scoring kernel ceiling (batch rows/s, same models): {first.kernel_rows_per_s:,.0f}; "
        f"models: {first.models}"
    )


_CACHE_ENTRIES = setting_option("state_cache_entries", "--cache-entries")


@bench_app.command("state")
def state(
    ctx: typer.Context,
    hours: Annotated[
        float,
        typer.Option("--hours", envvar="ALPHASTREAM_BENCH_HOURS", show_envvar=True,
                     help="Simulated hours"),
    ] = 6.0,
    launch_rate: Annotated[
        float,
        typer.Option("--launch-rate", envvar="ALPHASTREAM_BENCH_LAUNCH_RATE", show_envvar=True,
                     help="Simulated launches per day"),
    ] = 4_000.0,
    commit_every: Annotated[
        int,
        typer.Option("--commit-every", envvar="ALPHASTREAM_BENCH_COMMIT_EVERY", show_envvar=True,
                     help="Events between two RocksDB commits (checkpoints)"),
    ] = 20_000,
    cache_entries: int | None = _CACHE_ENTRIES,
    seed: Annotated[
        int, typer.Option("--seed", envvar="ALPHASTREAM_BENCH_SEED", show_envvar=True)
    ] = 1,
) -> None:  # fmt: skip
    """Engine on the memory vs the RocksDB state backend: events/s, commit cost per MB of
    changed state, and local vs Kafka-checkpoint restore time of the same state."""
    from streams.devtools.bench.engine import simulated_payloads
    from streams.devtools.bench.state import run_state_bench
    from streams.events import decode_input

    payloads = simulated_payloads(hours, launch_rate, seed)
    events = sorted((decode_input(p) for p in payloads), key=lambda e: (e.ts, e.event_id))
    settings = settings_of(ctx, state_cache_entries=cache_entries)
    r = run_state_bench(events, commit_every, settings.state_cache_entries)
    table = Table("metric", "value")
    table.add_row("events", f"{r.events:,}")
    table.add_row("engine events/s, memory", f"{r.memory_events_per_s:,.0f}")
    table.add_row(
        "engine events/s, rocksdb (commits excluded)", f"{r.rocks_engine_events_per_s:,.0f}"
    )
    table.add_row("engine events/s, rocksdb (commits included)", f"{r.rocks_events_per_s:,.0f}")
    table.add_row("rocksdb cache evicted values", "yes" if r.evicting else "no")
    table.add_row("commits / changed MB written", f"{r.commits} / {r.commit_mb:,.1f}")
    table.add_row(
        "commit ms per MB (drain in loop + write)",
        f"{r.commit_ms / max(r.commit_mb, 1e-9):,.1f} ({r.drain_ms / max(r.commit_mb, 1e-9):,.1f}"
        " + rest)",
    )
    table.add_row("final state (serialized MB)", f"{r.state_mb:,.1f}")
    table.add_row("restore from local RocksDB (s)", f"{r.local_restore_s:,.2f}")
    table.add_row(
        "restore from a Kafka checkpoint payload (s, read excluded)", f"{r.kafka_restore_s:,.2f}"
    )
    table.add_row(
        "memory backend, per checkpoint: delta (changes) vs full (snapshot)",
        f"{r.delta_ms:,.0f} ms for {r.delta_mb:,.1f} MB vs {r.full_ms:,.0f} ms for {r.full_mb:,.1f} MB",
    )
    table.add_row(
        "the same, serialized in a forked child (the loop pays the fork): delta vs full",
        f"{r.forked_delta_ms:,.1f} ms vs {r.forked_full_ms:,.1f} ms",
    )
    Console().print(table)


@bench_app.command("feeds")
def feeds(
    repeat: Annotated[
        int,
        typer.Option("--repeat", envvar="ALPHASTREAM_BENCH_REPEAT", show_envvar=True,
                     help="Passes over each real-feed capture"),
    ] = 20,
) -> None:  # fmt: skip
    """Real-feed decoders: frames/s and µs per frame on the logsSubscribe and PumpPortal
    captures (decode only: no socket, no producer)."""
    from streams.devtools.bench.feeds import CAPTURES, bench_decoder, load_capture
    from streams.ingest.frames import FrameDecoder
    from streams.ingest.pumpportal import PumpPortalDecoder
    from streams.ingest.solana_logs import SolanaLogsDecoder

    runs: list[tuple[FrameDecoder, Path]] = [
        (SolanaLogsDecoder(), CAPTURES / "helius" / "logs_subscribe_pumpfun.jsonl"),
        (PumpPortalDecoder(), CAPTURES / "pumpportal" / "session1.jsonl"),
    ]
    table = Table("source", "frames", "events / skipped / dead", "frames/s", "µs per frame")
    for decoder, capture in runs:
        r = bench_decoder(decoder, load_capture(capture), repeat)
        table.add_row(
            r.source, f"{r.frames:,}", f"{r.events:,} / {r.skipped:,} / {r.dead:,}",
            f"{r.frames_per_s:,.0f}", f"{r.us_per_frame:,.1f}",
        )  # fmt: skip
    Console().print(table)


@bench_app.command("lookup")
def lookup(
    requests: int = typer.Option(5000, "--requests", envvar="ALPHASTREAM_BENCH_LOOKUP_REQUESTS", show_envvar=True,
                                 help="Timed requests (after a short warm-up)"),
    concurrency: int = typer.Option(4, "--concurrency", envvar="ALPHASTREAM_BENCH_LOOKUP_CONCURRENCY",
                                    show_envvar=True, help="Requests in flight at once"),
    mints: int = typer.Option(50_000, "--mints", envvar="ALPHASTREAM_BENCH_LOOKUP_MINTS", show_envvar=True,
                              help="Tokens held in the score view"),
    update_rate: float = typer.Option(2000.0, "--update-rate", envvar="ALPHASTREAM_BENCH_LOOKUP_UPDATE_RATE",
                                      show_envvar=True, help="Scores per second published into the view meanwhile"),
) -> None:  # fmt: skip
    """Latency of GET /scores/{mint} (p50/p99) from a local client against the worker's server."""
    from streams.devtools.bench.lookup import run_lookup_bench

    result = run_lookup_bench(requests, concurrency, mints, update_rate)
    table = Table(title="GET /scores/{mint}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in (
        ("requests / in flight", f"{result.requests:,} / {result.concurrency}"),
        ("mints held / scores per s published", f"{result.mints:,} / {result.update_rate:,.0f}"),
        ("round trip p50 ms", f"{result.p50_ms:.2f}"),
        ("round trip p90 ms", f"{result.p90_ms:.2f}"),
        ("round trip p99 ms", f"{result.p99_ms:.2f}"),
        ("round trip max ms", f"{result.max_ms:.2f}"),
        (
            "inside the handler: p50 / p99 ms",
            f"{result.server_p50_ms:.3f} / {result.server_p99_ms:.3f}",
        ),
        ("requests per s", f"{result.per_s:,.0f}"),
        ("404s", f"{result.not_found}"),
    ):
        table.add_row(name, value)
    Console().print(table)


@bench_app.command("sequencer")
def sequencer(
    ctx: typer.Context,
    hours: float = typer.Option(2.0, "--hours", envvar="ALPHASTREAM_BENCH_HOURS", show_envvar=True,
                                help="Simulated hours of market"),
    launch_rate: float = typer.Option(20_000.0, "--launch-rate", envvar="ALPHASTREAM_BENCH_LAUNCH_RATE",
                                      show_envvar=True, help="Simulated launches per day"),
    seed: int = typer.Option(1, "--seed", envvar="ALPHASTREAM_BENCH_SEED", show_envvar=True),
    runs: int = typer.Option(5, "--runs", envvar="ALPHASTREAM_BENCH_RUNS", show_envvar=True,
                             help="Timed runs (the median is shown)"),
    kafka: bool = typer.Option(False, "--kafka/--no-kafka", envvar="ALPHASTREAM_BENCH_SEQUENCER_KAFKA",
                               show_envvar=True, help="Also run a sequencer process on Apache Kafka: "
                               "burst records/s and produce -> market-log latency at --rate"),
    bootstrap: str | None = typer.Option(None, "--bootstrap", envvar="ALPHASTREAM_KAFKA_BOOTSTRAP",
                                         show_envvar=True, help="Broker for --kafka (default: start a local one)"),
    rate: float = typer.Option(1000.0, "--rate", envvar="ALPHASTREAM_BENCH_RATE", show_envvar=True,
                               help="Offered input records/s of the latency phase (--kafka)"),
    seconds: float = typer.Option(10.0, "--seconds", envvar="ALPHASTREAM_BENCH_SECONDS", show_envvar=True,
                                  help="Seconds of paced input (--kafka)"),
) -> None:  # fmt: skip
    """Sequencer CPU per input record without Kafka: decode + log record + merge (records/s);
    with --kafka, one sequencer process on Apache Kafka too."""
    from streams.devtools.bench.sequencer import bench_sequencer
    from streams.devtools.harness import sim_events

    result = bench_sequencer(sim_events(seed, hours, launch_rate), runs=runs)
    table = Table("metric", "value")
    table.add_row("input records / partitions", f"{result.records:,} / {result.sources}")
    table.add_row("admit (decode + future check) records/s", f"{result.admit_per_s:,.0f}")
    table.add_row("merge alone (add + release) records/s", f"{result.merge_per_s:,.0f}")
    table.add_row("all of it records/s", f"{result.total_per_s:,.0f}")
    table.add_row("CPU µs per record", f"{result.us_per_record:.1f}")
    table.add_row("runs (median shown)", str(result.runs))
    Console().print(table)
    if kafka:
        _sequencer_on_kafka(ctx, bootstrap, rate, seconds, min(hours, 0.5))


def _sequencer_on_kafka(
    ctx: typer.Context, bootstrap: str | None, rate: float, seconds: float, burst_hours: float
) -> None:
    import tempfile
    from contextlib import ExitStack

    from streams.devtools.bench.sequencer_kafka import run_sequencer_kafka_bench

    console = Console()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-seq-")))
        if bootstrap is None:
            from streams.devtools.local.kafka import KafkaBroker, ensure_jars

            with console.status("starting Apache Kafka"):
                bootstrap = stack.enter_context(
                    KafkaBroker(tmp / "kafka", libs=ensure_jars())
                ).bootstrap
        settings = settings_of(ctx, kafka_bootstrap=bootstrap)
        with console.status(
            f"burst of {burst_hours:g} h, then {rate:g} records/s for {seconds:g} s"
        ):
            r = run_sequencer_kafka_bench(settings, rate=rate, seconds=seconds,
                                          burst_hours=burst_hours, log_path=tmp / "sequencer.log")  # fmt: skip
    table = Table("metric", "value", title="one sequencer process on Apache Kafka")
    cpu = "n/a" if r.burst_cpu_s is None else f"{r.burst_cpu_s:.1f}"
    table.add_row("burst: records / records/s / sequencer CPU s",
                  f"{r.burst_records:,} / {r.burst_records_per_s:,.0f} / {cpu}")  # fmt: skip
    table.add_row(
        "paced: offered records/s / records measured",
        f"{r.offered_per_s:,.0f} / {r.latency_records:,}",
    )
    table.add_row("produce -> read from the log p50 / p99 / max ms",
                  f"{r.p50_ms:.1f} / {r.p99_ms:.1f} / {r.max_ms:.1f}")  # fmt: skip
    table.add_row("paced: mean arrival -> write in the sequencer ms", f"{r.hold_ms:.2f}")
    table.add_row("paced: late / forced", f"{r.late:,.0f} / {r.forced:,.0f}")
    share = "n/a" if r.paced_cpu_share is None else f"{r.paced_cpu_share:.2f}"
    table.add_row("paced: sequencer CPU, cores", share)
    table.add_row("paced: sequencer loop steps per record", f"{r.paced_steps_per_record:.2f}")
    console.print(table)


from streams.cli import bench_replica as _bench_replica  # noqa: E402,F401  (adds `bench replica`)
