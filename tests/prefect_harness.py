"""A throwaway Prefect server for the evaluation-backend tests, started once per test session.

    from tests.prefect_harness import prefect_harness  # noqa: F401  (a session fixture)

Several test modules import the fixture; pytest then holds one definition per module, so the
server is started by the first and the others reuse it. PREFECT_HOME is a temporary folder and
telemetry is off.
"""

from __future__ import annotations

import os

import pytest

_started = False


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    global _started
    if _started:
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    saved = {key: os.environ.get(key) for key in ("PREFECT_HOME", "PREFECT_SERVER_ANALYTICS_ENABLED")}
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    _started = True
    try:
        with prefect_test_harness(server_startup_timeout=300):  # a loaded 2-core machine needs more than 2 min
            yield
    finally:
        _started = False
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
