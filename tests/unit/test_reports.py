"""The report templates: one base and one stylesheet for the demo, monitor and training pages."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import jinja2
import pytest

from streams.reports import render
from training.card import write_index

STYLESHEET = resources.files("streams.reports").joinpath("templates/report.css").read_text()

DEMO = {
    "title": "alphastream demo",
    "broker": "tansu <embedded>",
    "clickhouse": "chdb",
    "total_seconds": "12",
    "pipeline": [("input events published", "1,000")],
    "latency_definition": "produce -> score publish",
    "training": [("standard/reach_2x_1h", "0.41", "0.30", "900", "3.2")],
    "quality": [],
    "verdict": "ok",
    "verdict_messages": ["all good"],
    "monitor_reports": ["monitor_reach_2x_1h.html"],
    "plots": ["latency.png"],
    "phases": [("train", "3.2")],
}
MONITOR = {
    "title": "alphastream monitor: reach_2x_1h",
    "generated": "2026-01-01T00:00Z",
    "headers": ("window", "signals"),
    "sections": [
        {
            "model": "standard__reach_2x_1h@v1",
            "verdict": "retrain",
            "reasons": ["score PSI 0.4 >= 0.25"],
            "has_reference": False,
            "rows": [["whole period", "2000"]],
            "images": ["m_psi.png"],
        }
    ],
}
CARD = {
    "title": "standard / reach_2x_1h",
    "sections": [("Data", [("rows", "1500")])],
    "figures": [("Feature importance (gain)", "imp.png")],
    "preformatted": [("Params", "num_leaves: 31")],
}


@pytest.mark.parametrize(
    ("template", "values"), [("demo.html", DEMO), ("monitor.html", MONITOR), ("card.html", CARD)]
)
def test_every_report_is_the_base_page_with_the_one_stylesheet(
    template: str, values: dict[str, object]
) -> None:
    page = render(template, **values)
    assert page.startswith("<!doctype html>")
    assert page.count("<style>") == 1 and STYLESHEET.strip() in page
    assert f"<title>{values['title']}</title>" in page
    assert page.rstrip().endswith("</html>")


def test_values_are_escaped() -> None:
    page = render("demo.html", **DEMO)
    assert "tansu &lt;embedded&gt;" in page and "<embedded>" not in page


def test_monitor_sections_show_verdict_reasons_rows_and_plots() -> None:
    page = render("monitor.html", **MONITOR)
    assert 'class="verdict verdict-retrain">retrain</span>' in page
    assert "<li>score PSI 0.4 &gt;= 0.25</li>" in page
    assert "No deployed metadata: label metrics only." in page
    assert "<td>whole period</td><td>2000</td>" in page
    assert '<img src="m_psi.png"' in page
    empty = render("monitor.html", **{**MONITOR, "sections": []})
    assert "No scored signals in the period." in empty


def test_a_missing_value_fails_the_render() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("card.html", **{k: v for k, v in CARD.items() if k != "figures"})


def test_training_index_links_every_card(tmp_path: Path) -> None:
    pages = [("standard / reach_2x_1h", tmp_path / "standard__reach_2x_1h.html", "PR-AUC 0.4")]
    index = write_index(tmp_path, pages).read_text()
    assert f"<h1>Training run {tmp_path.name}</h1>" in index
    assert '<a href="standard__reach_2x_1h.html">standard / reach_2x_1h</a> - PR-AUC 0.4' in index
