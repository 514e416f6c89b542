"""Spec files (YAML) of sweeps and calibrations: one reader for what they share.

A sweep file (:func:`load_sweep`) and a calibration file
(:func:`sim.calibration.abc.load_calibration_spec`) share their frame: a YAML mapping
with ``name`` (default: the file's stem), ``description``, ``base`` (the scenario, name
or path; default ``baseline``), ``overrides`` (fields fixed in every run) and ``seed``
(the root seed; default 1), and the same errors (file not found, not valid YAML, an
unknown field named with the fields allowed). :func:`load_spec` reads that frame; each
kind of file adds its own fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.config import ConfigError, read_yaml_mapping
from sim.experiments.designs import design_from_spec
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["COMMON_FIELDS", "SpecFile", "load_spec", "load_sweep", "parse_seed"]

#: Fields every spec file may have.
COMMON_FIELDS = ("name", "description", "base", "overrides", "seed")


@dataclass(frozen=True)
class SpecFile:
    """A spec file's common fields, parsed, and its other fields as written.

    Attributes
    ----------
    path
        The file.
    name, description, base, overrides, seed
        The common fields (with their defaults).
    fields
        The other fields present in the file (raw YAML values).
    """

    path: Path
    name: str
    description: str
    base: str | Mapping[str, Any] | None
    overrides: dict[str, Any]
    seed: int
    fields: dict[str, Any] = field(default_factory=dict)

    def error(self, message: str) -> ConfigError:
        """A :class:`ConfigError` about this file."""
        return ConfigError(f"{self.path}: {message}")


def parse_seed(value: Any, where: str) -> int:
    """``value`` as a root seed: a whole number >= 0 (NumPy's seeds are non-negative), or
    ConfigError starting with ``where``."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        ok = False
    else:
        try:
            value, ok = int(value), True
        except (TypeError, ValueError, OverflowError):
            ok = False
    if not ok or value < 0:
        raise ConfigError(f"{where} must be a whole number >= 0, got {value!r}")
    return value


def load_spec(path: str | Path, *, kind: str, fields: Iterable[str],
              default_overrides: Mapping[str, Any] | None = None) -> SpecFile:
    """Read the spec file ``path`` of ``kind`` (``"sweep"``, ``"calibration"``): its common
    fields (:data:`COMMON_FIELDS`) and, raw, the ``fields`` particular to the kind.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid YAML or not a mapping, has a field that is
        neither common nor one of ``fields``, or has a seed that is not a whole number >= 0.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{kind} file '{path}' not found")
    spec = read_yaml_mapping(path, f"a {kind} file is a mapping of fields")
    own = set(fields)
    allowed = set(COMMON_FIELDS) | own
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; a {kind} file has {sorted(allowed)}")
    seed = parse_seed(spec.get("seed", 1), f"{path}: seed")
    overrides = spec.get("overrides") or dict(default_overrides or {})
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{path}: overrides must be a mapping of dotted fields to values, got {overrides!r}")
    return SpecFile(path=p, name=str(spec.get("name", p.stem)), description=str(spec.get("description") or ""),
                    base=spec.get("base", "baseline"), overrides=dict(overrides), seed=seed,
                    fields={k: v for k, v in spec.items() if k in own})


def load_sweep(path: str | Path, *, replications: int | None = None) -> Experiment:
    """Read a sweep file (YAML) into an :class:`~sim.experiments.tasks.Experiment`.

    Format::

        name: quota_vs_interception
        base: pilot_50                   # scenario to start from (name or path)
        overrides: {start_date: 2025-01-01}
        seed: 20250804                   # root seed
        replications: 5
        design:
          kind: grid                     # grid | list | lhs | sobol | morris | scenarios
          factors:
            returns.quota_per_week: [0, 50, 100, 200, 400]
            patrols.uk_payment_gbp_per_year: {start: 0, stop: 480000000, step: 160000000}
        outputs: {frequency: monthly, variables: [arrivals_uk, returns]}
        model: channel                   # or "module:function" (sim.experiments.targets)
    """
    s = load_spec(path, kind="sweep", fields=("replications", "design", "outputs", "model"))
    raw_reps = replications if replications is not None else s.fields.get("replications", 1)
    if isinstance(raw_reps, bool) or not isinstance(raw_reps, int) or raw_reps < 1:
        where = "--replications" if replications is not None else "replications"
        raise s.error(f"{where} must be a whole number >= 1, got {raw_reps!r}")
    reps = raw_reps
    try:
        design = design_from_spec(s.fields.get("design") or {}, reps, s.seed)
        outputs = OutputSpec.from_dict(s.fields.get("outputs"))
    except (ValueError, TypeError) as exc:
        raise s.error(str(exc)) from None
    exp = Experiment(design=design, base=s.base, overrides=s.overrides, seed=s.seed, outputs=outputs,
                     model=str(s.fields.get("model", "channel")), name=s.name)
    if s.overrides:
        try:  # an error in the file's overrides names the file, not only the base scenario
            exp.base_config_dict()
        except ConfigError as exc:
            raise s.error(f"base and overrides: {exc}") from None
    return exp
