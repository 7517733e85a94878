"""Deployment steps, run by Prefect in each flow-run process before the flow is loaded.

`enter_workdir` is the pull step of every deployment in deployments/prefect.yaml. It reads
NNGPT_WORKDIR when the flow run starts, on the worker's machine: Prefect's own
`set_working_directory: {directory: "{{ $NNGPT_WORKDIR }}"}` would be resolved by `prefect deploy`
on the deploying machine instead, baking that machine's path into the deployment (a deploy from a
laptop would send a Docker worker to a directory it does not have).
"""

from __future__ import annotations

import os
from pathlib import Path

WORKDIR_ENV = "NNGPT_WORKDIR"
SOURCE_TREE = Path(__file__).resolve().parents[1]  # the checkout, when the package is installed editable


def enter_workdir() -> dict[str, str]:
    """Change into $NNGPT_WORKDIR (default: this package's source tree); returns {"directory": ...}."""
    directory = Path(os.environ.get(WORKDIR_ENV) or SOURCE_TREE).expanduser()
    if not directory.is_dir():
        raise FileNotFoundError(f"{WORKDIR_ENV}={directory} is not a directory on this worker: point it at the nngpt checkout")
    os.chdir(directory)
    return {"directory": str(directory)}
