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

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

from sim.config import CONFIG_DIR, ConfigError, check_names, read_yaml_mapping
from sim.experiments.designs import design_from_spec
from sim.experiments.targets import import_object, resolve_target
from sim.experiments.tasks import Experiment, OutputSpec

__all__ = ["COMMON_FIELDS", "SpecFile", "load_spec", "load_sweep", "parse_seed", "shipped_spec_path"]

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


#: The folder of :data:`sim.config.CONFIG_DIR` holding the shipped spec files of each kind.
SPEC_FOLDERS = {"sweep": "sweeps", "calibration": "calibration"}


def shipped_spec_path(path: str | Path, kind: str) -> Path:
    """``path`` if it is a file, else the shipped spec of that name (``sim/configs/sweeps/NAME.yaml``
    for a sweep, ``sim/configs/calibration/NAME.yaml`` for a calibration), so that the files
    shipped in the package run by name after a wheel install."""
    p = Path(path)
    if p.is_file():
        return p
    folder = CONFIG_DIR / SPEC_FOLDERS.get(kind, kind)
    if p.is_dir():
        raise ConfigError(f"{kind} file '{path}' is a directory, not a {kind} file")
    if not p.is_absolute() and p.name:
        stem = p.name if p.suffix in (".yaml", ".yml") else p.name + ".yaml"
        if (folder / stem).is_file() and (p.parent == Path(".") or p.parent.name == folder.name):
            return folder / stem
    shipped = sorted(x.stem for x in folder.glob("*.yaml")) if folder.is_dir() else []
    hint = get_close_matches(p.stem, shipped, n=1)
    raise ConfigError(f"{kind} file '{path}' not found" + (f"; did you mean '{hint[0]}'?" if hint else "")
                      + f" (shipped {kind} files: {', '.join(shipped) or 'none'})")


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
    p = shipped_spec_path(path, kind)
    spec = read_yaml_mapping(p, f"a {kind} file is a mapping of fields")
    path = p
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
    raw_outputs = s.fields.get("outputs") or {}
    try:
        design = design_from_spec(s.fields.get("design") or {}, reps, s.seed)
        if not isinstance(raw_outputs, Mapping):
            raise ValueError(f"outputs must be a mapping ({', '.join(OUTPUT_FIELDS)}), got {raw_outputs!r}")
        check_names("outputs", list(raw_outputs), OUTPUT_FIELDS, "field")
        variables = raw_outputs.get("variables", [])
        names = [variables] if isinstance(variables, str) else variables
        if not isinstance(names, list) or not all(isinstance(v, str) for v in names):
            raise ValueError(f"outputs.variables must be a variable name or a list of them, got {variables!r}")
        outputs = OutputSpec.from_dict(raw_outputs)
    except (ConfigError, ValueError, TypeError) as exc:
        raise s.error(str(exc)) from None
    model = str(s.fields.get("model", "channel"))
    try:  # a model that cannot be imported is refused here, not with a traceback when the sweep starts
        target = resolve_target(model)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise s.error(f"model: cannot use {model!r} ({type(exc).__name__}: {exc}); give 'channel' or "
                      "'module:function' naming a model target or a function f(params, seed)") from None
    if outputs.statistics:
        try:
            import_object(outputs.statistics)
        except (ImportError, AttributeError, ValueError, TypeError) as exc:
            raise s.error(f"outputs.statistics: cannot use {outputs.statistics!r} ({type(exc).__name__}: {exc}); "
                          "give 'module:function' naming a function f(daily_timeseries, config)") from None
    exp = Experiment(design=design, base=s.base, overrides=s.overrides, seed=s.seed, outputs=outputs,
                     model=model, name=s.name)
    if s.overrides:
        try:  # an error in the file's overrides names the file, not only the base scenario
            exp.base_config_dict()
        except ConfigError as exc:
            raise s.error(f"base and overrides: {exc}") from None
    if "variables" in raw_outputs and target.variables is not None:
        _check_variables(s, exp, target.variables)
    return exp


#: Fields of a sweep file's ``outputs`` block (:class:`~sim.experiments.tasks.OutputSpec`).
OUTPUT_FIELDS = ("frequency", "variables", "statistics")


def _check_variables(s: SpecFile, exp: Experiment,
                     variables: Callable[[dict[str, Any] | None], list[str]]) -> None:
    """Refuse an ``outputs.variables`` name the model's time series does not have (``variables``:
    the target's capability, the names for a configuration; naming the file, the field, the
    name, a spelling suggestion and the accepted names), instead of failing every run of the
    sweep with it."""
    scenarios = [None]
    if "scenario" in exp.design.points.columns:
        scenarios += [x for x in dict.fromkeys(exp.design.points["scenario"]) if isinstance(x, str)]
    accepted: list[str] = []
    for scenario in scenarios:
        try:
            accepted += variables(exp.base_config_dict(scenario))
        except ConfigError:
            return   # a base that is not valid is refused with its own message when the sweep is validated
    try:
        check_names("outputs.variables", list(exp.outputs.variables), accepted, "variable")
    except ConfigError as exc:
        raise s.error(str(exc)) from None
