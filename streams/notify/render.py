"""Message text from the rule file's jinja2 templates (sandboxed: a rule file is config, not code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from streams.notify.rules import Decision, NotifyRules


class Renderer:
    """Compiles the templates once; ``score_text`` / ``alert_text`` fill them per message."""

    def __init__(self, rules: NotifyRules) -> None:
        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        self.title: Template = env.from_string(rules.title)
        self.score: Template = env.from_string(rules.template)
        self.alert: Template = env.from_string(rules.alert_template)

    def score_text(self, score: Mapping[str, Any], decision: Decision) -> tuple[str, str]:
        """(title, body) for a score that passed ``decision``."""
        context = {
            "score": score,
            "rule": decision.rule,
            "p": decision.value,
            "used_rule_score": decision.used_rule_score,
        }
        return self.title.render(context), self.score.render(context)

    def alert_text(self, alert: Mapping[str, Any]) -> tuple[str, str]:
        context = {"alert": alert, "rule": "alerts"}
        return self.title.render(context), self.alert.render(context)
