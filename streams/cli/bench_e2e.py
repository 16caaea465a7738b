"""``alphastream bench e2e``: a sequencer and workers on Apache Kafka, measured side by side
with the in-memory floor (the bench itself is streams/devtools/bench/e2e.py)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from streams.cli.bench import bench_app
from streams.cli.common import settings_of
from streams.settings import Settings

if TYPE_CHECKING:
    from streams.devtools.bench.e2e import E2EResult


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

    from streams.devtools.bench.e2e import parse_worker_counts, scaling

    try:
        counts = parse_worker_counts(workers)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workers") from exc
    rates = _parse_rates(rate)
    console = Console()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-e2e-")))
        bootstrap, broker_pid = _broker(stack, console, tmp, bootstrap, start_kafka)
        settings = settings_of(
            ctx, kafka_bootstrap=bootstrap, models_dir=tmp / "models", data_dir=tmp / "data"
        )
        plan = _Plan(rates, seconds, burst_hours, warmup_hours, tmp)
        results = _measure(console, settings, plan, broker_pid, broker_warmup_runs,
                           [n for _ in range(repeat) for n in counts])  # fmt: skip
    records = [rec for r in results for rec in r.records(settings.partitions)]
    if json_out is not None:
        import orjson

        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_bytes(orjson.dumps(records, option=orjson.OPT_INDENT_2))
    _print_e2e(console, results, scaling(results), records)


def _parse_rates(rate: str) -> list[float]:
    try:
        return [float(r) for r in rate.split(",") if r.strip()]
    except ValueError as exc:
        raise typer.BadParameter(
            f"rates are numbers such as 300,1000: {rate!r}", param_hint="--rate"
        ) from exc


def _broker(stack: ExitStack, console: Console, tmp: Path, bootstrap: str | None,
            start_kafka: bool) -> tuple[str | None, int | None]:  # fmt: skip
    """The broker to use, and its pid when started here (its CPU share is then reported)."""
    if not start_kafka or bootstrap is not None:
        return bootstrap, None
    from streams.devtools.local.kafka import KafkaBroker, ensure_jars

    with console.status("starting Apache Kafka"):
        broker = stack.enter_context(KafkaBroker(tmp / "kafka", libs=ensure_jars()))
    return broker.bootstrap, broker.pid


@dataclass(frozen=True, slots=True)
class _Plan:
    """What every run of one invocation shares."""

    rates: list[float]
    seconds: float
    burst_hours: float
    warmup_hours: float
    tmp: Path  # each run logs under tmp / its name

    def run(self, settings: Settings, name: str, workers: int, broker_pid: int | None) -> E2EResult:
        from streams.devtools.bench.e2e import run_e2e

        return run_e2e(settings, rates=self.rates, seconds=self.seconds,
                       burst_hours=self.burst_hours, warmup_hours=self.warmup_hours,
                       log_dir=self.tmp / name, workers=workers, broker_pid=broker_pid)  # fmt: skip


def _measure(console: Console, settings: Settings, plan: _Plan, broker_pid: int | None,
             broker_warmup_runs: int, runs: list[int]) -> list[E2EResult]:  # fmt: skip
    """Deploy the synthetic models, warm a broker started here (runs not reported), then one
    run per entry of ``runs`` (its worker count)."""
    from streams.devtools.bench.e2e import deploy_synthetic_models

    with console.status("deploying synthetic model pairs (4 targets x 2 families)"):
        deploy_synthetic_models(settings.models_dir)
    warmups = broker_warmup_runs if broker_pid is not None else 0
    for i in range(warmups):  # discarded: they warm the broker, not measure it
        with console.status(f"warming the broker: run {i + 1}/{warmups} (not reported)"):
            plan.run(settings, f"warm{i}", 1, None)
    results: list[E2EResult] = []
    rate_text = ",".join(f"{r:g}" for r in plan.rates)
    for i, n in enumerate(runs, 1):
        label = f"run {i}/{len(runs)}: {n} worker{'s' if n > 1 else ''}"
        with console.status(
            f"{label}: warm-up, burst, then {rate_text} buys/s for {plan.seconds:g}s each"
        ):
            results.append(plan.run(settings, f"run{i}", n, broker_pid))
    return results


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
