"""``ingest`` and ``record`` refuse what cannot work, before connecting, and say why."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from streams.cli import _register, app


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    _register()
    result = CliRunner().invoke(app, args, env=env or {}, terminal_width=200)
    return result.exit_code, result.output


def test_solana_logs_needs_a_url() -> None:
    code, output = invoke(["ingest", "solana-logs"], {"ALPHASTREAM_SOLANA_WS_URL": ""})
    assert code == 2
    assert "ALPHASTREAM_SOLANA_WS_URL" in output


def test_pumpportal_trades_need_an_api_key() -> None:
    code, output = invoke(["ingest", "pumpportal", "--trade-mint", "Mint1"])
    assert code == 2
    assert "API key" in output


def test_record_must_be_bounded(tmp_path: Path) -> None:
    code, output = invoke(["record", "pumpportal", "--out", str(tmp_path)])
    assert code == 2
    assert "--max-events" in output
    assert not (tmp_path / "events.jsonl").exists()


def test_record_names_the_unknown_source(tmp_path: Path) -> None:
    code, output = invoke(["record", "geyser", "--out", str(tmp_path), "--max-events", "1"])
    assert code == 2
    assert "unknown source 'geyser'" in output


def test_the_pumpportal_key_reaches_the_url_and_nothing_that_is_logged() -> None:
    from pydantic import SecretStr

    from streams.ingest.connector import redact_url
    from streams.ingest.run import _with_query
    from streams.settings import Settings

    settings = Settings(pumpportal_api_key=SecretStr("k-123"))
    url = _with_query(settings.pumpportal_url, {"api-key": "k-123"})
    assert url == "wss://pumpportal.fun/api/data?api-key=k-123"
    assert "k-123" not in redact_url(url)
    assert "k-123" not in str(settings.masked()) and "k-123" not in repr(settings)
