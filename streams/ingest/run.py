"""What ``alphastream ingest`` and ``record`` share: the sources, their URLs, and one run.

A source is a decoder plus the URL it connects to. Secrets (the Solana RPC URL, which carries the
provider's key, and PumpPortal's API key) come from settings as ``SecretStr`` and are only
unwrapped here, at connect time; logs see :func:`~streams.ingest.connector.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from streams.ingest.backoff import BackoffPolicy
from streams.ingest.connector import Connector, ConnectorConfig, Runtime
from streams.ingest.frames import FrameDecoder
from streams.ingest.metrics import IngestMetrics
from streams.ingest.sinks import EventSink
from streams.settings import Settings

SOLANA_LOGS = "solana-logs"
PUMPPORTAL = "pumpportal"
SOURCES = (SOLANA_LOGS, PUMPPORTAL)


class SourceError(ValueError):
    """A source that cannot start as asked (no URL, trades without a key, unknown name)."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    url: str | None = None  # overrides the settings' URL
    trade_mints: tuple[str, ...] = ()  # pumpportal: subscribeTokenTrade keys (needs the key)
    trade_wallets: tuple[str, ...] = ()  # pumpportal: subscribeAccountTrade keys (needs the key)


def build_source(name: str, settings: Settings, options: SourceOptions) -> tuple[FrameDecoder, str]:
    """The decoder and the URL (secret included) of source ``name``."""
    if name == SOLANA_LOGS:
        return _solana_logs(settings, options)
    if name == PUMPPORTAL:
        return _pumpportal(settings, options)
    raise SourceError(f"unknown source {name!r}; one of {list(SOURCES)}")


def _solana_logs(settings: Settings, options: SourceOptions) -> tuple[FrameDecoder, str]:
    url = options.url or (
        settings.solana_ws_url.get_secret_value() if settings.solana_ws_url else None
    )
    if not url:
        raise SourceError("solana-logs needs --url or ALPHASTREAM_SOLANA_WS_URL (wss://...)")
    from streams.ingest.solana_logs import SolanaLogsDecoder

    return SolanaLogsDecoder(), url


def _pumpportal(settings: Settings, options: SourceOptions) -> tuple[FrameDecoder, str]:
    key = settings.pumpportal_api_key
    wants_trades = bool(options.trade_mints or options.trade_wallets)
    if wants_trades and key is None:
        raise SourceError(
            "PumpPortal trade subscriptions need an API key (ALPHASTREAM_PUMPPORTAL_API_KEY); "
            "without one the server refuses them"
        )
    from streams.ingest.pumpportal import PumpPortalDecoder

    decoder = PumpPortalDecoder(
        token_keys=options.trade_mints,
        account_keys=options.trade_wallets,
        has_api_key=key is not None,
    )
    url = options.url or settings.pumpportal_url
    if key is not None:
        url = _with_query(url, {"api-key": key.get_secret_value()})
    return decoder, url


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def connector_config(
    settings: Settings, url: str, *, max_events: int | None = None
) -> ConnectorConfig:
    return ConnectorConfig(
        url=url,
        silence_s=settings.ingest_silence_s,
        backoff=BackoffPolicy(
            base_s=min(settings.ingest_backoff_base_s, settings.ingest_backoff_cap_s),
            cap_s=settings.ingest_backoff_cap_s,
        ),
        dedup_ids=settings.ingest_dedup_ids,
        max_events=max_events,
    )


async def run_until_stopped(connector: Connector, *, max_seconds: float | None = None) -> str:
    """Run until SIGINT/SIGTERM, ``max_seconds`` or the connector's own limit; the sink is
    closed (flushed) either way. Returns why it ended."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on the main thread
            loop.add_signal_handler(sig, stop.set)
    timer = (
        loop.call_later(max_seconds, stop.set)
        if max_seconds is not None and max_seconds > 0
        else None
    )
    try:
        return await connector.run(stop)
    finally:
        if timer is not None:
            timer.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)


def run_feed(
    decoder: FrameDecoder,
    sink: EventSink,
    config: ConnectorConfig,
    *,
    metrics: IngestMetrics | None = None,
    max_seconds: float | None = None,
    runtime: Runtime | None = None,
) -> tuple[str, Connector]:
    """Blocking: one connector over ``decoder`` into ``sink`` (closed at the end)."""
    connector = Connector(decoder, sink, config, metrics, runtime)
    try:
        end = asyncio.run(run_until_stopped(connector, max_seconds=max_seconds))
    finally:
        sink.close()
    return end, connector
