"""Event contracts: typed models generated-in-step with ``schemas/events`` and a fast decoder."""

from streams.contracts.events import (
    INPUT_TYPES,
    TARGETS,
    Buy,
    DeadLetter,
    Genesis,
    InputEvent,
    Outcome,
    Score,
    Sell,
    Signal,
    TokenMigrated,
    Trade,
)
from streams.events.decode import DecodeError, IgnoredFields, decode_input, decode_many, encode

__all__ = [
    "INPUT_TYPES",
    "TARGETS",
    "Buy",
    "DeadLetter",
    "DecodeError",
    "Genesis",
    "IgnoredFields",
    "InputEvent",
    "Outcome",
    "Score",
    "Sell",
    "Signal",
    "TokenMigrated",
    "Trade",
    "decode_input",
    "decode_many",
    "encode",
]
