"""Force the refreshable summary views (tokens, creators, wallets) to recompute now."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

# Refresh order follows DEPENDS ON (creators is computed from tokens).
SUMMARY_VIEWS = ("tokens", "wallets", "creators")


def refresh_summaries(client: Client) -> None:
    """Recompute every summary view and wait for each; raises if a refresh fails."""
    for view in SUMMARY_VIEWS:
        client.command(f"SYSTEM REFRESH VIEW {view}")
        client.command(f"SYSTEM WAIT VIEW {view}")
