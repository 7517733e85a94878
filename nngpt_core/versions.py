"""What produced a result: package versions, Python, platform and the git commit, stored beside results."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = (
    "nngpt", "torch", "torchvision", "transformers", "tokenizers", "peft", "trl", "accelerate",
    "datasketch", "sqlalchemy", "prefect", "numpy",
)


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@lru_cache(maxsize=1)
def environment_versions() -> dict[str, str | None]:
    """Versions of the packages that shape a result, plus python, platform and git commit."""
    versions: dict[str, str | None] = {}
    for package in TRACKED_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    versions["python"] = platform.python_version()
    versions["platform"] = platform.platform(terse=True)
    versions["git_commit"] = _git_commit()
    return versions
