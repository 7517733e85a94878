"""The sandbox fails closed: a run, an evaluator and `nngpt doctor` refuse when a required layer is missing.

The missing layers are real: the processes run as root without CAP_SYS_ADMIN (`setpriv --bounding-set
-sys_admin`, what a Docker container without `cap_add: SYS_ADMIN` gets), so the kernel refuses the
network, PID and mount namespaces. The in-process evaluator test switches the audit hook off with the
evaluator's own test switch, the one way to lose that layer.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nngpt_core.config import load_config
from nngpt_core.errors import NngptError
from nngpt_core.evaluate import Evaluator
from nngpt_core.sandbox.require import REQUIRE_ENV, SandboxRefused, required_layers
from nngpt_core.sandbox.settings import LAYERS, UNPRIVILEGED_LAYERS
from tests.evaluator_helpers import CONTROL, fast_config
from tests.flow_helpers import loop_env

ROOT = Path(__file__).resolve().parent.parent
WITHOUT_SYS_ADMIN = ["setpriv", "--bounding-set", "-sys_admin"]
NAMESPACE_LAYERS = ("net-ns", "pid-ns", "mount-ns", "read-only-root")

pytestmark = pytest.mark.skipif(shutil.which("setpriv") is None or sys.platform != "linux",
                                reason="needs util-linux setpriv on Linux")


def nngpt(tmp_path: Path, *args: str, config: dict | None = None, env: dict | None = None,
          prefix: list[str] = WITHOUT_SYS_ADMIN) -> subprocess.CompletedProcess:
    """`nngpt ARGS --config <config>` as root without CAP_SYS_ADMIN, its data in tmp_path/data."""
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"cycles": 1, "store": {"data_dir": str(tmp_path / "data")}, **(config or {})}))
    return subprocess.run([*prefix, sys.executable, "-m", "nngpt_cli.main", *args, "--config", str(path)],
                          capture_output=True, text=True, env={**loop_env(tmp_path), **(env or {})}, cwd=ROOT,
                          timeout=300)


@pytest.mark.timeout(300)
def test_a_run_refuses_to_start_without_a_required_layer_and_starts_nothing(tmp_path):
    result = nngpt(tmp_path, "run")
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("error: sandbox layer net-ns is missing (unshare: Operation not permitted)")
    assert "CAP_SYS_ADMIN" in line and "cap_add SYS_ADMIN" in line  # how to get it
    assert "also missing: pid-ns, mount-ns, read-only-root" in line
    assert not (tmp_path / "data").exists()  # no store, no run row: nothing was started
    assert not any((tmp_path / "prefect").iterdir())  # no Prefect server was started either


@pytest.mark.timeout(300)
def test_doctor_says_the_same_and_exits_1(tmp_path):
    run = nngpt(tmp_path, "run")
    doctor = nngpt(tmp_path, "doctor")
    assert doctor.returncode == 1
    said = " ".join(doctor.stdout.split())  # rich wraps long lines
    assert " ".join(run.stderr.split()) in said
    assert "net-ns │ no" in said or "net-ns no" in said.replace("│", "")


@pytest.mark.timeout(300)
def test_leaving_the_layers_out_of_the_requirement_lets_the_run_start(tmp_path):
    accepted = [layer for layer in UNPRIVILEGED_LAYERS if layer not in NAMESPACE_LAYERS]
    doctor = nngpt(tmp_path, "doctor", config={"evaluation": {"sandbox": {"require": accepted}}})
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    assert f"the {len(accepted)} required layers are there" in " ".join(doctor.stdout.split())
    # the machine's own requirement cannot be lifted by the config
    floor = nngpt(tmp_path, "doctor", config={"evaluation": {"sandbox": {"require": accepted}}},
                  env={REQUIRE_ENV: "mount-ns"})
    assert floor.returncode == 1 and "error: sandbox layer mount-ns is missing" in " ".join(floor.stdout.split())


def test_with_every_capability_all_layers_are_there_as_root(tmp_path):
    doctor = nngpt(tmp_path, "doctor", config={"evaluation": {"sandbox": {"require": "all"}}}, prefix=[])
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    said = " ".join(doctor.stdout.split())
    # user-ns is inactive as root, but not needed there: `all` is met
    assert f"the {len(LAYERS)} required layers are there" in said and "not needed: started as root" in said


def test_the_evaluator_refuses_before_any_candidate_runs():
    with pytest.raises(SandboxRefused) as refused:
        with Evaluator(fast_config(), progress=False, disabled_layers=("audit-hook",)) as evaluator:
            evaluator.evaluate(CONTROL.read_text())
    message = str(refused.value)
    assert message.startswith("sandbox layer audit-hook is missing (disabled)") and "\n" not in message
    with Evaluator(fast_config(without=("audit-hook",)), progress=False, disabled_layers=("audit-hook",)) as evaluator:
        assert evaluator.evaluate(CONTROL.read_text()).status == "ok"


def test_pool_and_dask_require_every_layer_by_default_and_the_local_default_needs_no_root(monkeypatch):
    monkeypatch.delenv(REQUIRE_ENV, raising=False)
    assert load_config(None).evaluation.sandbox.require == list(UNPRIVILEGED_LAYERS)
    assert "uid-drop" not in UNPRIVILEGED_LAYERS and "rlimit-processes" not in UNPRIVILEGED_LAYERS
    for backend in ("pool", "dask"):
        cfg = load_config(None, {"orchestration.evaluation_backend": backend})
        assert cfg.evaluation.sandbox.require == "all"
        assert required_layers(cfg.evaluation.sandbox.require) == tuple(LAYERS)
    chosen = load_config(None, {"orchestration.evaluation_backend": "pool", "evaluation.sandbox.require": ["session"]})
    assert chosen.evaluation.sandbox.require == ["session"]  # said explicitly: kept
    with pytest.raises(NngptError, match="unknown sandbox layers bogus"):
        load_config(None, {"evaluation.sandbox.require": ["session", "bogus"]})
    monkeypatch.setenv(REQUIRE_ENV, "uid-drop, net-ns")
    assert required_layers(["session"]) == ("session", "uid-drop", "net-ns")
    monkeypatch.setenv(REQUIRE_ENV, "nonsense")
    with pytest.raises(NngptError, match=f"{REQUIRE_ENV}: unknown sandbox layers nonsense"):
        required_layers([])
