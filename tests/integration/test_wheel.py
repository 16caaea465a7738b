"""The wheel a user installs: built from this tree, installed (not editable) into a fresh
virtualenv with plain ``alphastream``'s dependencies, and run from outside the source tree.

It decodes an event, applies the ClickHouse migrations on chdb, simulates a short market and
replays it, and checks that a command whose extra is not installed names that extra.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    work: Path  # a directory outside the source tree

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("ALPHASTREAM_")}
        clean.pop("PYTHONPATH", None)
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.work,
            env=clean | {"ALPHASTREAM_DATA_DIR": str(self.work / "var")} | env,
            capture_output=True,
            text=True,
            timeout=600,
        )


def _check(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, f"{done.args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    _check(subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(ROOT)],
                          capture_output=True, text=True, timeout=600))  # fmt: skip
    (wheel,) = (base / "dist").glob("alphastream-*.whl")
    venv = base / "venv"
    _check(
        subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True)
    )
    # a real install: the wheel and plain alphastream's dependencies, resolved by pip
    _check(subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile", str(wheel)],
                          capture_output=True, text=True, timeout=900))  # fmt: skip
    work = base / "work"
    work.mkdir()
    yield Installed(wheel, venv / "bin", work)


def test_the_wheel_ships_the_schemas_of_the_source_tree(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = {
            name.removeprefix("streams/schemas/"): wheel.read(name)
            for name in wheel.namelist()
            if name.startswith("streams/schemas/") and not name.endswith("/")
        }
    source = {
        str(p.relative_to(SCHEMAS)): p.read_bytes() for p in SCHEMAS.rglob("*") if p.is_file()
    }
    assert source and shipped == source


def test_the_installed_package_decodes_outside_the_source_tree(installed: Installed) -> None:
    _check(
        installed.run("alphastream", "simulate", "--hours", "0.05", "--seed", "3", "--out", "sim")
    )
    line = (installed.work / "sim" / "events.jsonl").read_bytes().splitlines()[0]
    code = (
        "import sys, orjson, streams; from streams.events import decode_input\n"
        "raw = sys.stdin.buffer.read(); event = decode_input(raw)\n"
        "print(streams.__file__, event.event_id == orjson.loads(raw)['event_id'], event.type)"
    )
    done = subprocess.run([str(installed.bin / "python"), "-c", code], input=line.decode(),
                          cwd=installed.work, capture_output=True, text=True, timeout=120)  # fmt: skip
    where, same_id, kind = _check(done).split()
    assert "site-packages" in where and not where.startswith(str(ROOT))
    assert same_id == "True"
    assert kind == orjson.loads(line)["type"]


def test_db_init_on_chdb_from_the_env_var(installed: Installed) -> None:
    dsn = "chdb://" + str(installed.work / "ch")
    out = _check(installed.run("alphastream", "db", "init", ALPHASTREAM_CLICKHOUSE_DSN=dsn))
    recorded = len(list((SCHEMAS / "clickhouse").glob("*.sql")))
    assert f"{recorded}/{recorded} recorded" in " ".join(out.split())


def test_simulate_then_replay(installed: Installed) -> None:
    _check(
        installed.run("alphastream", "simulate", "--hours", "0.1", "--seed", "1", "--out", "run")
    )
    out = _check(installed.run("alphastream", "replay", "run/events.jsonl", "--out", "tables"))
    assert "(0 bad lines dead-lettered)" in out
    tables = installed.work / "tables"
    assert (tables / "buys.parquet").stat().st_size > 0
    assert (tables / "genesis.parquet").stat().st_size > 0


def test_a_command_without_its_extra_names_it(installed: Installed) -> None:
    done = installed.run("alphastream", "train")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "pip install 'alphastream[train]'" in " ".join(done.stderr.split())
