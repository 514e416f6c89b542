"""sim.forecast: scores, the two statistical benchmarks and the rolling-origin harness."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.calibration.data import load_daily
from sim.forecast import BENCHMARKS, ORIGINS
from sim.forecast.benchmarks import (
    fit_local_level,
    poisson_random_walk,
    seasonal_naive,
    weekly_history,
)
from sim.forecast.rolling import (
    monthly_forecast_table,
    plot_rolling,
    rolling_forecasts,
    rolling_origin,
)
from sim.forecast.scores import coverage, crps_samples, interval_score, quantile_bands, score_table


@pytest.fixture(scope="module")
def daily() -> pd.DataFrame:
    return load_daily()


@pytest.fixture(scope="module")
def shipped(daily):
    return rolling_forecasts(BENCHMARKS, daily, ORIGINS, horizon_months=12, n_samples=1000, seed=12)


# ---------------------------------------------------------------------------- scores


def test_crps_of_a_point_mass_is_the_absolute_error():
    samples = np.array([[3.0, -1.0, 10.0]])
    obs = np.array([5.0, -1.0, 2.5])
    np.testing.assert_allclose(crps_samples(samples, obs), np.abs(samples[0] - obs))
    # the same value repeated is still a point mass
    np.testing.assert_allclose(crps_samples(np.repeat(samples, 50, axis=0), obs), np.abs(samples[0] - obs))


def test_crps_matches_brute_force_energy_form():
    rng = np.random.default_rng(1)
    x = rng.gamma(2.0, 3.0, size=(200, 4))
    y = np.array([0.5, 6.0, 20.0, 3.0])
    brute = np.abs(x - y).mean(axis=0) - 0.5 * np.abs(x[:, None, :] - x[None, :, :]).mean(axis=(0, 1))
    np.testing.assert_allclose(crps_samples(x, y), brute, rtol=1e-12)


def test_crps_of_a_large_normal_sample_matches_the_closed_form():
    rng = np.random.default_rng(2)
    mu, sigma = 3.0, 2.0
    y = np.array([3.0, 0.0, 8.0, -4.0])
    x = rng.normal(mu, sigma, size=(200_000, 1)).repeat(y.size, axis=1)
    z = (y - mu) / sigma
    exact = sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))
    np.testing.assert_allclose(crps_samples(x, y), exact, rtol=0.01)


def test_interval_score_by_hand():
    lo, hi, obs = [10.0, 10.0, 10.0], [20.0, 20.0, 20.0], [15.0, 5.0, 26.0]
    # widths 10 each; penalties (2 / 0.1) * 5 = 100 below and (2 / 0.1) * 6 = 120 above
    assert interval_score(lo, hi, obs, alpha=0.1) == pytest.approx((10 + 110 + 130) / 3)
    assert interval_score([0.0], [4.0], [6.0], alpha=0.5) == pytest.approx(4 + 4 * 2)
    with pytest.raises(ValueError):
        interval_score([2.0], [1.0], [1.5], alpha=0.1)


def test_coverage_bands_and_score_table():
    samples = np.tile(np.arange(1.0, 102.0)[:, None], (1, 4))       # 1..101: median 51
    bands = quantile_bands(samples)
    assert list(bands.columns) == ["median", "lo50", "hi50", "lo90", "hi90"]
    np.testing.assert_allclose(bands.iloc[0].to_numpy(), [51, 26, 76, 6, 96])
    obs = np.array([51.0, 80.0, 3.0, 96.0])
    assert coverage(samples, obs, 0.5) == 0.25
    assert coverage(samples, obs, 0.9) == 0.75      # 96 is on the edge: inside
    dates = pd.date_range("2024-01-01", periods=4, freq="MS")
    table = score_table(samples, obs, dates)
    assert list(table.per_month.index) == list(dates)
    s = table.summary
    assert (s["n_months"], s["coverage50"], s["coverage90"]) == (4, 0.25, 0.75)
    assert s["interval_score90"] == pytest.approx(interval_score([6] * 4, [96] * 4, obs, 0.1))
    assert s["interval_score50"] == pytest.approx(interval_score([26] * 4, [76] * 4, obs, 0.5))
    assert s["crps"] == pytest.approx(crps_samples(samples, obs).mean())
    assert s["crps_rel"] == pytest.approx(s["crps"] / obs.mean())


# ---------------------------------------------------------------------------- benchmarks


@pytest.mark.parametrize("forecaster", [seasonal_naive, poisson_random_walk], ids=["naive", "prw"])
@pytest.mark.parametrize("origin", ["2023-07-31", "2024-01-31"])
def test_forecasts_ignore_data_after_the_origin(daily, forecaster, origin):
    full = forecaster(daily, origin, 12, 300, np.random.default_rng(5))
    cut = forecaster(daily.loc[:origin], origin, 12, 300, np.random.default_rng(5))
    pd.testing.assert_frame_equal(full, cut)
    # and changing what came later changes nothing either
    altered = daily.copy()
    altered.loc[pd.Timestamp(origin) + pd.Timedelta(days=1):, "people"] = 10**6
    pd.testing.assert_frame_equal(full, forecaster(altered, origin, 12, 300, np.random.default_rng(5)))
    assert full.shape == (300, 12)
    assert full.columns[0] == pd.Timestamp(origin) + pd.Timedelta(days=1)
    assert (full.to_numpy() >= 0).all()


def test_benchmarks_refuse_a_non_month_end_origin_or_data_short_of_it(daily):
    with pytest.raises(ValueError, match="month end"):
        seasonal_naive(daily, "2024-01-15", 3, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="before the origin"):
        poisson_random_walk(daily.loc[:"2023-06-30"], "2023-07-31", 3, 10, np.random.default_rng(0))


def test_seasonal_naive_is_last_years_month_times_a_past_error(daily):
    origin = "2024-07-31"
    f = seasonal_naive(daily, origin, 12, 4000, np.random.default_rng(3), history_years=3)
    monthly = daily["people"].resample("MS").sum()
    logs = np.log1p(monthly.loc[:origin])
    errors = (logs - logs.shift(12)).dropna().iloc[-36:]
    aug = monthly["2023-08-01"]
    implied = np.log1p(f[pd.Timestamp("2024-08-01")].to_numpy()) - np.log1p(aug)
    implied = implied[f[pd.Timestamp("2024-08-01")].to_numpy() > 0]
    # every sample is last August scaled by one of the 36 past errors
    assert np.isin(np.round(implied, 9), np.round(errors.to_numpy(), 9)).all()
    assert np.median(f[pd.Timestamp("2024-08-01")]) == pytest.approx((aug + 1) * np.exp(errors.median()) - 1, rel=0.05)


def _poisson_days(rate: float, rng: np.random.Generator) -> pd.DataFrame:
    idx = pd.date_range("2021-01-01", "2023-12-31", freq="D")
    return pd.DataFrame({"people": rng.poisson(rate, idx.size)}, index=idx)


def test_local_level_fit_of_a_constant_poisson_rate_has_no_walk_and_no_extra_noise():
    days = _poisson_days(20.0, np.random.default_rng(7))
    fit = fit_local_level(weekly_history(days, "2022-12-31", history_years=2))
    assert fit.sd_level < 0.03
    assert fit.sd_extra < 0.1
    assert np.expm1(fit.level) == pytest.approx(140, rel=0.05)


def test_poisson_random_walk_coverage_is_about_nominal_on_a_constant_rate():
    rng = np.random.default_rng(11)
    cover90, cover50 = [], []
    for k in range(12):
        days = _poisson_days(20.0, rng)       # an independent series for each window
        origin = pd.Timestamp("2022-12-31") - pd.offsets.MonthEnd(k % 6)
        f = poisson_random_walk(days, origin, 6, 500, rng, history_years=2)
        obs = days["people"].resample("MS").sum().reindex(f.columns)
        cover90.append(coverage(f, obs, 0.9))
        cover50.append(coverage(f, obs, 0.5))
    assert 0.75 <= np.mean(cover90) <= 1.0
    assert 0.3 <= np.mean(cover50) <= 0.75


# ---------------------------------------------------------------------------- rolling origin


def test_rolling_origin_on_the_shipped_data(shipped):
    scores = shipped.scores
    assert len(scores) == 6
    assert set(scores["forecaster"]) == set(BENCHMARKS)
    assert (scores["n_months"] == 12).all()
    by_origin = scores.drop_duplicates("origin").set_index("origin")
    assert list(by_origin.index) == [pd.Timestamp(o) for o in ORIGINS]
    assert list(by_origin["start"]) == [pd.Timestamp(d) for d in ("2023-08-01", "2024-02-01", "2024-08-01")]
    assert list(by_origin["end"]) == [pd.Timestamp(d) for d in ("2024-07-31", "2025-01-31", "2025-07-31")]
    numeric = scores[["coverage50", "coverage90", "interval_score50", "interval_score90", "crps", "crps_rel"]]
    assert np.isfinite(numeric.to_numpy()).all()
    assert ((scores["coverage90"] >= scores["coverage50"]) & (scores["coverage90"] <= 1)).all()
    monthly = shipped.monthly
    assert len(monthly) == 6 * 12
    observed = load_daily()["people"].resample("MS").sum()
    np.testing.assert_allclose(monthly["observed"], observed.reindex(monthly["month"]).to_numpy())
    assert (monthly["lo90"] <= monthly["lo50"]).all() and (monthly["hi50"] <= monthly["hi90"]).all()


def test_rolling_origin_cuts_the_window_at_the_data_end_and_hides_the_future(daily):
    seen = {}

    def spy(past, origin, horizon_months, n_samples, rng):
        seen[pd.Timestamp(origin)] = (past.index.max(), horizon_months)
        return np.full((n_samples, horizon_months), 1000.0)

    scores = rolling_origin({"spy": spy}, daily, ["2024-07-31", "2024-12-31"], horizon_months=12, n_samples=5)
    assert seen == {pd.Timestamp("2024-07-31"): (pd.Timestamp("2024-07-31"), 12),
                    pd.Timestamp("2024-12-31"): (pd.Timestamp("2024-12-31"), 7)}
    assert list(scores["n_months"]) == [12, 7]
    assert list(scores["end"]) == [pd.Timestamp("2025-07-31")] * 2
    # a point forecast: CRPS is the mean absolute error
    obs = daily["people"].resample("MS").sum()["2025-01-01":"2025-07-01"]
    assert scores["crps"].iloc[1] == pytest.approx(np.abs(obs - 1000).mean())


def test_rolling_origin_is_reproducible_and_order_free(daily):
    prw = partial(poisson_random_walk, history_years=2)
    a = rolling_origin({"naive": seasonal_naive, "prw": prw}, daily, ORIGINS[:2], 6, 200, seed=3)
    b = rolling_origin({"prw": prw, "naive": seasonal_naive}, daily, ORIGINS[:2], 6, 200, seed=3)
    key = ["forecaster", "origin"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))
    table = monthly_forecast_table(seasonal_naive, daily, ORIGINS[:1], 6, 200, seed=3)
    assert set(table["forecaster"]) == {"seasonal_naive"} and len(table) == 6


def test_rolling_origin_rejects_wrong_shapes(daily):
    def bad(past, origin, horizon_months, n_samples, rng):
        return np.zeros((n_samples, horizon_months + 1))

    with pytest.raises(ValueError, match="samples"):
        rolling_origin(bad, daily, ["2024-07-31"], 3, 10)
    with pytest.raises(ValueError, match="no complete observed month"):
        rolling_origin(seasonal_naive, daily, ["2025-07-31"], 3, 10)


def test_plot_rolling_returns_a_figure(shipped, daily, tmp_path):
    from matplotlib.figure import Figure

    fig = plot_rolling(shipped.monthly, daily, title="rolling origins")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(ORIGINS)
    assert fig.legends and len(fig.legends[0].get_texts()) == 2 + 2 * len(BENCHMARKS)
    fig.savefig(tmp_path / "rolling.png")
    assert (tmp_path / "rolling.png").stat().st_size > 0
    fig_log = plot_rolling(shipped.monthly, log_y=True)
    assert fig_log.axes[0].get_yscale() == "log"
