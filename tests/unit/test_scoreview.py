"""The worker's in-memory score view: latest per mint and kind, top decile of the last hour,
model share, bounded memory."""

from __future__ import annotations

from streams.app.scoreview import HOUR_MS, ScoreView
from streams.contracts.events import SCHEMA_VERSION, Score

T0 = 1_764_633_600_000


def make_score(
    mint: str,
    ts: int,
    kind: str = "buy",
    p: float | None = 0.4,
    pct: float | None = 0.5,
    source: str = "model",
) -> Score:
    return Score(
        schema_version=SCHEMA_VERSION,
        type="score",
        event_id=f"{mint}-{kind}-{ts}:s",
        ts=ts,
        mint=mint,
        source_event_id=f"{mint}-{kind}-{ts}",
        kind=kind,
        wallet="W" if kind == "buy" else None,
        creator="C",
        scored_at=ts + 50,
        price=1e-8,
        scores={"reach_2x_1h": p, "is_dead_soon": None if p is None else 0.2},
        rule_score=0.25,
        source=source,
        models={"reach_2x_1h": "standard__reach_2x_1h@3"} if p is not None else {},
        percentile_1h=pct,
        feature_set="fs1",
    )


def test_lookup_holds_the_latest_buy_and_genesis_score() -> None:
    view = ScoreView()
    view.update([make_score("A", T0, "genesis", p=None, source="rule")], T0 / 1000 + 1)
    view.update([make_score("A", T0 + 1_000), make_score("A", T0 + 2_000, p=0.7)], T0 / 1000 + 3)
    found = view.lookup("A", now_s=(T0 + 2_050) / 1000 + 1.5)
    assert found is not None
    assert found["buy"]["ts"] == T0 + 2_000 and found["buy"]["headline"] == 0.7
    assert found["buy"]["models"] == {"reach_2x_1h": "standard__reach_2x_1h@3"}
    assert found["buy"]["age_s"] == 1.5
    assert found["genesis"]["source"] == "rule" and found["genesis"]["headline"] == 0.25
    assert view.lookup("B", now_s=0) is None


def test_board_top_decile_keeps_the_last_hour_and_one_row_per_mint() -> None:
    view = ScoreView()
    view.update(
        [
            make_score("old", T0, p=0.9, pct=0.99),
            make_score("A", T0 + HOUR_MS, p=0.5, pct=0.95),
            make_score("A", T0 + HOUR_MS + 1, p=0.6, pct=0.96),
            make_score("B", T0 + HOUR_MS + 2, p=0.8, pct=0.97),
            make_score("C", T0 + HOUR_MS + 3, p=0.7, pct=0.5),  # not top decile
            make_score("D", T0 + 2 * HOUR_MS, p=0.3, pct=0.9),
        ],
        T0 / 1000,
    )
    top = [(s.score.mint, s.score.scores["reach_2x_1h"]) for s in view.top_last_hour()]
    assert top == [("B", 0.8), ("A", 0.6), ("D", 0.3)]  # "old" is > 1 h before the newest
    board = view.board(now_s=T0 / 1000)
    assert [r["mint"] for r in board["recent"]] == ["D", "C", "B", "A", "A", "old"]
    assert board["models"]["share"] == {"model": 1.0}
    assert board["published"] == 6 and board["mints"] == 5


def test_rule_vs_model_share_and_model_changes() -> None:
    view = ScoreView()
    view.note_models({"standard": {}}, 10.0)
    view.note_models({"standard": {}}, 20.0)
    assert (view.models.last_scan_s, view.models.last_change_s) == (20.0, 10.0)
    view.note_models({"standard": {"reach_2x_1h": "m@2"}}, 30.0)
    assert view.models.last_change_s == 30.0
    view.update([make_score("A", T0, p=None, source="rule")] * 3 + [make_score("B", T0)], 0)
    assert view.board(0)["models"]["share"] == {"model": 0.25, "rule": 0.75}


def test_memory_is_bounded() -> None:
    view = ScoreView(max_mints=3, recent=2, top_candidates=2)
    view.update([make_score(f"M{i}", T0 + i, pct=0.99) for i in range(10)], 0)
    assert list(view.latest) == ["M7", "M8", "M9"]
    assert len(view.recent) == 2 and len(view.top) == 2
    view.update([make_score("M7", T0 + 20)], 0)  # a new score refreshes a mint's place
    view.update([make_score("M10", T0 + 21)], 0)
    assert list(view.latest) == ["M9", "M7", "M10"]
