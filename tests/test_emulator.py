"""The Gaussian-process emulator and the emulator-assisted ABC (issue 11), on problems with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from sim.calibration.abc import CalibrationSpec, Prior, load_calibration_spec
from sim.calibration.emulated import EmulatorSettings, emulated_abc, posterior_medoid
from sim.calibration.emulator import GaussianProcess, StatisticsEmulator, safe_cholesky
from sim.config import ConfigError
from sim.experiments.stats import weighted_quantile


def _smooth(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1]) + x[:, 0] ** 2


@pytest.mark.parametrize("kernel", ["matern52", "sqexp"])
def test_the_gp_reproduces_a_smooth_function(kernel):
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(60, 2))
    gp = GaussianProcess(kernel, "linear", restarts=1, seed=0).fit(x, _smooth(x) + 1e-3 * rng.standard_normal(60))
    grid = rng.uniform(0.05, 0.95, size=(400, 2))
    mean, var = gp.predict(grid)
    assert np.max(np.abs(mean - _smooth(grid))) < 0.15
    assert np.sqrt(np.mean((mean - _smooth(grid)) ** 2)) < 0.02
    assert (var >= 0).all() and np.sqrt(var).max() < 0.1
    # deterministic given the seed
    a = GaussianProcess(kernel, "linear", restarts=1, seed=0).fit(x, _smooth(x))
    b = GaussianProcess(kernel, "linear", restarts=1, seed=0).fit(x, _smooth(x))
    np.testing.assert_array_equal(a.predict(grid)[0], b.predict(grid)[0])


def test_predictive_intervals_cover_at_about_the_nominal_rate_on_noisy_data():
    rng = np.random.default_rng(2)
    sd = 0.1
    f = lambda x: np.sin(3 * x[:, 0]) + 0.5 * x[:, 1] ** 2 - 0.3 * x[:, 2]  # noqa: E731
    x = rng.uniform(size=(120, 3))
    gp = GaussianProcess("matern52", "linear", restarts=2, seed=3).fit(x, f(x) + sd * rng.standard_normal(120))
    assert math.sqrt(gp.noise) == pytest.approx(sd, rel=0.25)          # the nugget finds the noise
    xt = rng.uniform(size=(2000, 3))
    yt = f(xt) + sd * rng.standard_normal(2000)
    mean, var = gp.predict(xt)
    z = (yt - mean) / np.sqrt(var + gp.noise)
    assert np.mean(np.abs(z) < norm.ppf(0.95)) == pytest.approx(0.90, abs=0.04)
    assert np.mean(np.abs(z) < norm.ppf(0.75)) == pytest.approx(0.50, abs=0.06)
    # leave-one-out residuals cover too
    y = f(x) + sd * np.random.default_rng(2).standard_normal(120)  # not the training draw: refit on it
    gp = GaussianProcess("matern52", "linear", restarts=1, seed=3).fit(x, y)
    lm, lv = gp.loo()
    assert len(lm) == 120 and (lv > 0).all()
    assert np.mean(np.abs((y - lm) / np.sqrt(lv)) < norm.ppf(0.95)) == pytest.approx(0.90, abs=0.07)


def test_cholesky_with_jitter_and_bad_gp_settings():
    a = np.ones((3, 3))                                     # singular: needs jitter
    chol = safe_cholesky(a)
    assert np.allclose(chol @ chol.T, a, atol=1e-3)
    with pytest.raises(ValueError, match="kernel must be one of"):
        GaussianProcess("rbf")
    with pytest.raises(ValueError, match="mean must be one of"):
        GaussianProcess(mean="quadratic")


def test_a_vector_statistic_is_reduced_by_pca_and_sampled_on_its_scale():
    rng = np.random.default_rng(4)
    u = rng.uniform(size=(50, 2))
    level = 100 * np.exp(u[:, 0])
    months = np.arange(12)
    vec = level[:, None] * (1 + 0.3 * np.sin(2 * np.pi * months / 12))[None, :] * np.exp(
        0.02 * rng.standard_normal((50, 12)))
    cols = [f"m[{k}]" for k in months] + ["share"]
    stats = np.column_stack([vec, 0.2 + 0.1 * u[:, 1]])
    em = StatisticsEmulator(cols, {"m": cols[:12]}, ["m"], restarts=0, pca_max=4).fit(u, stats, 2)
    assert len(em.groups) == 2 and 1 <= len(em.groups[0].gps) <= 4
    draw = em.sample(u[:5], np.random.default_rng(0), 2)
    assert draw.shape == (5, 13)
    assert np.allclose(draw[:, :12] / vec[:5], 1, atol=0.15)
    assert em.predict(u[:5])[:, 12] == pytest.approx(stats[:5, 12], abs=0.01)


# ----------------------------------------------------------------------------- toy ABC
SIGMA, N_OBS, XBAR = 0.2, 20, 0.6          # y_i ~ N(theta, SIGMA), theta ~ U(0, 1), observed mean XBAR
POST_SD = SIGMA / math.sqrt(N_OBS)


def _abc_posterior_quantile(q: float, eps: float) -> float:
    """Quantile of the ABC posterior at threshold ``eps`` (noise sds): XBAR + POST_SD (eps U(-1, 1) + N(0, 1))."""
    def cdf(x: float) -> float:   # P(eps U + Z <= x) = mean over a of Phi(x - a), a ~ U(-eps, eps)
        g = lambda t: t * norm.cdf(t) + norm.pdf(t)  # noqa: E731  (antiderivative of Phi)
        return (g(x + eps) - g(x - eps)) / (2 * eps)
    return XBAR + POST_SD * brentq(lambda x: cdf(x) - q, -10, 10)


def test_the_emulator_assisted_posterior_of_a_normal_mean_matches_the_analytic_one():
    def simulate(u: np.ndarray, wave: int) -> np.ndarray:      # the "real model": a noisy sample mean
        rng = np.random.default_rng([17, wave])
        return u[:, :1] + POST_SD * rng.standard_normal((len(u), 1))

    def errors(stats: np.ndarray) -> np.ndarray:
        return np.abs(stats - XBAR) / POST_SD

    settings = EmulatorSettings(design_points=20, wave_points=10, waves=2, particles=1000, generations=8,
                                wave_particles=200, wave_generations=4, restarts=1)
    fit = emulated_abc(simulate, errors, 1, ["mean"], settings=settings, replications=1, seed=5)
    assert len(fit.design_u) == 30 and (fit.design_wave == 2).sum() == 10
    # the second wave lands mostly where the posterior is (spread out: maximin)
    assert np.median(np.abs(fit.design_u[fit.design_wave == 2, 0] - XBAR)) < 0.15
    last = fit.final
    x, w = last.candidates[last.accepted, 0], last.weights[last.accepted]
    eps = last.epsilon
    assert eps < 0.7 * fit.gens[0].epsilon
    mean = float(np.sum(w * x))
    sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
    assert mean == pytest.approx(XBAR, abs=0.15 * POST_SD)
    assert sd == pytest.approx(POST_SD * math.sqrt(1 + eps ** 2 / 3), rel=0.15)
    q05, q95 = weighted_quantile(x, w, [0.05, 0.95])
    assert q05 == pytest.approx(_abc_posterior_quantile(0.05, eps), abs=0.25 * POST_SD)
    assert q95 == pytest.approx(_abc_posterior_quantile(0.95, eps), abs=0.25 * POST_SD)
    assert last.ess >= 100
    # the emulator learnt the noise of the simulator (a sd of POST_SD)
    assert math.sqrt(fit.emulator.groups[0].gps[0].noise) == pytest.approx(POST_SD, rel=0.35)
    # the medoid is a particle near the posterior median
    k = posterior_medoid(last.candidates[last.accepted], w)
    assert abs(x[k] - weighted_quantile(x, w, [0.5])[0]) < 0.05 * POST_SD


# ----------------------------------------------------------------------------- settings
def test_a_bad_emulator_setting_names_the_field_and_its_range(tmp_path):
    with pytest.raises(ConfigError, match=r"'emulator\.particles'.*whole number in \[100, 20000\].*got 5"):
        EmulatorSettings(particles=5)
    with pytest.raises(ConfigError, match=r"'emulator\.kernel'.*one of \['matern52', 'sqexp'\]"):
        EmulatorSettings.from_mapping({"kernel": "rbf"})
    with pytest.raises(ConfigError, match=r"'emulator\.pca_variance'.*\(0\.0, 1\.0\]"):
        EmulatorSettings(pca_variance=1.5)
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['design'\]"):
        EmulatorSettings.from_mapping({"design": 3})
    spec = load_calibration_spec("baseline_emulated")
    assert EmulatorSettings.from_mapping(spec.emulator).planned_runs(spec) <= spec.budget
    text = (tmp_path / "c.yaml")
    text.write_text("base: baseline\nbudget: 700\nparameters:\n  environment.base_inflow_per_day: [150, 450]\n"
                    "emulator:\n  waves: 0\n")
    with pytest.raises(ConfigError, match=r"'emulator\.waves'.*\[1, 10\].*got 0"):
        load_calibration_spec(text)
    with pytest.raises(ConfigError, match=r"'budget'.*needs 10020 real runs"):   # 5000 x 2 + (1 + 4) x 4
        CalibrationSpec(parameters=(Prior("environment.base_inflow_per_day", 150, 450),), budget=700,
                        emulator={"design_points": 5000, "waves": 1, "check_draws": 0})


def test_the_shipped_point_is_the_best_real_candidate_of_a_small_emulated_calibration(tmp_path, monkeypatch):
    """End to end on the real model (two parameters, two months): the candidates for the shipped
    point are the posterior medoid and the select_top particles closest on the emulator, each run
    select_replications times; the chosen one has the fewest targets missed, then the smallest
    distance, and its values are the summary's and calibrated.yaml's."""
    import json

    import pandas as pd
    import yaml

    import sim.calibration.emulated as emulated
    from sim.calibration.abc import CalibrationSpec, Prior
    from sim.calibration.emulated import calibrate_emulated

    monkeypatch.setattr(emulated, "CHECK_EMULATED_DRAWS", 20)      # the check's intervals: fewer draws here

    spec = CalibrationSpec(parameters=(Prior("environment.base_inflow_per_day", 100.0, 260.0),
                                       Prior("gangs.max_fill_wait_days", 2, 14)),
                           overrides={"end_date": "2022-02-28"}, particles=4, replications=1, budget=40,
                           select_top=2, select_replications=2, seed=5, name="tiny_emulated",
                           targets=("arrivals_2022", "monthly_arrivals", "prevented_share"),
                           emulator={"design_points": 8, "waves": 1, "particles": 100, "generations": 1,
                                     "wave_particles": 50, "wave_generations": 1, "check_draws": 2, "restarts": 0,
                                     "abc_initial_factor": 2, "abc_proposal_factor": 2})
    res = calibrate_emulated(spec, tmp_path / "cal", executor="serial", progress=False)
    check = pd.read_csv(tmp_path / "cal" / "emulator_check.csv")
    cands = check[check["candidate"].str.startswith(("posterior medoid", "closest particle"))]
    assert len(cands) == 3 and (cands["runs"] == 2).all()
    assert check["chosen"].sum() == 1 and check.loc[check["chosen"], "candidate"].iloc[0] in set(cands["candidate"])
    best = cands.sort_values(["targets_missed", "distance"], kind="stable").iloc[0]
    assert bool(check.loc[best.name, "chosen"])
    summary = json.loads((tmp_path / "cal" / "summary.json").read_text())
    assert summary["chosen"] == res.chosen and summary["chosen_from"].startswith(best["candidate"])
    assert isinstance(res.chosen["gangs.max_fill_wait_days"], int)
    assert res.chosen["environment.base_inflow_per_day"] == pytest.approx(best["environment.base_inflow_per_day"])
    assert summary["runs"] == 8 + 3 * 2 + 2
    written = yaml.safe_load((tmp_path / "cal" / "calibrated.yaml").read_text())
    assert written["gangs"]["max_fill_wait_days"] == res.chosen["gangs.max_fill_wait_days"]
