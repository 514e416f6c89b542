"""Shared fixtures: short scenarios that keep the suite fast but exercise the policy."""

from __future__ import annotations

import os

import matplotlib
import pytest

matplotlib.use("Agg")

import sim  # noqa: E402

# Each short scenario starts in 2025 so that the pilot (from 2025-08-04) is active.
SHORT = {"start_date": "2025-01-01", "end_date": "2026-06-30"}


def short_config(name: str = "baseline", **overrides: object):
    """A shipped scenario shortened to 2025-01-01 .. 2026-06-30, with overrides."""
    return sim.load_config(name, {**SHORT, **overrides})


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
