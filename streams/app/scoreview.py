"""What the worker's HTTP endpoints serve: the latest published scores, held in memory.

``ScoreView.update`` runs on the hot path (every delivered score box), so it does O(1) work per
score: one dict write, one deque append, a counter. Everything else (top decile, board rows,
the JSON of a lookup) is built when someone asks. No Kafka and no clock in here: the caller
passes wall time in.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.contracts.events import Score

HOUR_MS = 3_600_000
TOP_PERCENTILE = 0.9  # percentile_1h at or above this: the top decile of the last hour


@dataclass(frozen=True, slots=True)
class Served:
    score: Score
    published_s: float  # wall time the score was delivered to Kafka (UTC epoch seconds)


def headline(score: Score) -> float:
    """Calibrated reach_2x_1h when a model serves it, else the rule score (as published)."""
    value = score.scores.get("reach_2x_1h")
    return score.rule_score if value is None else float(value)


def score_json(served: Served, now_s: float) -> dict[str, Any]:
    s = served.score
    return {
        "event_id": s.event_id,
        "ts": s.ts,
        "scored_at": s.scored_at,
        "age_s": round(max(0.0, now_s - s.scored_at / 1000.0), 3),
        "headline": headline(s),
        "scores": s.scores,
        "rule_score": s.rule_score,
        "source": s.source,
        "models": s.models,
        "percentile_1h": s.percentile_1h,
        "price": s.price,
        "wallet": s.wallet,
        "feature_set": s.feature_set,
    }


@dataclass
class ModelHealth:
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    last_scan_s: float | None = None
    last_change_s: float | None = None  # the served versions last changed (start counts)


class ScoreView:
    def __init__(
        self, *, max_mints: int = 200_000, recent: int = 100, top_candidates: int = 2_000
    ) -> None:
        self.max_mints = max_mints
        # mint -> kind ("buy" / "genesis") -> latest; oldest-updated first, for eviction
        self.latest: OrderedDict[str, dict[str, Served]] = OrderedDict()
        self.recent: deque[Served] = deque(maxlen=recent)
        # top-decile scores as published; trimmed to the last hour of event time on read
        self.top: deque[Served] = deque(maxlen=top_candidates)
        self.by_source: Counter[str] = Counter()
        self.published = 0
        self.models = ModelHealth()

    # --- hot path ---------------------------------------------------------------------------

    def update(self, scores: Iterable[Score], published_s: float) -> None:
        latest, top = self.latest, self.top
        for score in scores:
            served = Served(score, published_s)
            kinds = latest.get(score.mint)
            if kinds is None:
                kinds = latest[score.mint] = {}
                if len(latest) > self.max_mints:
                    latest.popitem(last=False)
            else:
                latest.move_to_end(score.mint)
            kinds[score.kind] = served
            self.recent.append(served)
            pct = score.percentile_1h
            if pct is not None and pct >= TOP_PERCENTILE:
                top.append(served)
            self.by_source[score.source] += 1
            self.published += 1

    def note_models(self, versions: dict[str, dict[str, str]], scanned_s: float) -> None:
        if versions != self.models.versions or self.models.last_change_s is None:
            self.models.last_change_s = scanned_s
        self.models.versions = versions
        self.models.last_scan_s = scanned_s

    # --- on request -------------------------------------------------------------------------

    def lookup(self, mint: str, now_s: float) -> dict[str, Any] | None:
        kinds = self.latest.get(mint)
        if kinds is None:
            return None
        out: dict[str, Any] = {"mint": mint}
        for kind in ("buy", "genesis"):
            served = kinds.get(kind)
            out[kind] = score_json(served, now_s) if served is not None else None
        return out

    def top_last_hour(self, limit: int = 25) -> list[Served]:
        """The top-decile scores whose event time is within an hour of the newest score."""
        if not self.recent:
            return []
        newest = max(s.score.ts for s in self.recent)
        fresh = [s for s in self.top if s.score.ts >= newest - HOUR_MS]
        best: dict[str, Served] = {}
        for s in fresh:  # one row per mint: its best top-decile score
            held = best.get(s.score.mint)
            if held is None or headline(s.score) > headline(held.score):
                best[s.score.mint] = s
        return sorted(best.values(), key=lambda s: headline(s.score), reverse=True)[:limit]

    def board(self, now_s: float, recent: int = 25) -> dict[str, Any]:
        rows = list(self.recent)[-recent:][::-1]
        total = self.published
        return {
            "now_s": now_s,
            "published": total,
            "mints": len(self.latest),
            "recent": [_board_row(s, now_s) for s in rows],
            "top_last_hour": [_board_row(s, now_s) for s in self.top_last_hour()],
            "models": {
                "versions": self.models.versions,
                "last_scan_s": self.models.last_scan_s,
                "last_change_s": self.models.last_change_s,
                "share": _share(self.by_source, total),
            },
        }


def _share(counts: Mapping[str, int], total: int) -> dict[str, float]:
    return {src: round(n / total, 4) for src, n in sorted(counts.items())} if total else {}


def _board_row(served: Served, now_s: float) -> dict[str, Any]:
    s = served.score
    return {
        "event_id": s.event_id,
        "mint": s.mint,
        "kind": s.kind,
        "ts": s.ts,
        "headline": round(headline(s), 4),
        "dead_soon": s.scores.get("is_dead_soon"),
        "percentile_1h": s.percentile_1h,
        "source": s.source,
        "price": s.price,
        "age_s": round(max(0.0, now_s - s.scored_at / 1000.0), 1),
    }
