"""``alphastream bench ...``: the commands; the benches themselves live in streams/devtools/bench."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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


# the other subcommands add themselves to bench_app on import
from streams.cli import bench_e2e as _bench_e2e  # noqa: E402,F401
from streams.cli import bench_replica as _bench_replica  # noqa: E402,F401
from streams.cli import bench_sequencer as _bench_sequencer  # noqa: E402,F401
