"""``alphastream notify`` end to end: real scores and alerts on Apache Kafka, the real command,
apprise posting ``json://`` to a local HTTP server that stands in for the chat webhook. The
server receives exactly the messages the rules allow, with the text the template makes."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from streams.app.runner import settings_env
from streams.events import Score
from streams.events.decode import encode, validate_output
from tests.conftest import SettingsFor, unique_id
from tests.integration.browser import free_port
from tests.integration.worker_procs import stop_worker
from tests.waiting import poll_until

pytestmark = [pytest.mark.integration]


def counts(port: int, family: str) -> dict[str, float]:
    """outcome (or "") -> value of a notify counter, from the command's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        if fam.name == family:
            for s in fam.samples:
                if s.name == family + "_total":
                    key = s.labels.get("outcome", "")
                    out[key] = out.get(key, 0.0) + s.value
    return out


class Webhook(ThreadingHTTPServer):
    """Records every JSON body POSTed to it (the role of Discord/Slack/Telegram here)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.received.append({"path": self.path, **json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    server = Webhook()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _score(mint: str, ts: int, p: float | None, dead: float | None = 0.1, pct: float | None = 0.95,
           kind: str = "buy", rule: float = 0.2) -> Score:  # fmt: skip
    return Score(
        schema_version=1, type="score", event_id=unique_id("s"), ts=ts, mint=mint,
        source_event_id=unique_id("e"), kind=kind, wallet="W" if kind == "buy" else None,
        creator="C", scored_at=ts + 40, price=3e-8,
        scores={"reach_2x_1h": p, "reach_3x_30m": None, "reach_2x_10m": None, "is_dead_soon": dead},
        rule_score=rule, source="rule" if p is None else "model",
        models={} if p is None else {"reach_2x_1h": "standard__reach_2x_1h@4"},
        percentile_1h=pct, feature_set="fs-1",
    )  # fmt: skip


RULES = """
urls = ["json://127.0.0.1:{port}/hook"]
title = "alphastream {{{{ rule }}}}"
template = "{{{{ rule }}}} {{{{ score.mint }}}} p={{{{ '%.2f' | format(p) }}}}{{{{ ' (rule)' if used_rule_score else '' }}}}"
alert_template = "{{{{ alert.model_id }}}} {{{{ alert.verdict }}}}"
cooldown_s = 60

[rate_limit]
max_messages = 4
per_s = 60

[[rule]]
name = "hot"
kind = "buy"
min_score = 0.3
max_dead_soon = 0.5
min_percentile_1h = 0.9

[alerts]
verdicts = ["retrain"]
"""


def test_notify_posts_exactly_what_the_rules_allow(
    kafka_bootstrap: str, settings_for: SettingsFor, webhook: Webhook, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap)
    prefix = unique_id("notify") + "."
    admin = AdminClient(settings.kafka_client_config())
    # one partition each: the global rate limit then sees the scores in the order produced
    for fut in admin.create_topics(
        [NewTopic(prefix + name, 1, 1) for name in ("scores", "alerts")]
    ).values():
        fut.result(30)
    t = int(time.time() * 1000)
    scores = [  # mint, event time, and what the rules must do with it
        (_score("A", t, 0.6), "hot A p=0.60"),
        (_score("B", t + 1_000, 0.2), None),  # below the threshold
        (_score("C", t + 2_000, 0.7, dead=0.8), None),  # dead-soon veto
        (_score("D", t + 3_000, 0.7, pct=0.5), None),  # not the top decile
        (_score("A", t + 4_000, 0.8), None),  # A's cooldown
        (_score("E", t + 5_000, None, dead=None, pct=0.92, rule=0.45), "hot E p=0.45 (rule)"),
        (_score("F", t + 6_000, 0.9, kind="genesis"), None),  # the rule is for buys
        (_score("G", t + 7_000, 0.5), "hot G p=0.50"),
        (_score("H", t + 8_000, 0.5), "hot H p=0.50"),  # the 4th in 60 s
        (_score("I", t + 9_000, 0.9), None),  # rate limited
        (_score("A", t + 70_000, 0.4), "hot A p=0.40"),  # cooldown and window over
    ]
    alerts: list[dict[str, Any]] = [  # alert JSON documents
        {"ts": t + 71_000, "model_id": "genesis__reach_2x_1h", "verdict": "watch"},
        {"ts": t + 72_000, "model_id": "genesis__reach_2x_1h", "verdict": "retrain"},
    ]
    producer = Producer(settings.kafka_client_config())
    for s, _ in scores:
        validate_output(orjson.loads(encode(s)), "score")
        producer.produce(prefix + "scores", key=s.mint.encode(), value=encode(s))
    for a in alerts:
        producer.produce(prefix + "alerts", key=a["model_id"].encode(), value=orjson.dumps(a))
    producer.produce(prefix + "scores", key=b"X", value=b"{not json")  # bad input: counted
    assert producer.flush(30) == 0

    rules = tmp_path / "notify.toml"
    rules.write_text(RULES.format(port=webhook.server_address[1]))
    metrics_port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "alphastream"), "notify", str(rules),
         "--topic-prefix", prefix, "--group-id", unique_id("notify"), "--from-beginning",
         "--metrics-port", str(metrics_port)],
        env={**settings_env(settings), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        judged = len(scores) + len(alerts)
        decisions: dict[str, float] = {}

        def judged_or_exited() -> bool:  # every input judged: the signal that nothing more comes
            nonlocal decisions
            if proc.poll() is not None:
                return True
            try:
                decisions = counts(metrics_port, "alphastream_notify_decisions")
                bad = sum(counts(metrics_port, "alphastream_notify_bad_input").values())
            except OSError:  # its metrics server is not up yet
                decisions, bad = {}, 0.0
            return sum(decisions.values()) >= judged and bad >= 1

        poll_until(judged_or_exited, timeout_s=90, interval_s=0.3)
        assert sum(decisions.values()) == judged, f"not every input judged: {decisions}"
    finally:
        stop_worker(proc)
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert proc.returncode == 0, output
    expected_scores = [text for _, text in scores if text is not None]
    bodies = [m["message"] for m in webhook.received]
    assert sorted(bodies) == sorted([*expected_scores, "genesis__reach_2x_1h retrain"])
    by_body = {m["message"]: m for m in webhook.received}
    assert by_body["hot A p=0.60"]["title"] == "alphastream hot"
    assert all(m["path"] == "/hook" for m in webhook.received)
    assert decisions == {
        "sent": len(expected_scores) + 1, "below_threshold": 1, "dead_soon_veto": 1,
        "not_top_percentile": 1, "cooldown": 1, "other_kind": 1, "rate_limited": 1,
        "verdict_not_listed": 1,
    }  # fmt: skip
    assert "notify: 6 messages sent" in output
