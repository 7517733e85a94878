"""Docker does not run here: validate the compose file, the Dockerfile's references and the deployments."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import yaml

from nngpt_cli.deploy import deployment_pools

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_have_health_checks_and_named_volumes():
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "prefect-server", "gpu-worker"} <= set(services)
    for name in ("postgres", "prefect-server"):
        assert "test" in services[name]["healthcheck"]
    assert "asyncpg" in services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    worker = services["gpu-worker"]
    assert worker["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--pool gpu" in worker["command"]
    assert (ROOT / "docker" / worker["build"]["context"] / worker["build"]["dockerfile"]).resolve().is_file()
    used = {volume.split(":")[0] for service in services.values() for volume in service.get("volumes", [])}
    named = {v for v in used if not v.startswith((".", "/"))}
    assert named <= set(compose["volumes"])
    for mount in used - named:
        assert (ROOT / "docker" / mount).exists(), mount


def test_dockerfile_copies_only_what_exists():
    text = (ROOT / "docker/Dockerfile").read_text()
    assert re.search(r"^FROM \$\{PYTORCH_IMAGE\}", text, re.M) and "pytorch/pytorch:" in text
    for source in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"
    assert '"--pool", "gpu"' in text


def test_deployments_use_the_gpu_pool_and_importable_flows():
    spec = yaml.safe_load((ROOT / "deployments/prefect.yaml").read_text())
    deployments = {d["name"]: d for d in spec["deployments"]}
    assert set(deployments) == {"evolve", "cycle", "evaluate", "report"}
    for deployment in deployments.values():
        assert deployment["work_pool"]["name"] == "gpu"
        module, attribute = deployment["entrypoint"].split(":")
        flow = getattr(importlib.import_module(module), attribute)
        assert flow.name == deployment["name"]
        # a Quick run from the UI takes the flow's defaults: nothing may force CUDA on a CPU-only worker
        assert "cuda" not in yaml.safe_dump(deployment.get("parameters") or {})
    schedule = deployments["evolve"]["schedules"][0]
    assert schedule["cron"] and schedule["active"] is False
    compose = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())
    assert "gpu" in compose["services"]["gpu-worker"]["command"]
    assert deployment_pools(ROOT / "deployments/prefect.yaml") == ["gpu"]  # the pools `nngpt deploy` creates


def test_compose_takes_passwords_from_the_env_file_only():
    """No password (nor a default for one) in the YAML: each comes from docker/.env, whose example is shipped."""
    text = (ROOT / "docker/compose.yaml").read_text()
    compose = yaml.safe_load(text)
    references = re.findall(r"\$\{(\w+)(:\?|:-|-|\?)?[^}]*\}", text)
    assert references and all(operator == ":?" for _, operator in references), references  # required, no default
    example = dict(line.split("=", 1) for line in (ROOT / "docker/env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert {name for name, _ in references} == set(example)
    for service in compose["services"].values():
        for key, value in (service.get("environment") or {}).items():
            secret = "PASSWORD" in key or re.search(r"://[^:/@]+:[^@]+@", str(value))
            assert not secret or "${" in str(value), f"{key} holds a literal secret"
    assert "docker/.env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_worker_fails_closed_and_gets_the_privileges_the_layers_need():
    text = (ROOT / "docker/Dockerfile").read_text()
    assert re.search(r"NNGPT_SANDBOX_REQUIRE=all\b", text)
    worker = yaml.safe_load((ROOT / "docker/compose.yaml").read_text())["services"]["gpu-worker"]
    assert worker["user"] == "root" and worker["cap_add"] == ["SYS_ADMIN"]
    assert set(worker["security_opt"]) == {"apparmor=unconfined", "systempaths=unconfined"}
    spec = yaml.safe_load((ROOT / "deployments/prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        assert deployment["work_pool"]["job_variables"]["env"]["NNGPT_SANDBOX_REQUIRE"] == "all", deployment["name"]
