"""Which scores and alerts become a chat message: the rule file and the pure decision.

The rule file is TOML (format in docs/notify.md). ``decide_score`` / ``decide_alert`` read the
state and return a :class:`Decision`; they change nothing and read no clock: every time they
compare is the event's own ``ts`` (UTC epoch ms). The caller records what it sent with
:meth:`RuleState.record`, so cooldowns and the rate limit count only messages that went out.
"""

from __future__ import annotations

import tomllib
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_SCORE_TEMPLATE = (
    "{{ rule }}: {{ score.kind }} {{ score.mint }} p={{ '%.2f' | format(p) }} "
    "({{ 'rule score' if used_rule_score else score.source }})"
    "{% if score.percentile_1h is not none %} top {{ '%.0f' | format(100 - 100 * score.percentile_1h) }}%"
    "{% endif %} price={{ '%.3g' | format(score.price) }}"
)
DEFAULT_ALERT_TEMPLATE = (
    "model {{ alert.model_id }}@{{ alert.version }} ({{ alert.target }}): {{ alert.verdict }}"
    "{% for r in alert.reasons %}\n- {{ r.rule }}: {{ r.message }}{% endfor %}"
)
DEFAULT_TITLE = "alphastream"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreRule(_Strict):
    """One filter over scores; a score passes when every set condition holds."""

    name: str
    kind: Literal["buy", "genesis", "any"] = "buy"
    target: str = "reach_2x_1h"
    # calibrated probability of ``target``; the rule score stands in when no model serves it
    min_score: float = Field(ge=0.0, le=1.0)
    # veto: calibrated is_dead_soon at or above this drops the score (no model: no veto)
    max_dead_soon: float | None = Field(default=None, ge=0.0, le=1.0)
    # rank among the last hour's scores; 0.9 keeps the top decile (null percentile fails)
    min_percentile_1h: float | None = Field(default=None, ge=0.0, le=1.0)


class AlertRule(_Strict):
    enabled: bool = True
    verdicts: tuple[str, ...] = ("watch", "retrain")
    cooldown_s: float = Field(default=3600.0, ge=0.0)  # per model and verdict


class RateLimit(_Strict):
    """At most ``max_messages`` in any ``per_s`` seconds of event time (scores and alerts)."""

    max_messages: int = Field(default=20, ge=1)
    per_s: float = Field(default=60.0, gt=0.0)


class NotifyRules(_Strict):
    # apprise URLs (tgram://, discord://, slack://, json://...): they hold tokens, so secret
    urls: tuple[SecretStr, ...] = ()
    title: str = DEFAULT_TITLE
    template: str = DEFAULT_SCORE_TEMPLATE
    alert_template: str = DEFAULT_ALERT_TEMPLATE
    cooldown_s: float = Field(default=600.0, ge=0.0)  # per mint
    rate_limit: RateLimit = RateLimit()
    rules: tuple[ScoreRule, ...] = Field(default=(), alias="rule")
    alerts: AlertRule = AlertRule()


def load_rules(path: Path) -> NotifyRules:
    """Parse and validate a TOML rule file (a clear pydantic error names the bad field)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    return NotifyRules.model_validate(data)


@dataclass(frozen=True)
class Decision:
    send: bool
    reason: str  # "sent" or why not: a short code for the counter
    rule: str | None = None
    value: float | None = None  # the score compared with ``min_score``
    used_rule_score: bool = False


@dataclass
class RuleState:
    """What was sent so far: last message per key (mint, or model+verdict) and recent times."""

    window_ms: int  # the rate limit's window
    horizon_ms: int = 86_400_000  # keys older than this are forgotten (bounded memory)
    last_sent: OrderedDict[str, int] = field(default_factory=OrderedDict)
    sent_ts: deque[int] = field(default_factory=deque)

    @classmethod
    def for_rules(cls, rules: NotifyRules) -> RuleState:
        longest = max(rules.cooldown_s, rules.alerts.cooldown_s, rules.rate_limit.per_s)
        window = int(rules.rate_limit.per_s * 1000)
        return cls(window_ms=window, horizon_ms=max(86_400_000, int(longest * 1000)))

    def record(self, key: str, ts: int) -> None:
        """A message went out for ``key`` at event time ``ts``."""
        self.last_sent.pop(key, None)
        self.last_sent[key] = ts
        self.sent_ts.append(ts)
        while self.sent_ts and self.sent_ts[0] <= ts - self.window_ms:
            self.sent_ts.popleft()
        while self.last_sent:
            oldest_key, oldest = next(iter(self.last_sent.items()))
            if oldest >= ts - self.horizon_ms:
                break
            del self.last_sent[oldest_key]

    def sent_within(self, ts: int) -> int:
        """Messages sent in the rate window ending at ``ts`` (read only)."""
        return sum(1 for t in self.sent_ts if ts - self.window_ms < t <= ts)


def score_key(score: Mapping[str, Any]) -> str:
    return f"mint:{score['mint']}"


def alert_key(alert: Mapping[str, Any]) -> str:
    return f"alert:{alert.get('model_id')}:{alert.get('verdict')}"


def _rule_reason(rule: ScoreRule, score: Mapping[str, Any]) -> Decision:
    """Whether one rule's filters pass (cooldown and rate limit are checked by the caller)."""
    if rule.kind != "any" and score.get("kind") != rule.kind:
        return Decision(False, "other_kind", rule.name)
    calibrated = score.get("scores") or {}
    value = calibrated.get(rule.target)
    used_rule = value is None
    if used_rule:
        value = score.get("rule_score")
    if value is None:
        return Decision(False, "no_score", rule.name)
    value = float(value)
    if value < rule.min_score:
        return Decision(False, "below_threshold", rule.name, value, used_rule)
    dead = calibrated.get("is_dead_soon")
    if rule.max_dead_soon is not None and dead is not None and dead >= rule.max_dead_soon:
        return Decision(False, "dead_soon_veto", rule.name, value, used_rule)
    pct = score.get("percentile_1h")
    if rule.min_percentile_1h is not None and (pct is None or pct < rule.min_percentile_1h):
        return Decision(False, "not_top_percentile", rule.name, value, used_rule)
    return Decision(True, "sent", rule.name, value, used_rule)


def _throttle(
    rules: NotifyRules, state: RuleState, key: str, ts: int, cooldown_s: float
) -> str | None:
    last = state.last_sent.get(key)
    if last is not None and ts - last < cooldown_s * 1000:
        return "cooldown"
    limit = rules.rate_limit
    if state.sent_within(ts) >= limit.max_messages:
        return "rate_limited"
    return None


def decide_score(rules: NotifyRules, state: RuleState, score: Mapping[str, Any]) -> Decision:
    """The first rule whose filters pass decides; then the per-mint cooldown and rate limit.
    Without a passing rule the first rule's reason is reported."""
    if not rules.rules:
        return Decision(False, "no_rules")
    first: Decision | None = None
    for rule in rules.rules:
        verdict = _rule_reason(rule, score)
        first = first or verdict
        if verdict.send:
            blocked = _throttle(rules, state, score_key(score), int(score["ts"]), rules.cooldown_s)
            if blocked is not None:
                return Decision(False, blocked, rule.name, verdict.value, verdict.used_rule_score)
            return verdict
    assert first is not None
    return first


def decide_alert(rules: NotifyRules, state: RuleState, alert: Mapping[str, Any]) -> Decision:
    """Monitor alerts: the verdicts listed pass, once per model and verdict per cooldown."""
    spec = rules.alerts
    if not spec.enabled:
        return Decision(False, "alerts_off")
    if alert.get("verdict") not in spec.verdicts:
        return Decision(False, "verdict_not_listed")
    blocked = _throttle(rules, state, alert_key(alert), int(alert["ts"]), spec.cooldown_s)
    if blocked is not None:
        return Decision(False, blocked, "alerts")
    return Decision(True, "sent", "alerts")
