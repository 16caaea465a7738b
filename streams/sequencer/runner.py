"""Start a sequencer as a child process (``alphastream sequencer``), configured by settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from streams.settings import ENV_PREFIX, Settings


def sequencer_env(settings: Settings) -> dict[str, str]:
    """The ALPHASTREAM_* environment that reproduces ``settings`` (secrets included)."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
        env[ENV_PREFIX + name.upper()] = text
    return env


def launch_sequencer(
    settings: Settings,
    extra_env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``alphastream sequencer`` with ``settings`` (its ``topic_prefix`` and
    ``sequencer_metrics_port`` included); SIGTERM stops it cleanly, SIGKILL is a crash."""
    env = {**os.environ, **sequencer_env(settings), **(extra_env or {})}
    args = [str(Path(sys.executable).parent / "alphastream"), "sequencer"]
    if log_path is None:
        return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
