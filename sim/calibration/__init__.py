"""Calibration data, targets and fitting (issue 4). So far: the observed data."""

from sim.calibration.data import load_daily, load_published, observed

__all__ = ["load_daily", "load_published", "observed"]
