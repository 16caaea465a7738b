"""Solana JSON-RPC ``logsSubscribe`` frames -> input contract v2 events (source ``solana-logs``).

One notification is one transaction's log lines. Only ``Program data:`` lines written while the
pump.fun program itself is on top of the invocation stack count (its events, whether a wallet
called it directly or an aggregator reached it by CPI), and only from invocations that ended in
``success``: the discriminator alone is not enough, LaunchLab's ``TradeEvent`` has the same one.
Mapping rules, ids and reasons: ``docs/feeds.md``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.ingest import mapping as m
from streams.ingest.anchor import (
    EMIT_CPI_PREFIX,
    PUMP_PROGRAM_ID,
    AnchorEvent,
    CompleteEvent,
    CompletePumpAmmMigrationEvent,
    CreateEvent,
    PayloadError,
    TradeEvent,
    decode_event,
)
from streams.ingest.frames import FrameResult, Skip

_DATA = "Program data: "


@dataclass(frozen=True, slots=True)
class TxContext:
    """Where an event sits on chain: its id and provenance come from here."""

    slot: int
    signature: str
    program_id: str = PUMP_PROGRAM_ID

    def event_id(self, index: int) -> str:
        return m.chain_event_id(self.slot, self.signature, index)


@dataclass(slots=True)
class _Invocation:
    program_id: str
    pending: list[tuple[int, str]] = field(default_factory=list)  # (k, base64 payload)


@dataclass(slots=True)
class LogWalk:
    """The pump.fun event payloads of one transaction's logs, in order, and what was passed."""

    payloads: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    dead: list[Skip] = field(default_factory=list)


def walk_logs(logs: list[str], program_id: str = PUMP_PROGRAM_ID) -> LogWalk:
    """Keep the invocation stack; collect ``program_id``'s data lines from successful calls.

    ``k`` counts every data line of ``program_id`` in log order (known event or not), so an id
    built from it is the same however often the transaction is delivered.
    """
    out = LogWalk()
    stack: list[_Invocation] = []
    index = 0
    truncated = False
    for line in logs:
        if line.startswith(_DATA):
            if not stack:
                out.skipped.append(Skip("no_program", "data line outside any invocation"))
            elif stack[-1].program_id != program_id:
                out.skipped.append(Skip("other_program", stack[-1].program_id))
            else:
                stack[-1].pending.append((index, line[len(_DATA) :]))
                index += 1
        elif line.startswith("Program "):
            _step(line[len("Program ") :], stack, out)
        elif line.startswith("Log truncated"):
            truncated = True
    for frame in stack:  # invocations whose end the logs never show
        if truncated:  # the node cut the logs; the transaction itself succeeded (err is null)
            out.payloads.extend(frame.pending)
        elif frame.pending:
            out.dead.append(Skip("unbalanced_logs", f"{frame.program_id} never returned"))
    out.payloads.sort()
    return out


def _step(rest: str, stack: list[_Invocation], out: LogWalk) -> None:
    parts = rest.split(" ", 2)
    if len(parts) < 2:
        return
    program, verb = parts[0], parts[1]
    if verb == "invoke":
        stack.append(_Invocation(program))
    elif verb in ("success", "failed:") and stack and stack[-1].program_id == program:
        done = stack.pop()
        if verb == "failed:":
            out.skipped.extend(Skip("invocation_failed", program) for _ in done.pending)
        elif stack:
            stack[-1].pending.extend(done.pending)  # confirmed once the caller succeeds too
        else:
            out.payloads.extend(done.pending)


class SolanaLogsDecoder:
    """The pure decoder behind ``ingest solana-logs`` (see :class:`FrameDecoder`)."""

    source = "solana-logs"

    def __init__(
        self, program_id: str = PUMP_PROGRAM_ID, commitment: str = "confirmed", request_id: int = 1
    ) -> None:
        self.program_id = program_id
        self.commitment = commitment
        self.request_id = request_id

    def subscribe_messages(self) -> list[dict[str, Any]]:
        return [
            {
                "jsonrpc": "2.0",
                "id": self.request_id,
                "method": "logsSubscribe",
                "params": [{"mentions": [self.program_id]}, {"commitment": self.commitment}],
            }
        ]

    def decode(self, raw: str | bytes, received_ms: int) -> FrameResult:
        result = FrameResult()
        frame = m.parse_frame(raw, result)
        if frame is None:
            return result
        if frame.get("method") == "logsNotification":
            self._notification(frame, result)
        elif "result" in frame and "id" in frame:
            result.skipped.append(Skip("ack", f"subscription {frame['result']!r}"[:200]))
        elif "error" in frame:
            result.dead.append(Skip("rpc_error", orjson.dumps(frame["error"]).decode()[:200]))
        else:
            result.dead.append(Skip("unexpected_frame", orjson.dumps(frame).decode()[:200]))
        return result

    def _notification(self, frame: dict[str, Any], result: FrameResult) -> None:
        try:
            body = frame["params"]["result"]
            slot, value = body["context"]["slot"], body["value"]
            signature, err, logs = value["signature"], value["err"], value["logs"]
        except (KeyError, TypeError) as exc:
            result.dead.append(Skip("bad_notification", f"missing {exc}"))
            return
        if not (isinstance(slot, int) and slot >= 0 and isinstance(signature, str)):
            result.dead.append(Skip("bad_notification", "slot or signature of the wrong type"))
            return
        if err is not None:
            result.skipped.append(Skip("tx_failed", signature))
            return
        if not (isinstance(logs, list) and all(isinstance(line, str) for line in logs)):
            result.dead.append(Skip("bad_notification", "logs is not a list of strings"))
            return
        walk = walk_logs(logs, self.program_id)
        result.skipped.extend(walk.skipped)
        result.dead.extend(walk.dead)
        tx = TxContext(slot, signature, self.program_id)
        for index, encoded in walk.payloads:
            decode_payload(encoded, tx, index, result)
        if not (result.events or result.skipped or result.dead):
            result.skipped.append(Skip("no_pump_event", signature))


def decode_payload(encoded: str, tx: TxContext, index: int, result: FrameResult) -> None:
    """One base64 ``Program data`` payload of the pump.fun program -> events or a reason."""
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        result.dead.append(Skip("bad_base64", f"{tx.signature}:{index:02d}"))
        return
    decode_raw(payload, tx, index, result)


def decode_cpi_data(data: bytes, tx: TxContext, index: int, result: FrameResult) -> None:
    """The data of an inner instruction to the pump.fun program, as a transaction-level source
    (Geyser) sees it: an ``emit_cpi!`` event is the 8-byte prefix, then the same payload."""
    if not data.startswith(EMIT_CPI_PREFIX):
        result.skipped.append(Skip("not_event", data[:8].hex()))
        return
    decode_raw(data[len(EMIT_CPI_PREFIX) :], tx, index, result)


def decode_raw(payload: bytes, tx: TxContext, index: int, result: FrameResult) -> None:
    try:
        event = decode_event(payload)
    except PayloadError as err:
        result.dead.append(Skip(f"payload_{err.reason}", f"{tx.signature}:{index:02d} {err}"))
        return
    if event is None:
        result.skipped.append(Skip("unknown_event", payload[:8].hex()))
        return
    map_event(event, tx, index, result)


def map_event(event: AnchorEvent, tx: TxContext, index: int, result: FrameResult) -> None:
    """A decoded Anchor event -> one contract event (shared with any transaction-level source)."""
    if not m.quote_is_sol(event.quote_mint):
        result.skipped.append(Skip("non_sol_quote", str(event.quote_mint)))
        return
    if isinstance(event, TradeEvent):
        m.checked(trade_event(event, tx, index), result)
    elif isinstance(event, CreateEvent):
        m.checked(genesis_event(event, tx, index), result)
    elif isinstance(event, CompletePumpAmmMigrationEvent):
        m.checked(migration_event(event, tx, index), result)
    else:
        m.checked(complete_event(event, tx, index), result)


def _provenance(tx: TxContext) -> dict[str, Any]:
    return {
        "launchpad": m.LAUNCHPAD,
        "program_id": tx.program_id,
        "ts_source": "block_time",
        "slot": tx.slot,
        "signature": tx.signature,
    }


def trade_event(ev: TradeEvent, tx: TxContext, index: int) -> dict[str, Any]:
    """Buy: the trader paid sol_amount + fee + creator_fee; sell: got sol_amount minus both."""
    fees = ev.fee + ev.creator_fee
    paid = ev.sol_amount + fees if ev.is_buy else ev.sol_amount - fees
    out = m.header(
        "wallet_buy" if ev.is_buy else "wallet_sell", tx.event_id(index), ev.timestamp * 1000,
        ev.mint,
    )  # fmt: skip
    out.update(
        wallet=ev.user,
        sol_amount=m.sol(paid),
        token_amount=m.tokens(ev.token_amount),
        virtual_sol_reserves=m.sol(ev.virtual_sol_reserves),
        virtual_token_reserves=m.tokens(ev.virtual_token_reserves),
        real_token_reserves=m.tokens(ev.real_token_reserves),
        venue="curve",
        fee_sol=m.sol(ev.fee),
        creator_fee_sol=m.sol(ev.creator_fee),
        real_sol_reserves=m.sol(ev.real_sol_reserves),
        creator=ev.creator,
        **_provenance(tx),
    )
    return m.with_known(out, ix_name=m.fits(ev.ix_name, 32), is_mayhem_mode=ev.mayhem_mode)


def genesis_event(ev: CreateEvent, tx: TxContext, index: int) -> dict[str, Any]:
    """The curve as created (before any dev buy: that is the transaction's own TradeEvent)."""
    out = m.header("token_genesis", tx.event_id(index), ev.timestamp * 1000, ev.mint)
    out.update(
        creator=ev.creator,
        name=m.fits(ev.name, 64),
        symbol=m.fits(ev.symbol, 16),
        virtual_sol_reserves=m.sol(ev.virtual_sol_reserves),
        virtual_token_reserves=m.tokens(ev.virtual_token_reserves),
        real_token_reserves=m.tokens(ev.real_token_reserves),
        bonding_curve=ev.bonding_curve,
        token_total_supply=m.tokens(ev.token_total_supply),
        **_provenance(tx),
    )
    return m.with_known(
        out, uri=m.fits(ev.uri, 512), is_mayhem_mode=ev.is_mayhem_mode,
        is_cashback=ev.is_cashback_enabled,
    )  # fmt: skip


def complete_event(ev: CompleteEvent, tx: TxContext, index: int) -> dict[str, Any]:
    """The curve filled: graduation. Pool and amounts follow in the migration event."""
    out = m.header("token_migrated", tx.event_id(index), ev.timestamp * 1000, ev.mint)
    out.update(bonding_curve=ev.bonding_curve, **_provenance(tx))
    return out


def migration_event(ev: CompletePumpAmmMigrationEvent, tx: TxContext, index: int) -> dict[str, Any]:
    out = m.header("token_migrated", tx.event_id(index), ev.timestamp * 1000, ev.mint)
    out.update(
        sol_amount=m.sol(ev.sol_amount),
        token_amount=m.tokens(ev.mint_amount),
        pool_migration_fee=m.sol(ev.pool_migration_fee),
        bonding_curve=ev.bonding_curve,
        destination="pumpswap",
        **_provenance(tx),
    )
    return m.with_known(out, pool=ev.pool)
