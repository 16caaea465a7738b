"""Names and small types shared by the runtime, training and the tools (defined once, here)."""

from __future__ import annotations

from typing import Literal

# The prediction targets, in the order the scorer and the store list them.
TARGETS: tuple[str, ...] = ("reach_2x_1h", "reach_3x_30m", "reach_2x_10m", "is_dead_soon")

# A model family is the feature set a signal kind is scored with.
Family = Literal["standard", "genesis"]
FAMILIES: tuple[Family, ...] = ("standard", "genesis")
FAMILY_OF_KIND: dict[str, Family] = {"buy": "standard", "genesis": "genesis"}
KIND_OF_FAMILY: dict[str, str] = {family: kind for kind, family in FAMILY_OF_KIND.items()}

# A Kafka (topic, partition).
TP = tuple[str, int]

# The ONNX graph's input and output names, fixed by the export and read by the scorer.
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"
# Files in models/ being written; the registry never loads one, the deploy renames it away.
TMP_PREFIX = ".tmp-"
