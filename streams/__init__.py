"""alphastream: a real-time scorer for launchpad tokens (see README.md)."""

from __future__ import annotations


def package_version() -> str:
    """The installed distribution's version ("unknown" in a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alphastream")
    except PackageNotFoundError:
        return "unknown"
