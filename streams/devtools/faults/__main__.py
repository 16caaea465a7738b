"""``python -m streams.devtools.faults``: every row at full duration on a broker of its own."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from streams.devtools.faults.report import render_json, render_markdown
from streams.devtools.faults.rows import ROWS, SETUPS, UNTESTED
from streams.devtools.faults.scenario import Durations, RowResult, run_row
from streams.devtools.harness import sim_events
from streams.devtools.local.kafka import KafkaBroker, ensure_jars
from streams.settings import Settings


def run_matrix(names: list[str], durations: Durations, hours: float, work: Path) -> list[RowResult]:
    """Every named row in turn on one Apache Kafka of its own, against one seeded market."""
    events = sim_events(seed=16, hours=hours, launch_rate_per_day=1500)
    results: list[RowResult] = []
    with KafkaBroker(work / "kafka", libs=ensure_jars()) as broker:
        for name in names:
            fault, workers, sequencers = ROWS[name]
            settings = Settings(
                kafka_bootstrap=broker.bootstrap,
                app_id=f"faults-{name}",
                data_dir=work / name / "data",
                models_dir=work / "models",
            )
            result = run_row(name, fault, settings=settings, broker=broker, events=events,
                             work_dir=work / name, durations=durations, workers=workers,
                             sequencers=sequencers, setup=SETUPS.get(name))  # fmt: skip
            results.append(result)
            print(render_markdown([result], {}), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.devtools.faults", description=__doc__)
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated row names")
    parser.add_argument("--feed-s", type=float, default=60.0, help="wall time of the market feed")
    parser.add_argument("--pause-s", type=float, default=30.0, help="broker SIGSTOP duration")
    parser.add_argument("--clickhouse-down-s", type=float, default=60.0,
                        help="how long the ClickHouse endpoint stays stopped")  # fmt: skip
    parser.add_argument("--poison", type=int, default=10_000, help="poison messages in the flood")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated market hours")
    parser.add_argument("--out", type=Path, default=Path("var/faults"), help="report directory")
    args = parser.parse_args(argv)
    durations = Durations(
        feed_s=args.feed_s, broker_pause_s=args.pause_s, poison_messages=args.poison,
        clickhouse_down_s=args.clickhouse_down_s,
    )  # fmt: skip
    work = args.out.resolve() / "work"  # kept: worker and broker logs of every row
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    results = run_matrix(args.rows.split(","), durations, args.hours, work)
    (args.out / "faults.md").write_text(render_markdown(results, UNTESTED), encoding="utf-8")
    (args.out / "faults.json").write_bytes(render_json(results, UNTESTED))
    print(render_markdown(results, UNTESTED))
    return 0 if all(r.lost == 0 and r.completed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
