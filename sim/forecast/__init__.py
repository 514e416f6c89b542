"""Honest forecasts of monthly small-boat arrivals: scores, benchmarks, rolling origins.

* :mod:`sim.forecast.scores` - coverage, interval score, CRPS of predictive samples.
* :mod:`sim.forecast.benchmarks` - seasonal-naive and Poisson-random-walk forecasters.
* :mod:`sim.forecast.rolling` - forecast from several origins and score each window.
"""

from sim.forecast.benchmarks import poisson_random_walk, seasonal_naive
from sim.forecast.rolling import (
    monthly_forecast_table,
    plot_rolling,
    rolling_forecasts,
    rolling_origin,
)
from sim.forecast.scores import coverage, crps_samples, interval_score, quantile_bands, score_table

#: The origins of the reported rolling-origin forecasts (month ends).
ORIGINS = ("2023-07-31", "2024-01-31", "2024-07-31")

#: The statistical benchmarks, by name.
BENCHMARKS = {"seasonal naive": seasonal_naive, "Poisson random walk": poisson_random_walk}

__all__ = [
    "BENCHMARKS",
    "ORIGINS",
    "coverage",
    "crps_samples",
    "interval_score",
    "monthly_forecast_table",
    "plot_rolling",
    "poisson_random_walk",
    "quantile_bands",
    "rolling_forecasts",
    "rolling_origin",
    "score_table",
    "seasonal_naive",
]
