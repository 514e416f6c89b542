"""Shared fixtures: short scenarios that keep the suite fast but exercise the policy."""

from __future__ import annotations

import os
import shutil
import tempfile

import matplotlib
import pytest

matplotlib.use("Agg")

# The shipped Home Office series only: a developer's `channel-sim data update`
# (~/.local/share/channel-sim) must never change golden results. Subprocesses inherit it.
_DATA_DIR = tempfile.mkdtemp(prefix="channel-sim-test-data-")
os.environ["CHANNEL_SIM_DATA_DIR"] = _DATA_DIR


def pytest_unconfigure(config):  # noqa: ARG001 - pytest hook signature
    shutil.rmtree(_DATA_DIR, ignore_errors=True)

import sim  # noqa: E402
from tests.helpers import short_config  # noqa: E402


@pytest.fixture(scope="session")
def pilot_short():
    return short_config("pilot_50")


@pytest.fixture(autouse=True)
def _no_display(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    yield


def pytest_report_header(config):  # noqa: ARG001 - pytest hook signature
    import mesa

    return f"channel-sim {sim.__version__}, Mesa {mesa.__version__}, PID {os.getpid()}"
