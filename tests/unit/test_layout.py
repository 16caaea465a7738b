"""The package layout's import rules, read from the source (every import, lazy ones included).

- ``streams.contracts`` is a leaf: it imports no other module of the project.
- The runtime (what a deployed worker, sink or scorer runs) never imports training, the
  developer tools, the simulator, the demo, the monitor or the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("streams", "training")

# The runtime packages and modules; everything else under streams/ is tooling or a front end.
RUNTIME = (
    "streams.contracts",
    "streams.events",
    "streams.ingest",
    "streams.features",
    "streams.scoring",
    "streams.app",
    "streams.sequencer",
    "streams.checkpoints",
    "streams.marketlog",
    "streams.store",
    "streams.settings",
    "streams.topics",
    "streams.kafka_admin",
    "streams.kafka_produce",
    "streams.interrupt",
    "streams.replay",
    "streams.testing",
)
NOT_RUNTIME = (
    "training",
    "streams.devtools",
    "streams.sim",
    "streams.demo",
    "streams.monitor",
    "streams.cli",
    "streams.plots",
    "streams.reports",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for top in PROJECT
        for path in sorted((ROOT / top).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


MODULES = _project_modules()


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == pkg or name.startswith(pkg + ".") for pkg in packages)


def imported_project_modules(path: Path) -> set[str]:
    """Every project module ``path`` imports: at module level, inside a function, or by name."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from streams import store`` imports the submodule ``streams.store``
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)  # importlib.import_module("streams...")
    return {name for name in found if _within(name, PROJECT) and name in MODULES}


def test_the_walk_sees_the_runtime_and_the_tools() -> None:
    runtime = [name for name in MODULES if _within(name, RUNTIME)]
    assert "streams.contracts.metadata" in MODULES
    assert "streams.scoring.registry" in runtime
    assert "streams.scoring.session" in imported_project_modules(MODULES["training.export"])


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _within(n, ("streams.contracts",))))
def test_contracts_import_nothing_else_of_the_project(name: str) -> None:
    outside = {
        dep
        for dep in imported_project_modules(MODULES[name])
        if not _within(dep, ("streams.contracts",)) and dep != "streams"
    }
    assert not outside, f"{name} imports {sorted(outside)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _within(n, RUNTIME)))
def test_runtime_never_imports_training_or_tools(name: str) -> None:
    forbidden = {
        dep for dep in imported_project_modules(MODULES[name]) if _within(dep, NOT_RUNTIME)
    }
    assert not forbidden, f"runtime module {name} imports {sorted(forbidden)}"


def test_importing_the_features_package_leaves_the_engine_unloaded() -> None:
    probe = (
        "import sys, streams.features, streams.features.state, streams.contracts.features; "
        "print(sorted(m for m in sys.modules if m.startswith('streams.features.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "['streams.features.state']"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if _within(n, RUNTIME)))
def test_no_bench_or_synthetic_helper_sits_in_the_runtime(name: str) -> None:
    leaf = name.rsplit(".", 1)[-1]
    assert not any(word in leaf for word in ("bench", "synthetic", "harness")), (
        f"{name} is a developer tool: it belongs in streams/devtools"
    )
