"""Experimental designs: plain tables of parameter points, crossed with replications.

A :class:`Design` is a pandas DataFrame of points (one column per swept field, named by
its dotted path, e.g. ``returns.quota_per_week``; the special column ``scenario`` names
the base scenario of a point) and a number of replications. Every point is run once per
replication; replication ``j`` of every point uses the same seeds (common random numbers,
see :mod:`sim.experiments.tasks`).

Constructors, all pure functions of their arguments (and of ``seed`` where they sample):
:func:`grid` (full factorial, with lists or ``{start, stop, step}`` ranges), :func:`listed`
(hand-listed combinations), :func:`latin_hypercube` (scipy.stats.qmc), :func:`sobol` and
:func:`morris` (SALib samplers, with their ``problem`` kept for the analysis), and
:func:`scenarios` (named scenario files, for comparisons).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Design", "grid", "listed", "latin_hypercube", "sobol", "morris", "scenarios", "expand_range",
           "check_finite", "design_from_spec", "plain", "unit_latin_hypercube"]

KINDS = ("grid", "list", "lhs", "sobol", "morris", "scenarios")


@dataclass(frozen=True)
class Design:
    """Design points and replications.

    Attributes
    ----------
    points
        One row per point; columns are dotted field names (or ``scenario``).
    replications
        Runs per point; replication ``j`` shares its seeds across points.
    kind
        One of ``grid, list, lhs, sobol, morris, scenarios``.
    problem
        The SALib problem (``names``, ``bounds``, ...) for ``sobol`` and ``morris``.
    options
        The options the design was made with (for the manifest and the analysis).
    """

    points: pd.DataFrame
    replications: int = 1
    kind: str = "list"
    problem: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"design kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.replications, int) or self.replications < 1:
            raise ValueError(f"replications must be a whole number >= 1, got {self.replications!r}")
        if len(self.points) == 0:
            raise ValueError("a design needs at least one point")

    @property
    def factors(self) -> list[str]:
        return list(self.points.columns)

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def n_runs(self) -> int:
        return self.n_points * self.replications

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-able) that :meth:`from_dict` reads back exactly."""
        return {
            "kind": self.kind,
            "replications": self.replications,
            "columns": self.factors,
            "points": [[plain(v) for v in row] for row in self.points.itertuples(index=False)],
            "problem": plain(self.problem),
            "options": plain(self.options),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Design:
        pts = pd.DataFrame(d["points"], columns=d["columns"])
        return cls(pts, int(d["replications"]), d["kind"], d.get("problem"), dict(d.get("options") or {}))


def plain(v: Any) -> Any:
    """Numpy scalars and containers to plain Python (for JSON)."""
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    return v


def _non_finite(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) and not math.isfinite(v)


def check_finite(name: str, values: Sequence[Any]) -> None:
    """Raise ValueError naming ``name`` and the element if a value is NaN or infinite (a NaN
    in a design would otherwise read as "unset" and run the base value)."""
    for i, v in enumerate(values):
        if _non_finite(v):
            raise ValueError(f"{name}: value {i + 1} ({v}) is not a finite number; a design's values must be finite")


def expand_range(spec: Any, name: str = "factor") -> list[Any]:
    """A list of levels from a list or a ``{start, stop, step}`` range (stop included).

    Raises
    ------
    ValueError
        If the range is malformed, or a level (or start, stop, step) is not a finite number.
    """
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"start", "stop", "step"}
        if unknown or not {"start", "stop", "step"} <= set(spec):
            raise ValueError(f"{name}: a range needs exactly start, stop and step, got {sorted(spec)}")
        start, stop, step = spec["start"], spec["stop"], spec["step"]
        for key in ("start", "stop", "step"):
            if not isinstance(spec[key], (int, float, np.number)) or isinstance(spec[key], bool) \
                    or _non_finite(spec[key]):
                raise ValueError(f"{name}: {key} must be a finite number, got {spec[key]!r}")
        if not step or (stop - start) / step < 0:
            raise ValueError(f"{name}: step must be non-zero and lead from start to stop, got {spec}")
        n = int(math.floor((stop - start) / step + 1e-9)) + 1
        values = [start + i * step for i in range(n)]
        if all(isinstance(x, int) for x in (start, stop, step)):
            return [int(v) for v in values]
        return [round(float(v), 12) for v in values]
    if isinstance(spec, (list, tuple)) and len(spec) > 0:
        check_finite(name, spec)
        return list(spec)
    raise ValueError(f"{name}: levels must be a non-empty list or a {{start, stop, step}} range, got {spec!r}")


def grid(factors: Mapping[str, Any], replications: int = 1) -> Design:
    """Full factorial design over the levels of each factor (lists or ranges)."""
    if not factors:
        raise ValueError("a grid needs at least one factor")
    levels = {k: expand_range(v, k) for k, v in factors.items()}
    rows = list(itertools.product(*levels.values()))
    return Design(pd.DataFrame(rows, columns=list(levels)), replications, "grid", None,
                  {"levels": {k: plain(v) for k, v in levels.items()}})


def listed(points: Sequence[Mapping[str, Any]], replications: int = 1) -> Design:
    """Hand-listed combinations; a field missing from a point keeps the base value."""
    if not points:
        raise ValueError("a list design needs at least one point")
    cols: list[str] = []
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            raise ValueError(f"point {i + 1} of a list design must be a mapping of fields to values, got {p!r}")
        cols += [k for k in p if k not in cols]
        for k, v in p.items():
            if _non_finite(v):
                raise ValueError(f"point {i + 1}, {k}: {v} is not a finite number; a design's values must be finite "
                                 "(leave a field out to keep its base value)")
    rows = [[p.get(c, None) for c in cols] for p in points]
    return Design(pd.DataFrame(rows, columns=cols), replications, "list")


def scenarios(names: Sequence[str], replications: int = 1) -> Design:
    """One point per named scenario (a shipped name or a YAML path)."""
    if not names:
        raise ValueError("a comparison needs at least one scenario")
    return Design(pd.DataFrame({"scenario": [str(n) for n in names]}), replications, "scenarios")


def _bounds(bounds: Mapping[str, Sequence[float]]) -> tuple[list[str], np.ndarray]:
    names = list(bounds)
    if not names:
        raise ValueError("a sampling design needs at least one factor with bounds")
    arr = np.array([list(map(float, bounds[n])) for n in names])
    for n, row in zip(names, arr, strict=True):
        check_finite(f"{n} bounds", list(row))
    if arr.shape[1] != 2 or (arr[:, 0] >= arr[:, 1]).any():
        bad = [n for n, (lo, hi) in zip(names, arr, strict=True) if lo >= hi]
        raise ValueError(f"bounds must be [low, high] with low < high; check {bad or names}")
    return names, arr


def latin_hypercube(bounds: Mapping[str, Sequence[float]], n: int, seed: int, replications: int = 1) -> Design:
    """``n`` points by Latin hypercube sampling (scipy.stats.qmc), scaled to the bounds."""
    from scipy.stats import qmc

    names, arr = _bounds(bounds)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    unit = unit_latin_hypercube(len(names), n, np.random.default_rng(seed))
    pts = qmc.scale(unit, arr[:, 0], arr[:, 1])
    return Design(pd.DataFrame(pts, columns=names), replications, "lhs", None,
                  {"n": n, "seed": seed, "bounds": {k: list(map(float, v)) for k, v in bounds.items()}})


def unit_latin_hypercube(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Latin hypercube points in the unit cube of dimension ``d`` (scipy.stats.qmc),
    drawn from ``rng`` (whichever of ``rng=``/``seed=`` the installed SciPy takes)."""
    import inspect

    from scipy.stats import qmc

    if "rng" in inspect.signature(qmc.LatinHypercube).parameters:
        return qmc.LatinHypercube(d=d, rng=rng).random(n)
    return qmc.LatinHypercube(d=d, seed=rng).random(n)  # pragma: no cover - SciPy < 1.15


def _problem(bounds: Mapping[str, Sequence[float]]) -> dict[str, Any]:
    names, arr = _bounds(bounds)
    return {"num_vars": len(names), "names": names, "bounds": arr.tolist()}


def sobol(bounds: Mapping[str, Sequence[float]], n: int, seed: int, replications: int = 1,
          calc_second_order: bool = False) -> Design:
    """Saltelli/Sobol' sample for Sobol indices (SALib); ``n`` a power of 2."""
    from SALib.sample import sobol as sobol_sample

    if n < 2 or n & (n - 1):
        raise ValueError(f"n must be a power of 2 (Sobol' sequence), got {n}")
    problem = _problem(bounds)
    x = sobol_sample.sample(problem, n, calc_second_order=calc_second_order, seed=seed)
    return Design(pd.DataFrame(x, columns=problem["names"]), replications, "sobol", problem,
                  {"n": n, "seed": seed, "calc_second_order": calc_second_order})


def morris(bounds: Mapping[str, Sequence[float]], trajectories: int, seed: int, levels: int = 4,
           replications: int = 1) -> Design:
    """Morris elementary-effects trajectories (SALib)."""
    from SALib.sample import morris as morris_sample

    if trajectories < 2:
        raise ValueError(f"trajectories must be >= 2, got {trajectories}")
    if levels < 2 or levels % 2:
        raise ValueError(f"levels must be an even number >= 2, got {levels}")
    problem = _problem(bounds)
    x = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    return Design(pd.DataFrame(x, columns=problem["names"]), replications, "morris", problem,
                  {"trajectories": trajectories, "seed": seed, "levels": levels})


def design_from_spec(spec: Mapping[str, Any], replications: int, default_seed: int) -> Design:
    """Build a design from the ``design:`` block of a sweep file."""
    if not isinstance(spec, Mapping) or "kind" not in spec:
        raise ValueError(f"design: needs a 'kind' (one of {KINDS})")
    kind = spec["kind"]
    opts = {k: v for k, v in spec.items() if k != "kind"}
    seed = int(opts.pop("seed", default_seed))
    try:
        if kind == "grid":
            design = grid(opts.pop("factors"), replications)
        elif kind == "list":
            design = listed(opts.pop("points"), replications)
        elif kind == "scenarios":
            design = scenarios(opts.pop("scenarios"), replications)
        elif kind == "lhs":
            design = latin_hypercube(opts.pop("bounds"), int(opts.pop("n")), seed, replications)
        elif kind == "sobol":
            design = sobol(opts.pop("bounds"), int(opts.pop("n")), seed, replications,
                           bool(opts.pop("calc_second_order", False)))
        elif kind == "morris":
            design = morris(opts.pop("bounds"), int(opts.pop("trajectories")), seed, int(opts.pop("levels", 4)),
                            replications)
        else:
            raise ValueError(f"design: kind must be one of {KINDS}, got {kind!r}")
    except KeyError as exc:
        raise ValueError(f"design of kind '{kind}' needs the field {exc}") from None
    if opts:
        raise ValueError(f"design of kind '{kind}': unknown field(s) {sorted(opts)}")
    return design
