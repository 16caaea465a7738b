"""The topic plan: names, keys, partitions, retention and cleanup policy, in one place.

Brokers must not auto-create topics; ``alphastream topics create`` creates these explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

DAY_MS = 24 * 3600 * 1000

GENESIS = "token-genesis"
BUYS = "wallet-buy"
SELLS = "wallet-sell"
SCORES = "scores"
SIGNALS = "signals"
OUTCOMES = "outcomes"
DEAD_LETTER = "dead-letter"
ALERTS = "alerts"
CHECKPOINTS = "engine-checkpoints"
MIGRATIONS = "token-migrated"
MARKET_LOG = "market-log"
SEQUENCER_LEASE = "sequencer-lease"
SCORE_SHARDS = "score-shards"
INPUT_TOPICS = (GENESIS, BUYS, SELLS, MIGRATIONS)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    key: str
    purpose: str
    retention_ms: int
    cleanup_policy: str = "delete"
    partitions: int | None = None  # None: the configured default (settings.partitions)

    def config(self) -> dict[str, str]:
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


TOPIC_PLAN: tuple[TopicSpec, ...] = (
    TopicSpec(GENESIS, "mint", "input: token launches", 7 * DAY_MS),
    TopicSpec(BUYS, "mint", "input: wallet buys", 7 * DAY_MS),
    TopicSpec(SELLS, "mint", "input: wallet sells", 7 * DAY_MS),
    TopicSpec(MIGRATIONS, "mint", "input: tokens leaving the curve (v2)", 7 * DAY_MS),
    TopicSpec(SCORES, "mint", "output: one score per buy and per genesis window", 7 * DAY_MS),
    TopicSpec(
        SIGNALS, "mint", "output: served feature snapshots (for ClickHouse/training)", 30 * DAY_MS
    ),
    TopicSpec(OUTCOMES, "mint", "output: resolved outcomes (peaks, labels)", 30 * DAY_MS),
    TopicSpec(DEAD_LETTER, "source key", "bad input with the reason", 30 * DAY_MS, partitions=1),
    TopicSpec(ALERTS, "model id", "monitor verdicts (watch/retrain)", 30 * DAY_MS, partitions=1),
    TopicSpec(
        MARKET_LOG,
        "mint",
        "the sequencer's totally ordered merge of the inputs (the canonical order)",
        7 * DAY_MS,
        partitions=1,
    ),
    TopicSpec(
        SEQUENCER_LEASE,
        "none (never written)",
        "leadership of the sequencer: the group member assigned its one partition leads",
        DAY_MS,
        partitions=1,
    ),
    TopicSpec(
        SCORE_SHARDS,
        "none (never written)",
        "ownership: a worker scores the mints of the shards (partitions) assigned to it",
        DAY_MS,
    ),
    TopicSpec(
        CHECKPOINTS,
        "m/ or c/ + writer/epoch",
        "engine state checkpoints (chunks + manifests; bounds recovery)",
        7 * DAY_MS,
        cleanup_policy="compact",
        partitions=1,
    ),
)


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Topic names a process uses (tests give each run its own prefix on a shared broker)."""

    genesis: str = GENESIS
    buys: str = BUYS
    sells: str = SELLS
    scores: str = SCORES
    signals: str = SIGNALS
    outcomes: str = OUTCOMES
    dead_letter: str = DEAD_LETTER
    checkpoints: str = CHECKPOINTS
    migrations: str = MIGRATIONS
    log: str = MARKET_LOG
    lease: str = SEQUENCER_LEASE
    shards: str = SCORE_SHARDS

    @classmethod
    def prefixed(cls, prefix: str) -> TopicNames:
        return cls(**{f.name: prefix + getattr(cls(), f.name) for f in fields(cls)})

    @property
    def inputs(self) -> tuple[str, ...]:
        return (self.genesis, self.buys, self.sells, self.migrations)

    def canonical(self, topic: str) -> str:
        """The plan's name of one of these topics (what ``decode_input`` checks against)."""
        plan = {self.genesis: GENESIS, self.buys: BUYS, self.sells: SELLS}
        plan[self.migrations] = MIGRATIONS
        return plan.get(topic, topic)

    def actual(self, canonical: str) -> str:
        """This run's (possibly prefixed) name of an input topic's plan name."""
        plan = {GENESIS: self.genesis, BUYS: self.buys, SELLS: self.sells}
        plan[MIGRATIONS] = self.migrations
        return plan[canonical]
