"""Deterministic base58-looking addresses and token names derived from the seed."""

from __future__ import annotations

import hashlib

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_SYLLABLES = (
    "pe",
    "po",
    "mo",
    "ka",
    "zu",
    "ri",
    "do",
    "ge",
    "bo",
    "ni",
    "la",
    "ta",
    "xo",
    "wi",
    "fu",
    "sa",
    "chi",
    "mee",
    "doge",
    "cat",
    "frog",
    "moon",
    "pump",
    "bonk",
    "wif",
    "pep",
    "elon",
    "ai",
)


def _b58(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = []
    while n:
        n, r = divmod(n, 58)
        out.append(_B58[r])
    return "".join(reversed(out)) or "1"


def address(seed: int, kind: str, index: int) -> str:
    """A 32-byte base58 address for ``(seed, kind, index)``; stable across runs."""
    digest = hashlib.blake2b(f"{seed}:{kind}:{index}".encode(), digest_size=32).digest()
    return _b58(digest)


def mint_address(seed: int, index: int) -> str:
    """Launchpad mints carry the vanity suffix ``pump``."""
    return address(seed, "mint", index)[:40] + "pump"


def token_name(seed: int, index: int) -> tuple[str, str]:
    """(name, symbol) for a token."""
    h = hashlib.blake2b(f"{seed}:name:{index}".encode(), digest_size=8).digest()
    parts = [_SYLLABLES[b % len(_SYLLABLES)] for b in h[: 2 + h[7] % 2]]
    name = "".join(parts).capitalize()
    return name, name[:10].upper()
