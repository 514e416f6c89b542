"""Test functions with known answers, runnable through the experiment engine.

A test function is the simplest model target (:mod:`sim.experiments.targets`), a plain
function ``f(params: dict, seed) -> dict``; the engine runs it when an experiment's
``model`` is ``"sim.experiments.testfunctions:NAME"``.
"""

from __future__ import annotations

import math
import os
import signal
import time
from typing import Any

import numpy as np

__all__ = ["ishigami", "ISHIGAMI_FIRST_ORDER", "ISHIGAMI_TOTAL", "ishigami_indices", "noisy_linear",
           "synthetic_verdict"]


def ishigami(params: dict[str, float], seed: Any = None, a: float = 7.0, b: float = 0.1) -> dict[str, float]:
    """Ishigami function of x1, x2, x3 in [-pi, pi] (Ishigami and Homma 1990)."""
    x1, x2, x3 = params["x1"], params["x2"], params["x3"]
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3**4 * math.sin(x1)}


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[dict[str, float], dict[str, float]]:
    """Analytic first-order and total Sobol indices of the Ishigami function."""
    v1 = 0.5 * (1 + b * math.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    first = {"x1": v1 / var, "x2": v2 / var, "x3": 0.0}
    total = {"x1": (v1 + v13) / var, "x2": v2 / var, "x3": v13 / var}
    return first, total


ISHIGAMI_FIRST_ORDER, ISHIGAMI_TOTAL = ishigami_indices()


def noisy_linear(params: dict[str, float], seed: Any) -> dict[str, float]:
    """y = x + noise(seed): replications differ, the same seed gives the same y.

    For tests of the engine: ``fail`` makes the run raise (unless the environment
    variable ``NOISY_LINEAR_HEALED`` is set, to test retries); ``sleep`` (seconds) slows
    it down (to kill a sweep mid-way); ``crash`` kills the process running it, as the
    out-of-memory killer would (``"kill"``: SIGKILL; ``"exit"``: ``os._exit(3)``), to test
    that a dead worker fails only its own run. Never give ``crash`` to a serial executor:
    the process it kills is the sweep's own.
    """
    rng = np.random.default_rng(seed)
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    if params.get("crash") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif params.get("crash") == "exit":
        os._exit(3)
    if params.get("fail") and not os.environ.get("NOISY_LINEAR_HEALED"):
        raise RuntimeError(f"asked to fail at x={params.get('x')}")
    return {"y": float(params.get("x", 0.0)) + float(rng.normal())}


def synthetic_verdict(params: dict[str, Any], seed: Any) -> dict[str, Any]:
    """A cheap model for the threshold search: broken when the quota exceeds ``300 + 60 z``
    with ``z ~ N(0, 1)``.

    The seed's draw does not depend on the quota, so each seed has a fixed threshold
    (``true_threshold``): the smallest whole quota that breaks it is
    ``floor(true_threshold) + 1``.
    """
    from sim.experiments.threshold import QUOTA, VERDICT

    rng = np.random.default_rng(seed)
    true = 300.0 + 60.0 * float(rng.standard_normal())
    quota = float(params.get(QUOTA, 0))
    return {
        VERDICT: bool(quota > true),
        "true_threshold": true,
        "market_profit_margin": float(np.tanh((true - quota) / 200.0)),
    }
