"""Event contracts: typed models generated-in-step with ``schemas/events`` and a fast decoder."""

from streams.events.decode import DecodeError, decode_input, decode_many, encode
from streams.events.models import (
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
    Trade,
)

__all__ = [
    "INPUT_TYPES",
    "TARGETS",
    "Buy",
    "DeadLetter",
    "DecodeError",
    "Genesis",
    "InputEvent",
    "Outcome",
    "Score",
    "Sell",
    "Signal",
    "Trade",
    "decode_input",
    "decode_many",
    "encode",
]
