"""Files shipped inside the package, read with ``importlib.resources``.

``schemas/`` at the top of the repository is the source of truth; ``streams/schemas`` links to
it, so a source checkout, an editable install and an installed wheel all read the same files.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def schema_dir(kind: str) -> Traversable:
    """The shipped schema folder of one kind: ``events`` (JSON Schema) or ``clickhouse`` (DDL)."""
    folder = files("streams") / "schemas" / kind
    if not folder.is_dir():
        raise FileNotFoundError(f"alphastream's {kind} schemas are missing from {folder}")
    return folder
