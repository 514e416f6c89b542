"""Global sensitivity analysis of an experiment store: Sobol indices and Morris screening.

A store made from a :func:`~sim.experiments.designs.sobol` or
:func:`~sim.experiments.designs.morris` design keeps the SALib ``problem`` (parameter
names and bounds) and the sampling options in its manifest. The functions here read the
summaries back, average each output over the replications of every design point, put
the values in the design's row order (the order SALib's estimators expect) and call
``SALib.analyze.sobol.analyze`` or ``SALib.analyze.morris.analyze``::

    store = run_experiment(load_sweep(CONFIG_DIR / "sweeps" / "sobol.yaml"), "outputs/sobol")
    table = sobol_indices(store, ["market_profit_margin", "arrivals_uk"])
    plot_indices(table, output="market_profit_margin").savefig("sobol.png")

Averaging over replications estimates the indices of the *expected* output at each
point; with one replication the model's own noise enters the output variance and
shows up as interaction (``ST - S1``), mostly of the parameters the noise depends on.

Confidence intervals are SALib's bootstrap intervals (``num_resamples`` resamples at
``conf_level``); they are a pure function of ``seed``, which defaults to the design's
sampling seed, so an analysis is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.store import ExperimentStore

__all__ = ["SensitivityError", "sobol_indices", "morris_indices", "design_outputs", "plot_indices"]


class SensitivityError(ValueError):
    """A store or output that a sensitivity analysis cannot use; the message says why."""


def _manifest_design(store: ExperimentStore, kind: str) -> dict[str, Any]:
    if not store.exists():
        raise SensitivityError(f"{store.path} is not an experiment store (no manifest.json)")
    design = store.read_manifest().get("design") or {}
    got = design.get("kind")
    if got != kind:
        maker = {
            "sobol": "sobol() (sweep design kind 'sobol')",
            "morris": "morris() (sweep design kind 'morris')",
        }[kind]
        raise SensitivityError(
            f"{store.path} holds a '{got}' design; {kind.capitalize()} indices need a design "
            f"made by {maker}, whose sample keeps the SALib problem for the analysis"
        )
    if not design.get("problem"):
        raise SensitivityError(f"{store.path}: the manifest's design has no SALib problem")
    return design


def design_outputs(
    store: ExperimentStore, outputs: Sequence[str], kind: str | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The design and each output averaged over replications, one row per design point.

    Parameters
    ----------
    store
        An experiment store.
    outputs
        Summary measures (columns of ``store.summaries()``); booleans become 0/1.
    kind
        If given, the design kind the store must hold (``"sobol"`` or ``"morris"``).

    Returns
    -------
    (dict, pandas.DataFrame)
        The manifest's design (``kind``, ``problem``, ``options``, ``points``, ...) and a
        frame indexed by design point (0 .. n_points-1, the design's row order) with one
        column per output.

    Raises
    ------
    SensitivityError
        If the store is not of the required kind, an output is missing (the message lists
        the available ones), a design point has no successful run, or an output is not
        finite at some point.
    """
    if isinstance(outputs, str):
        outputs = [outputs]
    outputs = list(outputs)
    if not outputs:
        raise SensitivityError("give at least one output (a column of the store's summaries)")
    design = (
        _manifest_design(store, kind)
        if kind is not None
        else (store.read_manifest().get("design") or {})
    )
    n_points = len(design.get("points") or [])
    runs = store.runs(columns=["run_id", "point", "replication", "status"])
    summ = store.summaries()
    available = sorted(
        c
        for c in summ.columns
        if c != "run_id"
        and (pd.api.types.is_numeric_dtype(summ[c]) or pd.api.types.is_bool_dtype(summ[c]))
    )
    for name in outputs:
        if name not in summ.columns or name not in available:
            what = "not numeric" if name in summ.columns else "not in the store's summaries"
            raise SensitivityError(
                f"output '{name}' is {what}; available outputs: "
                f"{', '.join(available) or 'none (no successful runs)'}"
            )
    df = runs.merge(summ[["run_id", *outputs]], on="run_id", how="inner")
    missing = sorted(set(range(n_points)) - set(df["point"].astype(int)))
    if missing:
        failed = int((runs["status"] != "ok").sum()) if len(runs) else 0
        shown = ", ".join(map(str, missing[:10])) + (" ..." if len(missing) > 10 else "")
        raise SensitivityError(
            f"{store.path}: {len(missing)} of {n_points} design points have no successful run "
            f"(points {shown}; {failed} failed runs in the store); finish the sweep (rerun it to "
            "resume, with retry_failed=True for failed runs) before the analysis"
        )
    values = df[outputs].astype(float)
    values.insert(0, "point", df["point"].astype(int).to_numpy())
    y = values.groupby("point", sort=True).mean().reindex(range(n_points))
    for name in outputs:
        bad = y.index[~np.isfinite(y[name].to_numpy())].tolist()
        if bad:
            raise SensitivityError(
                f"output '{name}' is not finite (NaN or infinite) at {len(bad)} "
                f"design points (first: {bad[:5]}); choose another output"
            )
    return design, y


def _seed(seed: int | None, design: dict[str, Any]) -> int | None:
    return int(seed) if seed is not None else (design.get("options") or {}).get("seed")


def sobol_indices(
    store: ExperimentStore,
    outputs: Sequence[str],
    *,
    seed: int | None = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Sobol first-order, total (and second-order) indices of each output.

    Parameters
    ----------
    store
        A store made from a :func:`~sim.experiments.designs.sobol` design.
    outputs
        Summary measures to analyse, e.g. ``["market_profit_margin"]``.
    seed
        Seed of the bootstrap confidence intervals (default: the design's seed).
    num_resamples, conf_level
        Bootstrap resamples and the level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (output, parameter) with columns ``output, parameter, S1, S1_conf, ST,
        ST_conf``; if the design had second order, also ``S2[<other>]`` and
        ``S2_conf[<other>]`` for each parameter (the symmetric matrix, NaN on the diagonal).

    Raises
    ------
    SensitivityError
        If the store does not hold a Sobol design, an output is missing or not finite,
        or a design point has no successful run.
    """
    from SALib.analyze import sobol as sobol_analyze

    design, y = design_outputs(store, outputs, kind="sobol")
    problem = design["problem"]
    names = list(problem["names"])
    second = bool((design.get("options") or {}).get("calc_second_order", False))
    d = len(names)
    step = 2 * d + 2 if second else d + 2
    if len(y) % step:
        raise SensitivityError(
            f"{store.path}: {len(y)} design points is not a multiple of {step}, "
            "as a Sobol' sample of this problem must be"
        )
    rows = []
    for name in y.columns:
        si = sobol_analyze.analyze(
            problem,
            y[name].to_numpy(),
            calc_second_order=second,
            num_resamples=num_resamples,
            conf_level=conf_level,
            seed=_seed(seed, design),
        )
        for i, p in enumerate(names):
            row: dict[str, Any] = {
                "output": name,
                "parameter": p,
                "S1": si["S1"][i],
                "S1_conf": si["S1_conf"][i],
                "ST": si["ST"][i],
                "ST_conf": si["ST_conf"][i],
            }
            if second:
                s2 = np.asarray(si["S2"], dtype=float)
                c2 = np.asarray(si["S2_conf"], dtype=float)
                for k, q in enumerate(names):
                    a, b = min(i, k), max(i, k)
                    row[f"S2[{q}]"] = np.nan if i == k else s2[a, b]
                    row[f"S2_conf[{q}]"] = np.nan if i == k else c2[a, b]
            rows.append(row)
    return pd.DataFrame(rows)


def morris_indices(
    store: ExperimentStore,
    outputs: Sequence[str],
    *,
    seed: int | None = None,
    num_resamples: int = 1000,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Morris elementary-effect statistics of each output.

    The elementary effects are differences of the output divided by the Morris step in
    the unit hypercube (SALib's unscaled effects), so ``mu_star`` is in output units per
    ``2/3`` of a parameter's range (for 4 levels) and comparable across parameters.

    Parameters
    ----------
    store
        A store made from a :func:`~sim.experiments.designs.morris` design.
    outputs
        Summary measures to analyse.
    seed
        Seed of the bootstrap interval of ``mu_star`` (default: the design's seed).
    num_resamples, conf_level
        Bootstrap resamples and the level of the interval.

    Returns
    -------
    pandas.DataFrame
        One row per (output, parameter) with columns ``output, parameter, mu, mu_star,
        sigma, mu_star_conf``.

    Raises
    ------
    SensitivityError
        If the store does not hold a Morris design, an output is missing or not finite,
        or a design point has no successful run.
    """
    from SALib.analyze import morris as morris_analyze

    design, y = design_outputs(store, outputs, kind="morris")
    problem = design["problem"]
    names = list(problem["names"])
    x = pd.DataFrame(design["points"], columns=design["columns"])[names].to_numpy(dtype=float)
    levels = int((design.get("options") or {}).get("levels", 4))
    if len(y) % (len(names) + 1):
        raise SensitivityError(
            f"{store.path}: {len(y)} design points is not a whole number of "
            f"Morris trajectories of {len(names) + 1} points"
        )
    rows = []
    for name in y.columns:
        si = morris_analyze.analyze(
            problem,
            x,
            y[name].to_numpy(),
            num_resamples=num_resamples,
            conf_level=conf_level,
            num_levels=levels,
            seed=_seed(seed, design),
        )
        for i, p in enumerate(names):
            rows.append(
                {
                    "output": name,
                    "parameter": p,
                    "mu": float(si["mu"][i]),
                    "mu_star": float(si["mu_star"][i]),
                    "sigma": float(si["sigma"][i]),
                    "mu_star_conf": float(si["mu_star_conf"][i]),
                }
            )
    return pd.DataFrame(rows)


def plot_indices(
    df: pd.DataFrame, output: str | None = None, *, title: str | None = None, ax: Any = None
) -> Any:
    """Bar chart of sensitivity indices per parameter, with error bars.

    For a Sobol table, S1 and ST side by side with their confidence intervals; for a
    Morris table, ``mu_star`` (with its interval) and ``sigma``.

    Parameters
    ----------
    df
        A table from :func:`sobol_indices` or :func:`morris_indices`.
    output
        Which output to plot; needed when the table has several.
    title
        Figure title (default: the output's name and the method).
    ax
        A matplotlib Axes to draw on (default: a new figure).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the table is neither a Sobol nor a Morris table, or ``output`` is missing or
        ambiguous.
    """
    import matplotlib.pyplot as plt

    if {"S1", "ST"} <= set(df.columns):
        bars = [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total ST")]
        method, ylabel = "Sobol indices", "index (share of output variance)"
    elif {"mu_star", "sigma"} <= set(df.columns):
        bars = [
            ("mu_star", "mu_star_conf", "mu* (mean |elementary effect|)"),
            ("sigma", None, "sigma"),
        ]
        method, ylabel = "Morris screening", "elementary effect (output units)"
    else:
        raise ValueError(
            "plot_indices needs a table from sobol_indices (S1, ST) or morris_indices "
            f"(mu_star, sigma); got columns {list(df.columns)}"
        )
    outputs = list(dict.fromkeys(df["output"])) if "output" in df.columns else [None]
    if output is None:
        if len(outputs) > 1:
            raise ValueError(f"the table has several outputs {outputs}; choose one with output=")
        output = outputs[0]
    elif output not in outputs:
        raise ValueError(f"output '{output}' is not in the table; it has {outputs}")
    sub = df if output is None else df[df["output"] == output]
    params = sub["parameter"].astype(str).tolist()
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(params) + 2), 4.0), layout="constrained")
    else:
        fig = ax.figure
    xs = np.arange(len(params))
    width = 0.38
    for k, (col, conf, label) in enumerate(bars):
        err = sub[conf].to_numpy(dtype=float) if conf else None
        ax.bar(
            xs + (k - 0.5) * width,
            sub[col].to_numpy(dtype=float),
            width,
            yerr=err,
            capsize=3,
            label=label,
        )
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(xs, [p.replace(".", ".\n", 1) for p in params], fontsize=8)
    ax.set_xlabel("parameter")
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    ax.set_title(title or f"{method}: {output}")
    return fig
