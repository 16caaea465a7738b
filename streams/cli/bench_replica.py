"""``alphastream bench replica``: a worker's CPU per log record by the share of shards it owns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from streams.cli.bench import bench_app


@bench_app.command("replica")
def replica(
    ctx: typer.Context,
    hours: float = typer.Option(0.75, "--hours", envvar="ALPHASTREAM_BENCH_HOURS", show_envvar=True,
                                help="Simulated hours of market (default market, 20,000 launches/day)"),
    seed: int = typer.Option(7, "--seed", envvar="ALPHASTREAM_BENCH_SEED", show_envvar=True),
    runs: int = typer.Option(3, "--runs", envvar="ALPHASTREAM_BENCH_RUNS", show_envvar=True,
                             help="Rounds (each measures everything once; medians shown)"),
    json_path: Annotated[
        Path | None, typer.Option("--json", envvar="ALPHASTREAM_BENCH_JSON", show_envvar=True,
                                  help="Also write the result as JSON"),
    ] = None,
) -> None:  # fmt: skip
    """In memory, no broker: decode, the engine with and without feature rows, and the replica
    (engine + scoring + encoding) owning all, 1/2, 1/3 and none of the shards; the capacity a
    group would have with a free core per worker."""
    from streams.devtools.bench.replica import bench_replica
    from streams.devtools.harness import sim_events

    with Console().status(f"{hours:g} simulated hours, {runs} rounds"):
        r = bench_replica(ctx.obj, sim_events(seed, hours, 20_000), runs=runs)
    table = Table("CPU per log record", "µs", title=f"{r.records:,} records, {r.shards} shards")
    table.add_row("decode (JSON + contract)", f"{r.decode_us:.1f}")
    table.add_row("engine, every feature row computed (today)", f"{r.engine_with_rows_us:.1f}")
    table.add_row("engine, state only (no feature rows)", f"{r.engine_state_only_us:.1f}")
    table.add_row("replica owning no shard (a record it does not own)", f"{r.replica_none_us:.1f}")
    table.add_row("  of which feature rows only the handover buffer uses",
                  f"{r.not_owned_feature_us:.1f}")  # fmt: skip
    for n, us in r.replica_us.items():
        share = r.owned_record_share[n]
        table.add_row(f"replica owning 1/{n} of the shards ({share:.0%} of records)"
                      f" -> capacity x{r.capacity_ratio(n):.2f}", f"{us:.1f}")  # fmt: skip
    Console().print(table)
    steps = Table("log records per step (owning every shard)", "CPU µs per record",
                  title="per-step costs (scoring call, encoding, metrics) over records per step")  # fmt: skip
    for size, us in r.per_step_size_us.items():
        steps.add_row(f"{size:,}", f"{us:.1f}")
    Console().print(steps)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_bytes(orjson.dumps(r.as_dict(), option=orjson.OPT_INDENT_2))
