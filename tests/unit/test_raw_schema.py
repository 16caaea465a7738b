"""Inputs reach the agent as the exact bytes on the wire, through faust's own decode path."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types import EventT, Message

from streams.app.raw_schema import RawSchema


@pytest.mark.parametrize(
    ("key", "value"),
    [(b"mint-1", b'{"type": "wallet_buy"}'), (b"\xff\xfe", b"\x00not json\xff"), (None, None)],
)
def test_faust_decode_hands_over_the_raw_bytes(key: bytes | None, value: bytes | None) -> None:
    app = faust.App("raw-schema-test", broker="kafka://127.0.0.1:1", autodiscover=False)
    decode = RawSchema().compile(app)
    message = Message("wallet-buy", 0, 7, 0.0, 0, {}, key, value, None)

    async def decoded() -> EventT[Any]:
        return await decode(message, propagate=True)

    event = asyncio.run(decoded())
    assert event.key == key and event.value == value
    assert event.message is message
