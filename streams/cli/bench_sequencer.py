"""``alphastream bench sequencer``: the sequencer's CPU per input record in memory and, with
``--kafka``, one sequencer process on Apache Kafka."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from streams.cli.bench import bench_app
from streams.cli.common import settings_of


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
