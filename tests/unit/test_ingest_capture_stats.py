"""The capture statistics behind the README's bandwidth estimate."""

from __future__ import annotations

import orjson

from streams.devtools.capture_stats import frame_sizes


def notification(err: object, logs: list[str]) -> str:
    value = {"signature": "sig", "err": err, "logs": logs}
    body = {"jsonrpc": "2.0", "method": "logsNotification",
            "params": {"subscription": 1, "result": {"context": {"slot": 5}, "value": value}}}  # fmt: skip
    return orjson.dumps(body).decode()


def test_frames_split_by_failed_and_successful_transactions() -> None:
    ack = orjson.dumps({"jsonrpc": "2.0", "id": 1, "result": 7}).decode()
    failed = notification({"InstructionError": [0, {"Custom": 1}]}, ["x"])
    ok = notification(None, ["Program log: é" * 3])
    sizes_failed, sizes_ok = frame_sizes([ack, failed, ok, ok])
    assert sizes_failed == [len(failed.encode())]
    assert sizes_ok == [len(ok.encode())] * 2  # bytes of UTF-8, not characters
