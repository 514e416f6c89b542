"""Sobol and Morris analysis of experiment stores (sim.experiments.sensitivity).

The estimators are checked on the Ishigami function, whose Sobol indices are known in
closed form, run through the experiment engine exactly as the Channel model would be.
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sim.config import CONFIG_DIR, load_config
from sim.experiments import Experiment, OutputSpec, grid, load_sweep, morris, run_experiment, sobol
from sim.experiments.sensitivity import (
    SensitivityError,
    design_outputs,
    morris_indices,
    plot_indices,
    sobol_indices,
)
from sim.experiments.testfunctions import ISHIGAMI_FIRST_ORDER, ISHIGAMI_TOTAL

matplotlib.use("Agg")

ISHIGAMI = "sim.experiments.testfunctions:ishigami"
BOUNDS = {k: [-math.pi, math.pi] for k in ("x1", "x2", "x3")}
END = OutputSpec(frequency="end")
#: One simulated year of the pilot with the policy in force from February, so that the
#: 26-week verdict window at the end of the year lies inside the policy period.
ONE_YEAR = {
    "start_date": "2025-01-01",
    "end_date": "2025-12-31",
    "returns.start_date": "2025-02-03",
    "returns.announce_date": "2025-01-15",
    "legal_route.start_date": "2025-02-03",
}


def _run(design, path, model=ISHIGAMI, **kw):
    exp = Experiment(design=design, base=None, model=model, outputs=END, **kw)
    return run_experiment(exp, path, executor="serial", progress=False, chunk_size=2000)


@pytest.fixture(scope="module")
def sobol_store(tmp_path_factory):
    return _run(sobol(BOUNDS, n=1024, seed=11), tmp_path_factory.mktemp("sobol"))


@pytest.fixture(scope="module")
def morris_store(tmp_path_factory):
    return _run(morris(BOUNDS, trajectories=60, seed=5), tmp_path_factory.mktemp("morris"))


def test_sobol_indices_match_ishigami(sobol_store):
    df = sobol_indices(sobol_store, ["y"])
    assert list(df.columns) == ["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert df["parameter"].tolist() == ["x1", "x2", "x3"]
    for row in df.itertuples(index=False):
        assert row.S1 == pytest.approx(ISHIGAMI_FIRST_ORDER[row.parameter], abs=0.05), row
        assert row.ST == pytest.approx(ISHIGAMI_TOTAL[row.parameter], abs=0.05), row
        assert row.S1_conf > 0 and row.ST_conf > 0
    # x3 acts only through its interaction with x1
    x3 = df.set_index("parameter").loc["x3"]
    assert abs(x3["S1"]) < 0.05 < x3["ST"] - x3["S1"]


def test_sobol_analysis_is_reproducible(sobol_store):
    a = sobol_indices(sobol_store, ["y"])
    b = sobol_indices(sobol_store, ["y"])
    pd.testing.assert_frame_equal(a, b)
    c = sobol_indices(sobol_store, ["y"], seed=12345)
    # the point estimates do not depend on the bootstrap seed; the intervals do
    np.testing.assert_allclose(c[["S1", "ST"]], a[["S1", "ST"]])
    assert not np.allclose(c["S1_conf"], a["S1_conf"])
    pd.testing.assert_frame_equal(c, sobol_indices(sobol_store, ["y"], seed=12345))


def test_sobol_second_order(tmp_path):
    store = _run(sobol(BOUNDS, n=256, seed=3, calc_second_order=True), tmp_path)
    df = sobol_indices(store, "y").set_index("parameter")
    v13 = ISHIGAMI_TOTAL["x1"] - ISHIGAMI_FIRST_ORDER["x1"]  # the only interaction
    assert df.loc["x1", "S2[x3]"] == pytest.approx(v13, abs=0.1)
    assert df.loc["x1", "S2[x3]"] == df.loc["x3", "S2[x1]"]
    assert abs(df.loc["x1", "S2[x2]"]) < 0.1
    assert np.isnan(df.loc["x2", "S2[x2]"]) and "S2_conf[x3]" in df.columns


def test_morris_on_ishigami(morris_store):
    """Morris with 4 levels moves each x between -pi <-> pi/3 or -pi/3 <-> pi.

    So every elementary effect of x2 is 7 sin^2(pi/3) / (2/3) = 7.875 in size (sign
    alternating: mu near 0); x1 always increases y (mu = mu_star, expected 7.70); x3
    acts only with x1 (mu near 0, expected mu_star 6.25, half its effects zero).
    """
    df = morris_indices(morris_store, ["y"]).set_index("parameter")
    assert list(df.columns) == ["output", "mu", "mu_star", "sigma", "mu_star_conf"]
    assert df.loc["x2", "mu_star"] == pytest.approx(7 * 0.75 * 1.5, rel=1e-9)
    assert abs(df.loc["x2", "mu"]) < 0.5 * df.loc["x2", "mu_star"]
    assert df.loc["x1", "mu"] == pytest.approx(df.loc["x1", "mu_star"])
    expected = {
        "x1": 0.5 * math.sin(math.pi / 3) * (2 + 0.1 * (math.pi**4 + (math.pi / 3) ** 4)) * 1.5,
        "x3": 0.5 * 0.1 * math.sin(math.pi / 3) * (math.pi**4 - (math.pi / 3) ** 4) * 1.5,
    }
    for p, value in expected.items():
        assert abs(df.loc[p, "mu_star"] - value) < 1.5 * df.loc[p, "mu_star_conf"], (p, value)
    assert 0 < df.loc["x3", "mu_star"] < df.loc["x2", "mu_star"]
    assert abs(df.loc["x3", "mu"]) < 0.5 * df.loc["x3", "mu_star"]
    assert (df["sigma"] > 0).all()
    pd.testing.assert_frame_equal(
        morris_indices(morris_store, ["y"]), morris_indices(morris_store, ["y"])
    )


def test_replications_are_averaged_per_point(tmp_path):
    store = _run(
        sobol({"x": [0, 1], "z": [0, 1]}, n=8, seed=1, replications=3),
        tmp_path,
        model="sim.experiments.testfunctions:noisy_linear",
    )
    design, y = design_outputs(store, ["y"], kind="sobol")
    runs = store.runs().merge(store.summaries(), on="run_id")
    assert len(y) == len(design["points"]) == 8 * 4
    assert y.loc[5, "y"] == pytest.approx(runs.loc[runs["point"] == 5, "y"].mean())
    df = sobol_indices(store, ["y"]).set_index("parameter")
    assert df.loc["x", "ST"] > df.loc["z", "ST"]


def test_clear_errors(sobol_store, tmp_path):
    grid_store = _run(
        grid({"x": [0.0, 1.0]}, replications=2),
        tmp_path / "grid",
        model="sim.experiments.testfunctions:noisy_linear",
    )
    with pytest.raises(
        SensitivityError, match=r"holds a 'grid' design; Sobol indices need a design made by sobol"
    ):
        sobol_indices(grid_store, ["y"])
    with pytest.raises(SensitivityError, match="Morris indices need a design made by morris"):
        morris_indices(sobol_store, ["y"])
    with pytest.raises(
        SensitivityError,
        match=r"output 'arrivals_uk' is not in the store's summaries; "
        r"available outputs: y",
    ):
        sobol_indices(sobol_store, ["y", "arrivals_uk"])
    with pytest.raises(SensitivityError, match="not an experiment store"):
        sobol_indices(type(sobol_store)(tmp_path / "nothing"), ["y"])


def test_missing_points_are_reported(tmp_path):
    store = _run(
        sobol({"x": [0, 1], "z": [0, 1]}, n=4, seed=2),
        tmp_path / "a",
        model="sim.experiments.testfunctions:noisy_linear",
    )
    store.drop_runs({"p00003-r000", "p00007-r000"})  # as if the sweep had been interrupted
    with pytest.raises(
        SensitivityError,
        match=r"2 of 16 design points have no successful run \(points 3, 7; "
        r"0 failed runs",
    ):
        sobol_indices(store, ["y"])
    failing = _run(
        sobol({"x": [0, 1], "fail": [0, 1]}, n=4, seed=2),
        tmp_path / "b",
        model="sim.experiments.testfunctions:noisy_linear",
    )  # fail != 0: every run fails
    with pytest.raises(SensitivityError, match=r"available outputs: none \(no successful runs\)"):
        sobol_indices(failing, ["y"])


def test_plot_indices(sobol_store, morris_store):
    from matplotlib.figure import Figure

    fig = plot_indices(sobol_indices(sobol_store, ["y"]))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 6 and ax.get_legend() is not None
    fig2 = plot_indices(morris_indices(morris_store, ["y"]), title="Morris")
    assert fig2.axes[0].get_title() == "Morris"
    with pytest.raises(ValueError, match="sobol_indices .* or morris_indices"):
        plot_indices(pd.DataFrame({"a": [1]}))
    two = pd.concat([sobol_indices(sobol_store, ["y"]).assign(output=o) for o in ("a", "b")])
    with pytest.raises(ValueError, match="several outputs"):
        plot_indices(two)
    assert isinstance(plot_indices(two, output="b"), Figure)


@pytest.mark.parametrize("name,kind", [("sobol", "sobol"), ("morris", "morris")])
def test_sensitivity_sweep_files_are_valid(name, kind):
    exp = load_sweep(CONFIG_DIR / "sweeps" / f"{name}.yaml")
    exp.validate()
    assert exp.design.kind == kind and exp.base == "pilot_50" and exp.outputs.frequency == "end"
    assert exp.design.replications == 1 and len(exp.design.problem["names"]) == 5
    assert not exp.design.options.get("calc_second_order", False)
    # every corner of the bounds is a valid configuration (inside the declared ranges)
    base = load_config("pilot_50", dict(exp.overrides))
    for p, (lo, hi) in zip(exp.design.problem["names"], exp.design.problem["bounds"], strict=True):
        for v in (lo, hi):
            load_config(base, {p: int(v) if p == "returns.quota_per_week" else v})
    assert str(base.start_date) == "2025-01-01" and str(base.end_date) == "2027-12-31"


@pytest.mark.slow
def test_morris_on_the_channel_model(tmp_path):
    """Smoke test: 2 parameters x 2 trajectories = 6 one-year runs of the pilot."""
    design = morris(
        {"returns.quota_per_week": [0, 1200], "migrants.valuation_median_gbp": [15000, 45000]},
        trajectories=2,
        seed=4,
    )
    exp = Experiment(design=design, base="pilot_50", overrides=ONE_YEAR, outputs=END, seed=2)
    store = run_experiment(exp, tmp_path, executor="serial", progress=False)
    assert (store.runs()["status"] == "ok").all() and len(store.runs()) == 6
    df = morris_indices(store, ["market_profit_margin", "arrivals_uk", "business_model_broken"])
    assert len(df) == 6 and np.isfinite(df[["mu", "mu_star", "sigma"]].to_numpy()).all()
    quota = df[
        (df["output"] == "arrivals_uk") & (df["parameter"] == "returns.quota_per_week")
    ].iloc[0]
    assert quota["mu"] < 0  # more returns, fewer arrivals
