"""What a demo run does (options, market size) and what it reports (the summary)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOUR_MS = 3_600_000
# Measured here (2 cores shared with other jobs, one worker on tansu): the pipeline sustains
# ~780 input events/s when fed as fast as it keeps up; paced at 400/s the p50 latency was
# ~0.6 s. The full demo is paced below capacity (so latency means something); --quick feeds as
# fast as the pipeline keeps up (rate 0), its latency is then mostly the allowed backlog.
FULL_RATE = 500.0
QUICK_RATE = 0.0


@dataclass(frozen=True)
class MarketPlan:
    """The simulated market and when (in simulated time) the models get trained."""

    hours: float
    launch_rate_per_day: float
    train_after_hours: float  # pause the feed, train on what resolved, deploy, resume
    trials: int
    monitor_window: str
    rate_per_s: float
    # Quality-gate overrides: a market of a few hours has features that cannot vary yet (e.g.
    # creators' graduation rate before any token graduated), which the gate calls constant.
    allow: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.train_after_hours < self.hours:
            raise ValueError("train_after_hours must fall inside the simulated period")


FULL_PLAN = MarketPlan(
    hours=48.0,
    launch_rate_per_day=2_000.0,
    train_after_hours=30.0,
    trials=4,
    monitor_window="6h",
    rate_per_s=FULL_RATE,
)
QUICK_PLAN = MarketPlan(
    hours=18.0,
    # 2,000/day left the genesis gate at ~10 positives (needs 30): too close to call.
    launch_rate_per_day=4_000.0,
    # the calibration slice comes after training in time and loses the rows whose 1 h label
    # resolves past its end: 10 h of resolved signals left it 15 tokens (the gate needs 20)
    train_after_hours=14.0,
    trials=3,
    monitor_window="1h",
    rate_per_s=QUICK_RATE,
    allow=("constant",),
)


@dataclass(frozen=True)
class DemoOptions:
    quick: bool = False
    kafka: str | None = None  # external bootstrap; None = embedded tansu
    clickhouse: str | None = None  # external DSN; None = embedded chdb under the demo dir
    work_dir: Path = Path("var/demo")
    rate_per_s: float | None = None  # input events per wall-clock second; 0 = keep-up; None = plan
    workers: int = 1
    seed: int = 1
    reload_interval_s: float = 5.0
    hours: float | None = None  # overrides of the plan
    launch_rate_per_day: float | None = None
    train_after_hours: float | None = None
    trials: int | None = None

    def plan(self) -> MarketPlan:
        base = QUICK_PLAN if self.quick else FULL_PLAN
        return MarketPlan(
            hours=self.hours or base.hours,
            launch_rate_per_day=self.launch_rate_per_day or base.launch_rate_per_day,
            train_after_hours=self.train_after_hours or base.train_after_hours,
            trials=self.trials or base.trials,
            monitor_window=base.monitor_window,
            rate_per_s=base.rate_per_s if self.rate_per_s is None else self.rate_per_s,
            allow=base.allow,
        )


@dataclass(frozen=True)
class EmbeddedBrokerProfile:
    """Settings the demo uses on its embedded tansu broker, unless the user set them.

    tansu (``memory://``) keeps every produced batch as one object and lists all of a
    partition's objects on each fetch that has new data, so a fetch costs more the more
    batches its partition holds (docs/demo.md, "Latency on the embedded broker"). One
    partition per worker, a feed that sends in ticks and a longer log linger mean fewer,
    larger batches: a tick or a linger is latency paid once, the listing is paid on every
    fetch and grows all run long.
    """

    partitions_per_worker: int = 1  # every worker still owns a shard
    feed_tick_ms: float = 50.0  # the feed sends what is due every tick, in one request
    input_linger_ms: float = 5.0
    log_linger_ms: float = 20.0
    # shorter than the defaults: with few batches per partition a fetch is cheap enough that
    # more of them do not load tansu as they did (docs/sequencer.md, sequencer_fetch_wait_ms)
    sequencer_fetch_wait_ms: int = 50
    log_fetch_wait_ms: int = 25

    def overrides(self, explicit: set[str], workers: int) -> dict[str, Any]:
        """The settings to change: those in this profile the user did not set."""
        wanted: dict[str, Any] = {
            "partitions": max(1, self.partitions_per_worker * workers),
            "input_linger_ms": self.input_linger_ms,
            "log_linger_ms": self.log_linger_ms,
            "sequencer_fetch_wait_ms": self.sequencer_fetch_wait_ms,
            "log_fetch_wait_ms": self.log_fetch_wait_ms,
        }
        out = {name: value for name, value in wanted.items() if name not in explicit}
        out["kafka_idempotence"] = False  # not a choice: tansu has no idempotent producers
        return out


EMBEDDED_BROKER = EmbeddedBrokerProfile()


@dataclass(frozen=True)
class SliceQuality:
    """Rule vs model on one slice of resolved signals (one family and target)."""

    family: str
    target: str
    rows: int
    positives: int
    base_rate: float
    rule_pr_auc: float
    model_pr_auc: float
    rule_lift: float  # top-decile hit rate / base rate
    model_lift: float
    model_ece: float
    rule_ece: float


@dataclass
class DemoSummary:
    """Everything the demo measured; ``as_dict`` is what ``summary.json`` holds."""

    broker: str = ""
    clickhouse: str = ""
    plan: dict[str, Any] = field(default_factory=dict)
    events_published: dict[str, int] = field(default_factory=dict)
    buys_published: int = 0
    buys_scored: int = 0
    genesis_scored: int = 0
    duplicate_scores: int = 0
    signals_in_clickhouse: int = 0
    outcomes_in_clickhouse: int = 0
    stream_seconds: float = 0.0
    input_events_per_s: float = 0.0
    scores_per_s: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50/p95/p99/max
    latency_definition: str = ""
    models_deployed: list[str] = field(default_factory=list)
    training: dict[str, dict[str, Any]] = field(default_factory=dict)
    reload_seconds: float | None = None  # deploy finished -> every worker serves the new versions
    scores_after_reload: int = 0
    model_scored_after_reload: int = 0
    quality: list[SliceQuality] = field(default_factory=list)
    verdict: str = ""
    verdict_messages: list[str] = field(default_factory=list)
    report: str = ""
    total_seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def model_share_after_reload(self) -> float:
        return self.model_scored_after_reload / max(1, self.scores_after_reload)

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["quality"] = [q.__dict__ for q in self.quality]
        out["model_share_after_reload"] = self.model_share_after_reload
        return out
