"""ClickHouse-only behaviour on chdb: migrations, FINAL dedup, summary and monitoring views."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from streams.devtools.synthetic.store import Dataset, make_dataset
from streams.events import TARGETS
from streams.store import connect, migrate, refresh_summaries
from streams.store.clickhouse import ClickHouseStore
from streams.store.migrations import load_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
def client(chdb_dsn: str, unique_name: str) -> Iterator[Client]:
    c = connect(chdb_dsn, database=unique_name)
    try:
        yield c
    finally:
        c.command(f"DROP DATABASE IF EXISTS {unique_name}")
        c.close()


@pytest.fixture
def loaded(client: Client) -> tuple[Client, Dataset]:
    migrate(client)
    data = make_dataset(240, seed=5)
    store = ClickHouseStore(client)
    store.write(data.signals, data.outcomes)
    store.write(data.signals[:50], data.outcomes[:50])  # re-delivered
    return client, data


def test_migrations_apply_once_and_are_idempotent(client: Client) -> None:
    applied = migrate(client)
    assert [m.version for m in applied] == [m.version for m in load_migrations()]
    assert migrate(client) == []
    rows = client.query(
        "SELECT version, name FROM schema_migrations FINAL ORDER BY version"
    ).result_rows
    assert [(m.version, m.name) for m in load_migrations()] == [(int(v), n) for v, n in rows]
    tables = {
        r[0]
        for r in client.query(
            "SELECT name FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    }
    assert {
        "signals",
        "outcomes",
        "tokens",
        "creators",
        "wallets",
        "monitor_hourly",
        "monitor_calibration",
    } <= tables
    # re-running every statement of every migration is harmless too
    for migration in load_migrations():
        for statement in migration.statements():
            client.command(statement)


def test_final_collapses_redelivered_rows(loaded: tuple[Client, Dataset]) -> None:
    client, data = loaded
    client.command("SYSTEM STOP MERGES signals")  # keep the duplicate parts apart for the check
    ClickHouseStore(client).write(data.signals[:20], [])
    raw = int(client.command("SELECT count() FROM signals"))  # type: ignore[arg-type]
    final = int(client.command("SELECT count() FROM signals FINAL"))  # type: ignore[arg-type]
    assert raw >= len(data.signals) + 20
    assert final == len(data.signals)
    stages = client.query("SELECT stage, count() FROM outcomes FINAL GROUP BY stage").result_rows
    assert {stage: n for stage, n in stages} == {
        "24h": len({o.signal_event_id for o in data.outcomes})
    }


def test_summaries_match_the_data(loaded: tuple[Client, Dataset]) -> None:
    client, data = loaded
    refresh_summaries(client)
    final = {o.signal_event_id: o for o in data.outcomes if o.stage == "24h"}
    buys = [s for s in data.signals if s.kind == "buy"]
    expect_wallet: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # buys, resolved, wins
    for s in buys:
        assert s.wallet is not None
        expect_wallet[s.wallet][0] += 1
        if s.event_id in final:
            expect_wallet[s.wallet][1] += 1
            expect_wallet[s.wallet][2] += int(final[s.event_id].labels["reach_2x_1h"])
    got = {
        w: [b, r, x]
        for w, b, r, x in client.query(
            "SELECT wallet, buys, resolved_buys, wins FROM wallets"
        ).result_rows
    }
    assert got == dict(expect_wallet)

    launches = {s.mint: s for s in data.signals if s.kind == "genesis"}
    tokens = {
        m: (n, fate)
        for m, n, fate in client.query("SELECT mint, signals, fate FROM tokens").result_rows
    }
    assert set(tokens) == set(launches)
    for mint, genesis in launches.items():
        outcome = final.get(genesis.event_id)
        assert tokens[mint][0] == sum(1 for s in data.signals if s.mint == mint)
        if outcome is not None:
            assert tokens[mint][1] == _fate(
                outcome.labels["is_dead_soon"], outcome.peak_24h, outcome.peak_1h
            )
    creators = {c: n for c, n in client.query("SELECT creator, launches FROM creators").result_rows}
    expect_creators: dict[str, int] = defaultdict(int)
    for genesis in launches.values():
        assert genesis.creator is not None
        expect_creators[genesis.creator] += 1
    assert creators == dict(expect_creators)


def _fate(dead: bool, peak_24h: float | None, peak_1h: float | None) -> str:
    if dead:
        return "dead"
    if peak_24h is not None and peak_24h >= 10:
        return "moon"
    if peak_1h is not None and peak_1h >= 2:
        return "runner"
    return "flat"


def test_monitoring_views_count_and_hit_rates(loaded: tuple[Client, Dataset]) -> None:
    client, data = loaded
    final = {o.signal_event_id: o for o in data.outcomes if o.stage == "24h"}
    target = TARGETS[0]
    expect: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, resolved, hits
    for s in data.signals:
        if s.scores[target] is None:
            continue
        row = expect[s.models[target]]
        row[0] += 1
        if s.event_id in final:
            row[1] += 1
            row[2] += int(final[s.event_id].labels[target])
    query = (
        "SELECT model, sum(n), sum(resolved_n), sum(hits) FROM monitor_hourly "
        "WHERE target = {t:String} GROUP BY model"
    )
    got = {
        m: [int(n), int(r), int(h)]
        for m, n, r, h in client.query(query, parameters={"t": target}).result_rows
    }
    assert got == dict(expect)
    calib = client.query(
        "SELECT sum(n), sum(hits), min(decile), max(decile) FROM monitor_calibration WHERE target = {t:String}",
        parameters={"t": target},
    ).result_rows[0]
    assert [int(calib[0]), int(calib[1])] == [
        sum(v[1] for v in expect.values()),
        sum(v[2] for v in expect.values()),
    ]
    assert 0 <= calib[2] <= calib[3] <= 9
