"""A real ``alphastream worker --http-port`` (with a sequencer) on Apache Kafka: /healthz, /ready
(503 until the shards are taken over), /scores/{mint} against what the scores topic holds, the
README's curl example, /metrics (market-log lag, build info, process and GC collectors), the live
board in a real headless Chromium (loads, shows rows, updates when new scores arrive), and with a
second worker in the group, ``other_worker`` for the mints whose shard the other one owns."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.app import TopicNames, launch_worker
from streams.app.shards import ShardMap
from streams.devtools.harness import Collector, new_producer, produce_events, sim_events
from streams.kafka_admin import create_prefixed_topics
from streams.settings import Settings
from tests.conftest import SettingsFor, unique_id
from tests.integration.browser import Browser, find_chromium, free_port
from tests.integration.worker_procs import start_sequencer, stop_worker
from tests.waiting import poll_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""  # not listening yet


@dataclass
class Served:
    settings: Settings
    topics: TopicNames
    port: int
    proc: subprocess.Popen[bytes]
    sequencer: subprocess.Popen[bytes]
    log: Path
    events: list[dict[str, Any]]
    later: list[dict[str, Any]]  # produced by the board test, to see the page update
    ready_seen: list[int] = field(default_factory=list)
    collector: Collector | None = None

    def scores(self) -> list[dict[str, Any]]:
        assert self.collector is not None
        return self.collector.records[self.topics.scores]


def wait_published(served: Served, events: list[dict[str, Any]], timeout_s: float = 180) -> None:
    """Until the scores topic holds a score for every buy of ``events``."""
    buys = {e["event_id"] for e in events if e["type"] == "wallet_buy"}
    assert served.collector is not None
    done = served.collector.wait_for(
        lambda: (
            served.collector is not None and served.collector.has_scored(served.topics.scores, buys)
        ),
        timeout_s=timeout_s,
    )
    assert done, f"not every buy was scored; log {served.log}"


@pytest.fixture(scope="module")
def served(
    kafka_bootstrap: str, settings_for: SettingsFor, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("worker-http")
    settings = settings_for(kafka_bootstrap, models_dir=tmp / "models")
    prefix = unique_id("http") + "."
    topics = TopicNames.prefixed(prefix)
    create_prefixed_topics(settings, prefix)
    events = sim_events(seed=5, hours=0.5, launch_rate_per_day=800)
    cut = next(i for i, e in enumerate(events) if e["ts"] >= events[0]["ts"] + 20 * 60_000)
    port = free_port()
    log = tmp / "worker.log"
    sequencer, _ = start_sequencer(settings, prefix, tmp / "sequencer.log")
    proc = launch_worker(settings, topic_prefix=prefix, log_path=log,
                         extra_args=["--http-port", str(port)])  # fmt: skip
    run = Served(settings, topics, port, proc, sequencer, log, events[:cut], events[cut:])

    def ready_or_exited() -> bool:
        if proc.poll() is not None:
            return True
        status, _ = get(port, "/ready")
        if status:
            run.ready_seen.append(status)
        return status == 200

    try:
        poll_until(ready_or_exited, timeout_s=120, interval_s=0.1)
        assert run.ready_seen and run.ready_seen[-1] == 200, f"worker never ready; log {log}"
        run.collector = Collector(settings, [topics.scores])
        produce_events(new_producer(settings), topics, run.events, in_order=True)
        wait_published(run, run.events)
        yield run
    finally:
        if run.collector is not None:
            run.collector.close()
        stop_worker(proc)
        stop_worker(sequencer)


def test_healthz_and_ready_before_and_after_planning(served: Served) -> None:
    assert get(served.port, "/healthz") == (200, b'{"status":"alive"}\n')
    # the server listens before the group is joined: /ready said 503 (planning) first
    assert served.ready_seen[0] == 503 and served.ready_seen[-1] == 200
    status, body = get(served.port, "/ready")
    assert status == 200 and json.loads(body)["ready"] is True


def test_lookup_answers_the_latest_published_scores(served: Served) -> None:
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for s in served.scores():  # one mint lives on one partition: topic order is publish order
        latest[(s["mint"], s["kind"])] = s
    mints = sorted({m for m, k in latest if k == "buy" and (m, "genesis") in latest})[:20]
    assert mints, "no mint with both a buy and a genesis score"
    for mint in mints:
        status, body = get(served.port, f"/scores/{mint}")
        assert status == 200
        found = json.loads(body)
        for kind in ("buy", "genesis"):
            want = latest[(mint, kind)]
            got = found[kind]
            assert got["event_id"] == want["event_id"]
            assert got["scores"] == want["scores"] and got["models"] == want["models"]
            assert got["source"] == "rule" and got["age_s"] >= 0


def test_lookup_of_an_unknown_mint_is_a_404_with_a_reason(served: Served) -> None:
    status, body = get(served.port, "/scores/NoSuchMint111")
    assert status == 404
    assert json.loads(body)["error"] == "unknown_mint"


def test_readme_curl_example_runs_against_the_worker(served: Served) -> None:
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```bash\n(.*?)```", readme, re.S) if "/scores/" in b)
    commands = [ln for ln in block.splitlines() if ln.startswith("curl ")]
    assert len(commands) >= 2
    mint = next(s["mint"] for s in served.scores() if s["kind"] == "buy")
    script = "\n".join(commands).replace("127.0.0.1:8080", f"127.0.0.1:{served.port}")
    out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env={"MINT": mint,
                         "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=30, check=True)  # fmt: skip
    lines = [json.loads(x) for x in out.stdout.decode().splitlines() if x.strip()]
    assert any(x.get("ready") is True for x in lines)
    assert any(x.get("mint") == mint and x.get("buy") for x in lines)


def _families(port: int) -> dict[str, Any]:
    status, body = get(port, "/metrics")
    assert status == 200
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def test_metrics_lag_build_info_and_process_collectors(served: Served) -> None:

    def lag() -> dict[tuple[str, str], float]:
        family = _families(served.port)["alphastream_consumer_lag_messages"]
        return {(s.labels["topic"], s.labels["partition"]): s.value for s in family.samples}

    # lag is refreshed every step: wait until the worker is at the log's end
    samples = poll_until(
        lag, until=lambda now: now and not any(now.values()), timeout_s=60, interval_s=0.5
    )
    assert samples == {(served.topics.log, "0"): 0.0}, samples
    families = _families(served.port)
    build = families["alphastream_build_info"].samples[0]
    assert build.name == "alphastream_build_info" and build.value == 1
    assert build.labels["version"] and build.labels["feature_set"]
    assert "process_cpu_seconds" in families and "process_resident_memory_bytes" in families
    assert "python_gc_collections" in families
    scored = families["alphastream_scored"]
    assert sum(s.value for s in scored.samples if s.name.endswith("_total")) >= len(
        [s for s in served.scores() if s["kind"] == "buy"]
    )
    served_models = families["alphastream_model_info"]
    assert served_models.type == "gauge"
    handled = families["alphastream_http_request_seconds"]
    routes = {s.labels["route"] for s in handled.samples if s.name.endswith("_count")}
    assert {"/ready", "/metrics"} <= routes


def test_board_shows_rows_and_updates_in_a_real_browser(served: Served) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's chromium)")
    with Browser(binary) as browser:
        browser.navigate(f"http://127.0.0.1:{served.port}/board")
        rows = "document.querySelectorAll('#recent tbody tr').length"
        assert browser.wait_for(rows) >= 10
        assert browser.wait_for("document.getElementById('models').textContent.includes('rule')")
        assert browser.evaluate("document.getElementById('status').textContent").startswith("ready")
        first_ids = browser.evaluate(
            "[...document.querySelectorAll('#recent tbody tr')].map(r => r.dataset.eventId)"
        )
        before = int(browser.evaluate("document.body.dataset.published"))
        produce_events(new_producer(served.settings), served.topics, served.later, in_order=True)
        wait_published(served, served.later)
        later_ids = {e["event_id"] + ":s" for e in served.later}
        assert browser.wait_for(f"Number(document.body.dataset.published) > {before}")
        ids = browser.wait_for(
            "(() => { const ids = [...document.querySelectorAll('#recent tbody tr')]"
            ".map(r => r.dataset.eventId); return ids.length ? ids : null })()"
        )
        assert ids != first_ids
        # the rows come to show scores of the events produced after the page loaded
        wanted = json.dumps(sorted(later_ids))
        assert browser.wait_for(
            f"(() => {{ const later = new Set({wanted}); return [...document.querySelectorAll("
            "'#recent tbody tr')].some(r => later.has(r.dataset.eventId)) })()"
        )


def test_a_second_worker_answers_other_worker_for_the_shards_it_does_not_own(
    served: Served, tmp_path: Path
) -> None:
    """Runs last: a second worker joins, the shards split, and for every mint exactly one of the
    two answers for it; the other says ``other_worker`` and names the shard."""
    port = free_port()
    prefix = served.topics.log.removesuffix("market-log")
    second = launch_worker(served.settings, topic_prefix=prefix, log_path=tmp_path / "w2.log",
                           extra_args=["--http-port", str(port)])  # fmt: skip

    def ready_and_owned() -> tuple[bool, dict[int, set[int]]]:
        ready = all(get(p, "/ready")[0] == 200 for p in (served.port, port))
        return ready, {p: _owned(p) for p in (served.port, port)}

    def ready_and_split(now: tuple[bool, dict[int, set[int]]]) -> bool:
        ready, owned = now
        return ready and all(owned.values()) and not owned[served.port] & owned[port]

    try:  # both ready and the shards split between them
        _, owned = poll_until(
            ready_and_owned, until=ready_and_split, timeout_s=120, interval_s=0.25
        )
        assert all(owned.values()) and not owned[served.port] & owned[port], owned
        shards = ShardMap(served.settings.partitions)
        mints = sorted({s["mint"] for s in served.scores()})[:40]
        for mint in mints:
            answers = {p: get(p, f"/scores/{mint}") for p in (served.port, port)}
            other = [p for p, (status, body) in answers.items()
                     if status == 404 and json.loads(body)["error"] == "other_worker"]  # fmt: skip
            assert len(other) == 1, (mint, answers)
            body = json.loads(answers[other[0]][1])
            assert body["shard"] == shards.of(mint) and shards.of(mint) not in owned[other[0]]
    finally:
        stop_worker(second)


def _owned(port: int) -> set[int]:
    """The shards a worker owns, as its /ready says."""
    status, body = get(port, "/ready")
    return set(json.loads(body)["shards"]) if status else set()
