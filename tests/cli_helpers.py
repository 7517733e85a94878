"""Run the real `nngpt` console entry point in a subprocess, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys

NNGPT = [sys.executable, "-m", "nngpt_cli.main"]


def run_nngpt(*args: str, env: dict[str, str] | None = None, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([*NNGPT, *args], capture_output=True, text=True, env=full_env, timeout=timeout, **kwargs)
