"""The matrix as a markdown table (README) and as JSON (every figure and note)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import orjson

from streams.devtools.faults.disk import RECOVER_S
from streams.devtools.faults.scenario import RowResult

_COLUMNS = (
    "fault",
    "offered",
    "buys",
    "scored",
    "dead-lettered",
    "duplicates",
    "lost",
    "features = replay",
    "recover (s)",
    "backlog drained (s)",
    "peak latency (s)",
)


def _cells(row: RowResult) -> list[str]:
    drained = row.notes.get("backlog_drained_s")
    return [
        row.fault,
        str(row.offered),
        str(row.buys),
        str(row.scored),
        str(row.dead_lettered),
        str(row.duplicates),
        str(row.lost),
        f"{row.features_equal_pct:.2f}%",
        "-" if row.recover_s is None else f"{row.recover_s:.2f}",
        "-" if drained is None else f"{drained:.2f}",
        f"{row.peak_latency_s:.2f}",
    ]


def render_markdown(rows: Sequence[RowResult], untested: Mapping[str, str]) -> str:
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    notes = [f"- `{r.fault}`: {_short_notes(r)}" for r in rows if _short_notes(r)]
    lines += ["", *notes] if notes else []
    if untested:
        lines += ["", "Not tested:", *(f"- `{name}`: {why}" for name, why in untested.items())]
    return "\n".join(lines) + "\n"


def _short_notes(row: RowResult) -> str:
    parts = []
    if not row.completed:
        parts.append("did NOT complete (some buys unscored at the timeout)")
    ratio = row.notes.get("good_rate_ratio")
    if ratio is not None:
        parts.append(f"buys scored while the fault lasted / buys offered meanwhile: {ratio:.2f}")
    if row.notes.get("unexpected_score_count"):
        parts.append(f"{row.notes['unexpected_score_count']} scores of non-market event ids")
    store = row.notes.get("store")
    if store:
        parts.append(
            f"signals on the topic {store['signals_on_topic']}, stored {store['stored_distinct']} "
            f"(missing {store['missing']}, rows {store['stored_rows_raw']} raw / "
            f"{store['stored_rows_final']} after FINAL), sink insert retries "
            f"{store['sink_insert_retries']:.0f}, all stored {store['stored_after_restart_s']} s "
            "after the endpoint was back"
        )
    models = row.notes.get("models")
    if models:
        parts.append(
            f"rejected after (s) {row.notes.get('rejected_after_s')}; buy scores of another "
            f"version than {models['serving']}: {models['buy_scores_other_version']} "
            f"({models['buy_scores_while_corrupting']} buys scored while corrupting)"
        )
    slow = row.notes.get("slow_consumer")
    if slow:
        parts.append(
            f"the slow consumer read {slow['read']} of {slow['scores_published']} scores "
            f"(uncommitted at the end: {slow['committed_lag']}, {slow['behind_market_h']} h of "
            f"market behind); buy latency before it joined {slow['latency_before_s']}, "
            f"after {slow['latency_during_s']}"
        )
    disk = row.notes.get("disk")
    if disk:
        parts.append(
            f"worker exit code on the full disk: {disk['exit_code']} (None: kept running), "
            f"{disk['failed_checkpoints']} failed checkpoints logged, local commits in "
            f"{RECOVER_S:.0f} s after the space was back: {disk['local_commits_after_space_back']}, "
            f"exit code after SIGTERM: {disk['sigterm_exit_code']}; the new worker was planned "
            f"{disk['restart_planned_s']} s after it started"
        )
    if row.notes.get("dead_letter_reasons"):
        parts.append(f"dead-letter reasons {row.notes['dead_letter_reasons']}")
    return "; ".join(parts)


def render_json(rows: Sequence[RowResult], untested: Mapping[str, str]) -> bytes:
    payload = {"rows": [dataclasses.asdict(r) for r in rows], "not_tested": dict(untested)}
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2)
