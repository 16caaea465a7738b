"""The topic plan: names, keys, partitions, retention and cleanup policy, in one place.

Brokers must not auto-create topics; ``alphastream topics create`` creates these explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        CHECKPOINTS,
        "m/ or c/ + writer/epoch",
        "engine state checkpoints (chunks + manifests; bounds recovery)",
        7 * DAY_MS,
        cleanup_policy="compact",
        partitions=1,
    ),
)
