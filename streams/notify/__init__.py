"""``alphastream notify``: scores and alerts to chat (apprise), gated by a rule file.

``rules`` is pure (the decision for one score given the state so far, time from the score's own
``ts``); ``render`` builds the text from a jinja2 template; ``service`` is the Kafka + apprise
adapter around them.
"""

from streams.notify.rules import (
    AlertRule,
    Decision,
    NotifyRules,
    RateLimit,
    RuleState,
    ScoreRule,
    decide_alert,
    decide_score,
    load_rules,
)

__all__ = [
    "AlertRule",
    "Decision",
    "NotifyRules",
    "RateLimit",
    "RuleState",
    "ScoreRule",
    "decide_alert",
    "decide_score",
    "load_rules",
]
