"""``run_demo``: broker + ClickHouse, worker(s), simulated market, training, hot reload, report.

The demo process owns the embedded chdb store: the sink runs here as a thread (the one chdb
writer), and training, the monitor and the report read through this same process. Workers are
subprocesses in their own process groups; everything is stopped in ``close()`` whatever happens.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from streams import store
from streams.demo import analysis, queries
from streams.demo.config import EMBEDDED_BROKER, DemoOptions, DemoSummary, MarketPlan
from streams.demo.feed import MarketFeed
from streams.demo.observe import ScoreWatcher
from streams.demo.procs import PID_FILE, PhaseFailed, WorkerPool, record_pid, stop_strays
from streams.demo.report import ReportInputs, write_report
from streams.devtools.local.process import broker_answers
from streams.devtools.local.tansu import TansuBroker
from streams.interrupt import install_interrupt, restore_handlers
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from streams.sim import SimConfig
from streams.store.sink import SinkConfig
from streams.topics import TopicNames

TARGET = "reach_2x_1h"  # the headline target
# Per family, the targets to try in order. Genesis windows that double within the hour are
# rare (~2% here), so a short market may not hold enough of them for the quality gate; then
# the genesis model predicts early death (is_dead_soon, ~15%) instead.
TARGETS_BY_FAMILY: dict[str, tuple[str, ...]] = {
    "standard": (TARGET,),
    "genesis": (TARGET, "is_dead_soon"),
}
DEMO_DATABASE = "alphastream_demo"  # the demo's own database on an external ClickHouse
WORKER_READY_TIMEOUT_S = 180.0
RELOAD_TIMEOUT_S = 90.0


class _Trials:
    """training.pipeline Reporter that drives one rich progress task."""

    def __init__(self, progress: Progress, label: str, trials: int) -> None:
        self.progress, self.label = progress, label
        self.task = progress.add_task(f"train {label}", total=trials)

    def stage(self, text: str) -> None:
        self.progress.update(self.task, description=f"train {self.label}: {text[:60]}")

    def trial(self, done: int, total: int, best: float) -> None:
        self.progress.update(
            self.task,
            completed=min(done, total),
            description=f"train {self.label}: trial {done}/{total}, best valid PR-AUC {best:.4f}",
        )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def demo_dsn(dsn: str) -> str:
    """The DSN with the demo's own database (an external server keeps its other data)."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    query["database"] = DEMO_DATABASE
    return urlunsplit(parts._replace(query=urlencode(query)))


class DemoRun:
    def __init__(self, settings: Settings, options: DemoOptions, console: Console) -> None:
        self.options = options
        self.plan: MarketPlan = options.plan()
        self.console = console
        self.work_dir = options.work_dir.resolve()
        self.run_id = uuid.uuid4().hex[:8]
        external_kafka = options.kafka is not None
        self.topic_prefix = f"demo-{self.run_id}." if external_kafka else ""
        self.topics = TopicNames.prefixed(self.topic_prefix) if self.topic_prefix else TopicNames()
        app_id = f"alphastream-demo-{self.run_id}" if external_kafka else "alphastream-demo"
        update: dict[str, Any] = {
            "data_dir": self.work_dir,
            "models_dir": self.work_dir / "models",
            "model_reload_interval_s": options.reload_interval_s,
            "app_id": app_id,
            "clickhouse_dsn": SecretStr(demo_dsn(options.clickhouse))
            if options.clickhouse
            else None,
        }
        if options.kafka:
            update["kafka_bootstrap"] = options.kafka
        self.settings = settings.model_copy(update=update)
        self.summary = DemoSummary(plan=dict(self.plan.__dict__))
        self.sim = SimConfig(
            seed=options.seed,
            hours=self.plan.hours,
            launch_rate_per_day=self.plan.launch_rate_per_day,
        )
        self.broker: TansuBroker | None = None
        self.sink_stop = threading.Event()
        self.sink_thread: threading.Thread | None = None
        self.sink_error: BaseException | None = None
        self.pool: WorkerPool | None = None
        self.watcher: ScoreWatcher | None = None
        self.feed: MarketFeed | None = None
        self.interrupt = threading.Event()
        self.t0_ms = 0
        self.paused_ms = 0
        self.resumed_ms = 0
        self.resume_sim_ms = 0
        self.monitor_reports: list[Path] = []
        self.deployed: dict[str, tuple[str, str]] = {}  # model label -> (family, target)
        self.deployed_at = 0.0  # wall time the last model pair landed in the models dir

    # --- phases ----------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        started = time.monotonic()
        phases: list[tuple[str, Callable[[], None]]] = [
            ("prepare", self.prepare),
            ("broker + ClickHouse", self.start_infra),
            ("workers", self.start_workers),
            ("stream (rule score)", self.stream_first),
            ("train + deploy", self.train),
            ("hot reload", self.hot_reload),
            ("stream (models)", self.stream_rest),
            ("monitor", self.monitor),
            ("report", self.report),
        ]
        for i, (name, step) in enumerate(phases, 1):
            self.console.rule(f"[bold]{i}/{len(phases)} {name}")
            t = time.monotonic()
            try:
                step()
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                if self.interrupt.is_set():  # the signal landed inside a C call (librdkafka's
                    raise KeyboardInterrupt from exc  # poll turns it into a SystemError)
                if isinstance(exc, PhaseFailed):
                    raise
                raise PhaseFailed(f"phase '{name}' failed: {type(exc).__name__}: {exc}") from exc
            self.summary.phase_seconds[name] = round(time.monotonic() - t, 1)
        self.summary.total_seconds = round(time.monotonic() - started, 1)
        self._write_summary()
        return self.summary

    def prepare(self) -> None:
        strays = stop_strays(self.work_dir)
        if strays:
            self.console.print(f"stopped {len(strays)} process(es) left by an earlier demo run")
        shutil.rmtree(self.work_dir, ignore_errors=True)
        for sub in ("models", "logs"):
            (self.work_dir / sub).mkdir(parents=True, exist_ok=True)
        self.console.print(f"work dir {self.work_dir} (wiped)")
        p, rate = self.plan, self.plan.rate_per_s
        pace = f"{rate:,.0f} events/s" if rate > 0 else "as fast as the pipeline keeps up"
        self.console.print(
            f"market: {p.hours:g} simulated hours, {p.launch_rate_per_day:,.0f} launches/day, "
            f"seed {self.options.seed}; produced at {pace}; "
            f"train after {p.train_after_hours:g} h ({p.trials} Optuna trials per model)"
        )

    def start_infra(self) -> None:
        if self.options.kafka is None:
            self.broker = TansuBroker(work_dir=self.work_dir / "tansu").start()
            record_pid(self.work_dir, self.broker.pid)
            self.broker.wait_ready()
            profile = EMBEDDED_BROKER.overrides(
                set(self.settings.model_fields_set), self.options.workers
            )
            self.settings = self.settings.model_copy(
                update={"kafka_bootstrap": self.broker.bootstrap, **profile}
            )
            self.console.print("embedded broker profile: " + ", ".join(
                f"{name}={value}" for name, value in sorted(profile.items())))  # fmt: skip
            self.summary.broker = f"embedded tansu {self.broker.bootstrap}"
        else:
            if not broker_answers(self.settings.kafka_bootstrap, timeout_s=10.0):
                raise PhaseFailed(f"Kafka at {self.settings.kafka_bootstrap} does not answer")
            self.summary.broker = (
                f"Kafka {self.settings.kafka_bootstrap} (topics {self.topic_prefix}*)"
            )
        created = create_prefixed_topics(self.settings, self.topic_prefix)
        self.console.print(f"broker {self.settings.kafka_bootstrap}: created {len(created)} topics")
        self._reset_external_database()
        self._start_sink()
        self.summary.clickhouse = self._store_label()
        self.console.print(f"ClickHouse {self.summary.clickhouse}: migrated, sink running")

    def _store_label(self) -> str:
        if self.options.clickhouse is None:
            return f"embedded chdb {self.settings.clickhouse_url().removeprefix('chdb://')}"
        return f"server database {DEMO_DATABASE}"

    def _reset_external_database(self) -> None:
        if self.options.clickhouse is None:
            return  # the embedded store lives under the wiped work dir
        # connect to `default` (always there): the DSN's own database may not exist yet
        client = store.connect(self.options.clickhouse, database="default", create_database=False)
        try:
            client.command(f"DROP DATABASE IF EXISTS {DEMO_DATABASE}")
        finally:
            client.close()

    def _start_sink(self) -> None:
        from streams.store import service

        config = SinkConfig(
            signals_topic=self.topics.signals,
            outcomes_topic=self.topics.outcomes,
            dead_letter_topic=self.topics.dead_letter,
            group_id=f"{self.settings.app_id}-sink",
        )
        ready = threading.Event()

        def run() -> None:
            try:
                service.run(self.settings, self.sink_stop, config, ready=ready)
            except BaseException as exc:  # surfaced by _check
                self.sink_error = exc

        self.sink_thread = threading.Thread(target=run, name="demo-sink", daemon=True)
        self.sink_thread.start()
        while not ready.is_set():
            self._check()
            time.sleep(0.1)

    def start_workers(self) -> None:
        self.pool = WorkerPool(self.settings, self.work_dir / "logs", self.topic_prefix)
        self.pool.start(self.options.workers, self.work_dir)
        with self.console.status(
            f"starting {self.options.workers} worker(s) (faust, models dir {self.settings.models_dir}, "
            f"reload every {self.settings.model_reload_interval_s:g} s)"
        ):
            seconds = self.pool.wait_ready(WORKER_READY_TIMEOUT_S)
        self.console.print(
            f"{self.options.workers} worker(s) in the consumer group after {seconds:.1f} s"
        )
        self.watcher = ScoreWatcher(self.settings, self.topics.scores).start()
        self.feed = MarketFeed(
            self.settings.kafka_client_config(),
            self.topics,
            self.sim,
            self.plan.rate_per_s,
            linger_ms=self.settings.input_linger_ms,
            tick_ms=EMBEDDED_BROKER.feed_tick_ms if self.broker is not None else 0.0,
        )

    def stream_first(self) -> None:
        self.t0_ms = int(time.time() * 1000)
        until = self.sim.start_ms + int(self.plan.train_after_hours * 3_600_000)
        self._stream(until, "rule score")
        self.paused_ms = int(time.time() * 1000)
        resolved = self._store_read(queries.resolved_signals)
        self.console.print(
            f"feed paused at {self.plan.train_after_hours:g} simulated hours; {resolved:,} signals resolved in ClickHouse"
        )

    def train(self) -> None:
        from training.pipeline import new_version

        version = new_version()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console) as progress:
            for family, targets in TARGETS_BY_FAMILY.items():
                self._train_family(family, targets, version, progress)
        for label, info in self.summary.training.items():
            self.console.print(
                f"deployed {label}: test PR-AUC {info['pr_auc']:.4f} "
                f"(rule {_fmt(info['rule_pr_auc'])}), {info['rows']:,} rows, {info['seconds']:.0f} s"
            )

    def _train_family(
        self, family: str, targets: tuple[str, ...], version: str, progress: Progress
    ) -> None:
        """Train the family's first target the data supports (the gate decides)."""
        from training.pipeline import CalibrationFailed, ParityFailed, TrainConfig, train_model
        from training.quality import QualityGateFailed
        from training.sources import load_clickhouse

        frame = load_clickhouse(self.settings, family)
        reasons = []
        for target in targets:
            t = time.monotonic()
            config = TrainConfig(
                target=target,
                models_dir=self.settings.models_dir,
                report_dir=self.work_dir / "train",
                version=version,
                trials=self.plan.trials,
                seed=self.options.seed,
                allow=self.plan.allow,
            )
            reporter = _Trials(progress, f"{family}/{target}", self.plan.trials)
            try:
                outcome = train_model(frame, config, reporter)
            except (QualityGateFailed, CalibrationFailed, ParityFailed) as exc:
                reporter.stage("not trained")
                if isinstance(exc, QualityGateFailed):
                    self.console.print(
                        exc.report.table(title=f"data-quality gate: {family}/{target}")
                    )
                reasons.append(f"{target}: {exc}")
                self.console.print(f"[yellow]{family}/{target} not trained:[/] {exc}")
                continue
            label = outcome.metadata.label
            self.deployed_at = max(self.deployed_at, outcome.metadata_path.stat().st_mtime)
            self.summary.models_deployed.append(label)
            self.deployed[label] = (family, target)
            self.summary.training[label] = {
                "family": family,
                "target": target,
                "rows": len(frame.frame),
                "pr_auc": float(outcome.summary["pr_auc"]),
                "rule_pr_auc": outcome.summary.get("rule_pr_auc"),
                "seconds": round(time.monotonic() - t, 1),
                "card": str(outcome.card_path),
            }
            if target != targets[0]:
                self.summary.training[label]["instead_of"] = reasons
            return
        raise PhaseFailed(f"no {family} model could be trained: {'; '.join(reasons)}")

    def hot_reload(self) -> None:
        assert self.pool is not None
        with self.console.status("waiting for the running worker(s) to hot-reload the models"):
            self.pool.wait_serving(set(self.summary.models_deployed), RELOAD_TIMEOUT_S)
        # An upper bound: the check starts after training returns (model cards are written
        # after the deploy) and polls every 0.25 s; workers rescan the dir every reload interval.
        self.summary.reload_seconds = round(time.time() - self.deployed_at, 1)
        self.resumed_ms = int(time.time() * 1000)
        self.console.print(
            f"every worker serves the new models <= {self.summary.reload_seconds:.1f} s after "
            "the last deploy (hot reload, no restart)"
        )

    def stream_rest(self) -> None:
        assert self.feed is not None
        self.resume_sim_ms = self.feed.last_ts + 1
        self._stream(self.sim.end_ms + 1, "models")
        self.summary.stream_seconds = round(
            (time.time() * 1000 - self.t0_ms - (self.resumed_ms - self.paused_ms)) / 1000, 1
        )

    def monitor(self) -> None:
        from streams.monitor.evaluate import worst_level
        from streams.monitor.report import write_report as write_monitor_report
        from streams.monitor.service import parse_duration_ms, run_from_clickhouse

        until = self.sim.end_ms + 1
        window_ms = parse_duration_ms(self.plan.monitor_window)
        results = []
        for target in sorted({t for _, t in self.deployed.values()}):
            with self.console.status(f"monitor {target}: drift and quality per model version"):
                run = run_from_clickhouse(
                    self.settings, target, self.resume_sim_ms, until, window_ms
                )
            path = self.work_dir / f"monitor-{target}.html"
            self.monitor_reports.append(write_monitor_report(run.results, target, path, until))
            results += run.results
        level = worst_level(results)
        self.summary.verdict = level.label
        self.summary.verdict_messages = [
            f"{r.model}: {r.verdict.label}"
            + (f" ({'; '.join(r.verdict.messages())})" if r.verdict.messages() else "")
            for r in results
        ]
        for message in self.summary.verdict_messages:
            self.console.print(f"  {message}")
        self.console.print(f"monitor verdict: {level.label} ({len(results)} model version(s))")

    def report(self) -> None:
        assert self.watcher is not None and self.feed is not None
        s = self.summary
        scores = self.watcher.snapshot()
        latencies = analysis.buy_latencies_ms(scores, self.feed.buy_sent_ms)
        s.latency_ms = analysis.latency_summary(latencies)
        s.latency_definition = analysis.latency_definition(
            self.settings.input_linger_ms, self.settings.log_linger_ms, self.feed.tick_s * 1000.0
        )
        s.events_published = dict(self.feed.sent)
        s.buys_published = self.feed.sent["wallet_buy"]
        s.buys_scored = self.watcher.counts.get("buy", 0)
        s.genesis_scored = self.watcher.counts.get("genesis", 0)
        s.duplicate_scores = self.watcher.duplicates
        s.input_events_per_s = round(self.feed.total_sent / max(s.stream_seconds, 1e-9), 1)
        s.scores_per_s = round(len(scores) / max(s.stream_seconds, 1e-9), 1)
        s.scores_after_reload, s.model_scored_after_reload = analysis.after_reload(
            scores, self.resumed_ms
        )
        s.signals_in_clickhouse = sum(self._store_read(queries.signal_counts).values())
        s.outcomes_in_clickhouse = self._store_read(queries.resolved_signals)
        slices = {}
        for family, target in self.deployed.values():
            rows = self._store_read(partial(queries.model_slice, family=family, target=target))
            quality = analysis.slice_quality(family, target, rows)
            if quality is not None:
                s.quality.append(quality)
                slices[f"{family}/{target}"] = rows
        s.report = str(self.work_dir / "report.html")
        paused = (self.paused_ms - self.t0_ms) / 1000, (self.resumed_ms - self.t0_ms) / 1000
        inputs = ReportInputs(
            summary=s,
            latencies_ms=latencies,
            scores_rate=analysis.rate_series([x.scored_at_ms for x in scores], self.t0_ms),
            buys_rate=analysis.rate_series(list(self.feed.buy_sent_ms.values()), self.t0_ms),
            training_window_s=paused,
            slices=slices,
            monitor_reports=self.monitor_reports,
        )
        write_report(inputs, Path(s.report))

    # --- streaming -------------------------------------------------------------------------

    def _stream(self, until_ms: int, label: str) -> None:
        assert self.feed is not None and self.watcher is not None
        feed, watcher = self.feed, self.watcher
        span_h = self.plan.hours
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
        )
        last_check = [0.0]
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task(f"stream ({label})", total=span_h, info="")

            def on_progress(_n: int, ts: int) -> None:
                hours = (ts - self.sim.start_ms) / 3_600_000
                lag = feed.sent["wallet_buy"] - watcher.counts.get("buy", 0)
                progress.update(
                    task,
                    completed=hours,
                    info=f"sim {hours:5.1f}/{span_h:g} h  sent {feed.total_sent:,}  "
                    f"scored {sum(watcher.counts.values()):,}  buy lag {lag:,}",
                )
                if time.monotonic() - last_check[0] > 2.0:
                    last_check[0] = time.monotonic()
                    self._check()

            feed.run_until(
                until_ms,
                self.interrupt,
                on_progress,
                backlog=lambda: feed.sent["wallet_buy"] - watcher.counts.get("buy", 0),
            )
            if self.interrupt.is_set():
                raise KeyboardInterrupt
            if feed.flush(60) > 0 or feed.errors:
                raise PhaseFailed(f"input not delivered: {feed.errors[:3]}")
            progress.update(task, description=f"drain ({label})")
            self._wait(
                lambda: watcher.counts.get("buy", 0) >= feed.sent["wallet_buy"],
                timeout_s=120.0 + feed.total_sent / 200.0,
                what="every published buy to be scored",
                tick=lambda: on_progress(0, feed.last_ts),
            )
            want = sum(watcher.counts.values())
            self._wait(
                lambda: sum(self._store_read(queries.signal_counts).values()) >= want,
                timeout_s=120.0,
                what="the sink to store every signal in ClickHouse",
                tick=lambda: on_progress(0, feed.last_ts),
            )

    def _wait(
        self, done: Callable[[], bool], timeout_s: float, what: str, tick: Callable[[], None]
    ) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check()
            tick()
            if done():
                return
            time.sleep(0.5)
        raise PhaseFailed(f"timed out after {timeout_s:.0f}s waiting for {what}")

    def _check(self) -> None:
        """Fail fast when a component died."""
        if self.interrupt.is_set():
            raise KeyboardInterrupt
        if self.sink_error is not None:
            raise PhaseFailed(
                f"the sink stopped: {type(self.sink_error).__name__}: {self.sink_error}"
            )
        if (
            self.sink_thread is not None
            and not self.sink_thread.is_alive()
            and not self.sink_stop.is_set()
        ):
            raise PhaseFailed("the sink thread exited unexpectedly")
        if self.pool is not None:
            self.pool.check_alive()
        if self.watcher is not None and self.watcher.error:
            raise PhaseFailed(f"the scores watcher failed: {self.watcher.error}")

    def _store_read(self, read: Callable[[Any], Any]) -> Any:
        client = store.connect(self.settings.clickhouse_url())
        try:
            return read(client)
        finally:
            client.close()

    def _write_summary(self) -> None:
        path = self.work_dir / "summary.json"
        path.write_text(json.dumps(self.summary.as_dict(), indent=2, default=str) + "\n")

    # --- teardown --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop everything this run started (safe to call at any point, more than once)."""
        if self.watcher is not None:
            with suppress(Exception):
                self.watcher.stop()
        if self.feed is not None:
            with suppress(Exception):
                self.feed.close(5)
        if self.pool is not None:
            self.pool.stop()
        self.sink_stop.set()
        if self.sink_thread is not None:
            self.sink_thread.join(60)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        with suppress(FileNotFoundError):
            (self.work_dir / PID_FILE).unlink()


def run_demo(
    settings: Settings, options: DemoOptions, console: Console | None = None
) -> DemoSummary:
    """Run the whole demo; raises ``PhaseFailed`` (clear message) or ``KeyboardInterrupt``.

    SIGTERM is treated like Ctrl-C while the demo runs (when called from the main thread).
    """
    demo = DemoRun(settings, options, console or Console())
    previous = install_interrupt(demo.interrupt, (signal.SIGINT, signal.SIGTERM))
    try:
        return demo.run()
    finally:
        demo.close()
        restore_handlers(previous)
