"""Calibration: the observed data, the targets, ABC-SMC fitting and the validation report.

* :mod:`sim.calibration.data`: the Home Office daily series and the published figures.
* :mod:`sim.calibration.targets`: each pattern as a named target (observed value,
  tolerance, statistic), defined once.
* :mod:`sim.calibration.abc`: ABC-SMC through the experiment engine (``channel-sim calibrate``).
* :mod:`sim.calibration.emulated`: ABC-SMC on a Gaussian-process emulator
  (:mod:`sim.calibration.emulator`) fitted to waves of real runs (``calibrate_emulated``).
* :mod:`sim.calibration.report`: simulated against observed (``channel-sim validate``).
"""

from sim.calibration.abc import (
           CalibrationResult,
           CalibrationSpec,
           Prior,
           calibrate,
           load_calibration_spec,
)
from sim.calibration.data import load_daily, load_published, observed
from sim.calibration.report import Validation, validate, write_report
from sim.calibration.targets import Target, TargetSet, default_targets, distance, observation_frame

__all__ = ["load_daily", "load_published", "observed", "Target", "TargetSet", "default_targets", "distance",
           "observation_frame", "Prior", "CalibrationSpec", "CalibrationResult", "calibrate",
           "load_calibration_spec", "Validation", "validate", "write_report"]
