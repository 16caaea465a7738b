"""Notify rules: threshold (rule score without a model), dead-soon veto, top decile, per-mint
cooldown and the global rate limit, all on event time; the rule file and the templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from streams.notify import NotifyRules, RuleState, decide_alert, decide_score, load_rules
from streams.notify.render import Renderer

T0 = 1_764_633_600_000  # 2025-12-02 00:00 UTC in ms


def score(
    mint: str = "M1",
    ts: int = T0,
    p: float | None = 0.5,
    dead: float | None = 0.1,
    pct: float | None = 0.95,
    rule: float = 0.2,
    kind: str = "buy",
) -> dict[str, Any]:
    return {
        "type": "score",
        "mint": mint,
        "ts": ts,
        "kind": kind,
        "scores": {"reach_2x_1h": p, "is_dead_soon": dead},
        "rule_score": rule,
        "source": "rule" if p is None else "model",
        "percentile_1h": pct,
        "price": 3.2e-8,
    }


def rules(**overrides: Any) -> NotifyRules:
    base: dict[str, Any] = {
        "cooldown_s": 60,
        "rate_limit": {"max_messages": 3, "per_s": 10},
        "rule": [{"name": "hot", "min_score": 0.3, "max_dead_soon": 0.5, "min_percentile_1h": 0.9}],
    }
    base.update(overrides)
    return NotifyRules.model_validate(base)


def run(r: NotifyRules, items: list[dict[str, Any]]) -> list[str]:
    """Decide each score in turn, recording what was sent: the reasons in order."""
    state = RuleState.for_rules(r)
    reasons = []
    for item in items:
        d = decide_score(r, state, item)
        if d.send:
            state.record(f"mint:{item['mint']}", item["ts"])
        reasons.append(d.reason)
    return reasons


def test_each_filter_names_its_reason() -> None:
    r = rules()
    state = RuleState.for_rules(r)
    assert decide_score(r, state, score()).reason == "sent"
    assert decide_score(r, state, score(p=0.29)).reason == "below_threshold"
    assert decide_score(r, state, score(dead=0.5)).reason == "dead_soon_veto"
    assert decide_score(r, state, score(pct=0.89)).reason == "not_top_percentile"
    assert decide_score(r, state, score(pct=None)).reason == "not_top_percentile"
    assert decide_score(r, state, score(kind="genesis")).reason == "other_kind"


def test_rule_score_stands_in_without_a_model_and_no_model_means_no_veto() -> None:
    r = rules()
    state = RuleState.for_rules(r)
    low = decide_score(r, state, score(p=None, dead=None, rule=0.2))
    assert (low.send, low.reason, low.used_rule_score) == (False, "below_threshold", True)
    high = decide_score(r, state, score(p=None, dead=None, rule=0.4))
    assert high.send and high.used_rule_score and high.value == pytest.approx(0.4)


def test_decide_changes_nothing_until_recorded() -> None:
    r = rules()
    state = RuleState.for_rules(r)
    for _ in range(5):
        assert decide_score(r, state, score()).send
    assert not state.last_sent and not state.sent_ts


def test_cooldown_per_mint_on_event_time() -> None:
    r = rules()
    reasons = run(
        r,
        [
            score("A", T0),
            score("A", T0 + 59_999),  # inside A's 60 s cooldown
            score("B", T0 + 1_000),  # another mint is not held back
            score("A", T0 + 60_000),  # cooldown over
        ],
    )
    assert reasons == ["sent", "cooldown", "sent", "sent"]


def test_rate_limit_is_global_and_slides() -> None:
    r = rules()  # 3 per 10 s
    mints = [score(f"M{i}", T0 + i * 1_000) for i in range(5)]
    later = [score("X", T0 + 10_000), score("Y", T0 + 10_500)]
    # M0..M2 sent at 0, 1, 2 s; M3, M4 limited; at 10 s M0 left the window, at 10.5 s not M1
    assert run(r, mints + later) == ["sent"] * 3 + ["rate_limited"] * 2 + ["sent", "rate_limited"]


def test_first_passing_rule_decides() -> None:
    r = rules(
        rule=[
            {"name": "genesis", "kind": "genesis", "min_score": 0.1},
            {"name": "any strong", "kind": "any", "min_score": 0.8},
        ]
    )
    state = RuleState.for_rules(r)
    assert decide_score(r, state, score(kind="genesis", p=0.2)).rule == "genesis"
    assert decide_score(r, state, score(p=0.9)).rule == "any strong"
    assert decide_score(r, state, score(p=0.5)).reason == "other_kind"  # the first rule's reason


def test_alerts_listed_verdicts_once_per_cooldown() -> None:
    r = rules(alerts={"verdicts": ["retrain"], "cooldown_s": 100})
    state = RuleState.for_rules(r)
    alert = {"ts": T0, "model_id": "genesis__reach_2x_1h", "verdict": "retrain"}
    assert decide_alert(r, state, {**alert, "verdict": "watch"}).reason == "verdict_not_listed"
    assert decide_alert(r, state, alert).send
    state.record("alert:genesis__reach_2x_1h:retrain", T0)
    assert decide_alert(r, state, {**alert, "ts": T0 + 99_000}).reason == "cooldown"
    assert decide_alert(r, state, {**alert, "ts": T0 + 100_000}).send


def test_memory_is_bounded_by_the_horizon() -> None:
    r = rules()
    state = RuleState.for_rules(r)
    for i in range(100):
        state.record(f"mint:{i}", T0 + i * 3_600_000)  # one per hour
    assert len(state.last_sent) <= 25  # a day of keys
    assert len(state.sent_ts) == 1  # only the rate window's


def test_rule_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_text(
        'urls = ["json://127.0.0.1:1/hook"]\n'
        "cooldown_s = 30\n"
        "template = \"{{ rule }} {{ score.mint }} {{ '%.2f' | format(p) }}\"\n"
        "[rate_limit]\nmax_messages = 5\nper_s = 60\n"
        '[[rule]]\nname = "top"\nmin_score = 0.3\nmin_percentile_1h = 0.9\n'
    )
    r = load_rules(path)
    assert r.cooldown_s == 30 and r.rate_limit.max_messages == 5
    assert [x.name for x in r.rules] == ["top"]
    assert "127.0.0.1" not in repr(r)  # URLs carry tokens: masked
    d = decide_score(r, RuleState.for_rules(r), score())
    assert Renderer(r).score_text(score(), d) == ("alphastream", "top M1 0.50")


def test_rule_file_rejects_unknown_fields(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[rule]]\nname = "x"\nmin_score = 0.3\nmin_scor = 0.2\n')
    with pytest.raises(ValidationError, match="min_scor"):
        load_rules(path)


def test_default_templates_render() -> None:
    r = rules()
    renderer = Renderer(r)
    s = score(p=0.512, pct=0.97)
    _, body = renderer.score_text(s, decide_score(r, RuleState.for_rules(r), s))
    assert body == "hot: buy M1 p=0.51 (model) top 3% price=3.2e-08"
    alert = {
        "ts": T0,
        "model_id": "standard__reach_2x_1h",
        "version": "3",
        "target": "reach_2x_1h",
        "verdict": "retrain",
        "reasons": [{"rule": "ece", "message": "calibration off"}],
    }
    assert renderer.alert_text(alert)[1] == (
        "model standard__reach_2x_1h@3 (reach_2x_1h): retrain\n- ece: calibration off"
    )


def test_notify_command_refuses_a_bad_rule_file_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streams.cli import _register, app

    _register()
    bad_field = tmp_path / "typo.toml"
    bad_field.write_text('[[rule]]\nname = "x"\nmin_score = 1.5\n')
    bad_url = tmp_path / "url.toml"
    bad_url.write_text('urls = ["nosuchscheme://x"]\n')
    for path, why in ((bad_field, "min_score"), (bad_url, "apprise URL")):
        result = CliRunner().invoke(app, ["notify", str(path)])
        assert result.exit_code == 2, result.output
        assert why in result.output
