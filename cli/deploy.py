"""`nngpt deploy` and `nngpt worker`: register the deployments with a Prefect server, serve the `gpu` pool.

    PREFECT_API_URL=http://HOST:4200/api nngpt deploy
    PREFECT_API_URL=http://HOST:4200/api nngpt worker --pool gpu

Both drive Prefect's own CLI in a subprocess (the library never imports Prefect). Flow runs work in
NNGPT_WORKDIR: the deployments' pull step (nngpt_flows.steps.enter_workdir) changes into it at run time, so
relative paths such as models/bootstrap resolve there. It defaults to this package's source tree and
is passed on to the worker; set it where the package is installed without its checkout (the Docker
image sets /opt/nngpt).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from nngpt_core.errors import NngptError

REPO_ROOT = Path(__file__).resolve().parents[1]  # cli/ sits at the top of the checkout
WORKDIR_ENV = "NNGPT_WORKDIR"
PoolOption = Annotated[str, typer.Option("--pool", help="Work pool name.")]


def workdir() -> Path:
    """The checkout flow runs work in: NNGPT_WORKDIR, else this package's source tree."""
    path = Path(os.environ.get(WORKDIR_ENV) or REPO_ROOT).resolve()
    if not path.is_dir():
        raise NngptError(f"{WORKDIR_ENV}={path} is not a directory: point it at the nngpt checkout")
    return path


def _prefect(*args: str, check: bool = True, capture: bool = False, cwd: Path | None = None) -> subprocess.CompletedProcess:
    executable = shutil.which("prefect", path=str(Path(sys.executable).parent)) or shutil.which("prefect")
    if executable is None:
        raise NngptError("the prefect command is not installed in this environment")
    env = {**os.environ, WORKDIR_ENV: str(workdir())}  # read by every flow run's pull step (flows/steps.py)
    result = subprocess.run([executable, *args], cwd=cwd, env=env, text=True, capture_output=capture)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:] if capture else []
        raise NngptError(f"prefect {' '.join(args[:2])} failed (exit {result.returncode}) {' '.join(detail)}".strip())
    return result


def ensure_pool(pool: str) -> None:
    if _prefect("work-pool", "inspect", pool, check=False, capture=True).returncode != 0:
        _prefect("work-pool", "create", pool, "--type", "process", capture=True)


def deployment_pools(prefect_file: Path) -> list[str]:
    """The work pools the deployments of a prefect.yaml run on (edit the file to use other pools)."""
    import yaml

    deployments = yaml.safe_load(prefect_file.read_text()).get("deployments") or []
    return sorted({d["work_pool"]["name"] for d in deployments if d.get("work_pool")})


def deploy() -> None:
    """Create the deployments' process work pools if missing and register every deployment of deployments/prefect.yaml."""
    if not os.environ.get("PREFECT_API_URL"):
        raise NngptError("PREFECT_API_URL is not set: point it at a running Prefect server (e.g. http://127.0.0.1:4200/api)")
    prefect_file = workdir() / "deployments" / "prefect.yaml"
    if not prefect_file.is_file():
        raise NngptError(f"{prefect_file} not found: set {WORKDIR_ENV} to the nngpt checkout")
    for pool in deployment_pools(prefect_file):
        ensure_pool(pool)
    _prefect("--no-prompt", "deploy", "--all", "--prefect-file", str(prefect_file), cwd=workdir())


def worker(
    pool: PoolOption = "gpu",
    limit: Annotated[int, typer.Option("--limit", min=1, help="Flow runs this worker runs at once.")] = 1,
) -> None:
    """Start a Prefect process worker on the pool (runs until interrupted); its flow runs work in NNGPT_WORKDIR."""
    if not os.environ.get("PREFECT_API_URL"):
        raise NngptError("PREFECT_API_URL is not set: point it at the Prefect server the deployments live on")
    _prefect("worker", "start", "--pool", pool, "--type", "process", "--limit", str(limit))
