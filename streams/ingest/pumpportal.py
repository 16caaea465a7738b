"""PumpPortal data-websocket frames -> input contract v2 events (source ``pumpportal``).

PumpPortal sends already-decoded JSON: whole tokens and SOL as floats, no block time and no
slot (so ``ts`` is the receive time), and no fees. Field sets drift between versions, so every
field is read tolerantly: a missing optional field is unknown (absent / null), a missing field
the contract requires makes the frame dead with the field's name. Mapping rules: ``docs/feeds.md``.
"""

from __future__ import annotations

import math
from typing import Any

from streams.ingest import mapping as m
from streams.ingest.frames import FrameResult, Skip

_POOL_PUMP = "pump"
_DESTINATIONS = {"pump-amm": "pumpswap"}  # PumpPortal's pool name -> destination
_RESERVE_TOLERANCE = 1e-6  # relative: PumpPortal's floats carry rounding


class FrameError(ValueError):
    """A frame PumpPortal's own shape does not allow; ``reason`` is the dead-letter code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _required(frame: dict[str, Any], key: str) -> str:
    value = frame.get(key)
    if value is None:
        raise FrameError("missing_field", key)
    if not isinstance(value, str) or not value:
        raise FrameError("wrong_type", f"{key} is {value!r}"[:120])
    return value


def _optional(frame: dict[str, Any], key: str) -> str | None:
    """A tolerated text field: absent, null or of a shape we do not know -> unknown (None)."""
    value = frame.get(key)
    return value if isinstance(value, str) else None


def _number(frame: dict[str, Any], key: str) -> float:
    value = frame.get(key)
    if value is None:
        raise FrameError("missing_field", key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FrameError("wrong_type", f"{key} is {value!r}"[:120])
    return float(value)


class PumpPortalDecoder:
    """The pure decoder behind ``ingest pumpportal`` (see :class:`FrameDecoder`).

    ``token_keys`` / ``account_keys`` add trade subscriptions for those mints / wallets; they
    are sent only when ``has_api_key`` is set, because PumpPortal refuses them otherwise.
    """

    source = "pumpportal"

    def __init__(
        self,
        token_keys: tuple[str, ...] = (),
        account_keys: tuple[str, ...] = (),
        has_api_key: bool = False,
    ) -> None:
        self.token_keys = token_keys
        self.account_keys = account_keys
        self.has_api_key = has_api_key

    def subscribe_messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = [
            {"method": "subscribeNewToken"},
            {"method": "subscribeMigration"},
        ]
        if self.has_api_key and self.token_keys:
            messages.append({"method": "subscribeTokenTrade", "keys": list(self.token_keys)})
        if self.has_api_key and self.account_keys:
            messages.append({"method": "subscribeAccountTrade", "keys": list(self.account_keys)})
        return messages

    def decode(self, raw: str | bytes, received_ms: int) -> FrameResult:
        result = FrameResult()
        frame = m.parse_frame(raw, result)
        if frame is None:
            return result
        try:
            self._dispatch(frame, received_ms, result)
        except FrameError as err:
            result.dead.append(Skip(err.reason, f"{err.detail} in {_label(frame)}"))
        return result

    def _dispatch(self, frame: dict[str, Any], received_ms: int, result: FrameResult) -> None:
        tx_type = frame.get("txType")
        if tx_type is None and isinstance(frame.get("message"), str):
            result.skipped.append(server_message(frame["message"]))
            return
        if tx_type is None and "errors" in frame:
            result.skipped.append(Skip("refused", str(frame["errors"])[:200]))
            return
        if tx_type == "migrate":
            venue = frame.get("pool")  # where the token went: pump-amm (PumpSwap) today
            if venue is not None and (not isinstance(venue, str) or venue not in _DESTINATIONS):
                result.skipped.append(Skip("unsupported_pool", str(venue)[:32]))
            else:
                m.checked(migrated_event(frame, received_ms), result)
            return
        pool = frame.get("pool", _POOL_PUMP)  # the oldest frames predate the field: pump only
        if pool != _POOL_PUMP:
            result.skipped.append(Skip("unsupported_pool", str(pool)[:32]))
        elif tx_type == "create":
            for event in create_events(frame, received_ms):
                m.checked(event, result)
        elif tx_type in ("buy", "sell"):
            m.checked(trade_event(frame, received_ms), result)
        else:
            raise FrameError("unknown_tx_type", repr(tx_type)[:40])


def _label(frame: dict[str, Any]) -> str:
    return f"{frame.get('txType')!r} frame {frame.get('signature')!r}"[:160]


def server_message(text: str) -> Skip:
    """A subscription ack or a refusal: the server's words, kept short, never an event."""
    lowered = text.lower()
    if "only available" in lowered or "api key" in lowered or "error" in lowered:
        return Skip("refused", text[:200])
    if "subscribed" in lowered:
        return Skip("ack", text[:200])
    return Skip("server_message", text[:200])


def _provenance(signature: str) -> dict[str, Any]:
    return {"launchpad": m.LAUNCHPAD, "ts_source": "receive_time", "signature": signature}


def _curve_after(frame: dict[str, Any]) -> tuple[float, float, float]:
    """(virtual SOL, virtual tokens, real tokens) after the frame's trade.

    The frame has no real token reserves: on a standard curve virtual - real tokens is a
    constant (279,900,000), so real = virtual - that offset. A curve that does not fit (real
    would be negative) is dead, not guessed.
    """
    v_sol = _number(frame, "vSolInBondingCurve")
    v_tokens = _number(frame, "vTokensInBondingCurve")
    real_tokens = v_tokens - m.STANDARD_CURVE.virtual_token_offset
    if real_tokens < -1.0:  # more than a token of float noise below zero
        raise FrameError("nonstandard_curve", f"vTokensInBondingCurve {v_tokens}")
    return v_sol, v_tokens, max(real_tokens, 0.0)


def create_events(frame: dict[str, Any], received_ms: int) -> list[dict[str, Any]]:
    """A create frame -> the genesis (the curve before the dev buy) and the dev buy, if any.

    The frame shows the curve *after* the dev buy; the initial curve is that minus the buy
    (vSol - solAmount, vTokens + initialBuy). Only a standard initial curve is mapped: its
    real token reserves are known (793,100,000), any other would have to be guessed.
    """
    signature, mint = _required(frame, "signature"), _required(frame, "mint")
    creator = _required(frame, "traderPublicKey")
    v_sol, v_tokens, real_after = _curve_after(frame)
    dev_sol = _number(frame, "solAmount") if "solAmount" in frame else 0.0
    dev_tokens = _number(frame, "initialBuy") if "initialBuy" in frame else 0.0
    init_sol, init_tokens = v_sol - dev_sol, v_tokens + dev_tokens
    curve = m.STANDARD_CURVE
    if not (
        math.isclose(init_sol, curve.virtual_sol, rel_tol=_RESERVE_TOLERANCE)
        and math.isclose(init_tokens, curve.virtual_tokens, rel_tol=_RESERVE_TOLERANCE)
    ):
        raise FrameError("nonstandard_curve", f"initial vSol {init_sol}, vTokens {init_tokens}")
    genesis = m.header("token_genesis", m.portal_event_id(signature, 0), received_ms, mint)
    genesis.update(
        creator=creator,
        name=m.fits(_optional(frame, "name"), 64),
        symbol=m.fits(_optional(frame, "symbol"), 16),
        virtual_sol_reserves=curve.virtual_sol,
        virtual_token_reserves=curve.virtual_tokens,
        real_token_reserves=curve.real_tokens,
        **_provenance(signature),
    )
    m.with_known(
        genesis,
        uri=m.fits(_optional(frame, "uri"), 512),
        bonding_curve=_optional(frame, "bondingCurveKey"),
        is_mayhem_mode=_flag(frame, "is_mayhem_mode"),
    )
    if dev_sol <= 0 or dev_tokens <= 0:
        return [genesis]
    dev_buy = m.header("wallet_buy", m.portal_event_id(signature, 1), received_ms, mint)
    dev_buy.update(
        wallet=creator,
        sol_amount=dev_sol,
        token_amount=dev_tokens,
        virtual_sol_reserves=v_sol,
        virtual_token_reserves=v_tokens,
        real_token_reserves=real_after,
        venue="curve",
        creator=creator,
        **_provenance(signature),
    )
    return [genesis, m.with_known(dev_buy, is_mayhem_mode=_flag(frame, "is_mayhem_mode"))]


def _flag(frame: dict[str, Any], key: str) -> bool | None:
    value = frame.get(key)
    return value if isinstance(value, bool) else None


def trade_event(frame: dict[str, Any], received_ms: int) -> dict[str, Any]:
    """A buy/sell frame (needs an API key). ``solAmount`` is the curve side: no fees known."""
    signature, mint = _required(frame, "signature"), _required(frame, "mint")
    wallet = _required(frame, "traderPublicKey")
    v_sol, v_tokens, real_tokens = _curve_after(frame)
    kind = "wallet_buy" if frame["txType"] == "buy" else "wallet_sell"
    out = m.header(kind, m.portal_event_id(signature, 0), received_ms, mint)
    out.update(
        wallet=wallet,
        sol_amount=_number(frame, "solAmount"),
        token_amount=_number(frame, "tokenAmount"),
        virtual_sol_reserves=v_sol,
        virtual_token_reserves=v_tokens,
        real_token_reserves=real_tokens,
        venue="curve",
        **_provenance(signature),
    )
    return out


def migrated_event(frame: dict[str, Any], received_ms: int) -> dict[str, Any]:
    """``pool`` here names the venue (``pump-amm``), not a pool address: it sets destination."""
    signature, mint = _required(frame, "signature"), _required(frame, "mint")
    out = m.header("token_migrated", m.portal_event_id(signature, 0), received_ms, mint)
    out.update(_provenance(signature))
    venue = frame.get("pool")
    return m.with_known(
        out, destination=_DESTINATIONS.get(venue) if isinstance(venue, str) else None
    )
