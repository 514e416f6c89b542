"""The shipped data: the loader reproduces the published yearly totals."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.calibration import load_daily, load_published, observed

# Yearly totals (people, boats) as published in sim/data/README.md
PUBLISHED = {2018: (299, 43), 2019: (1843, 164), 2020: (8462, 641), 2021: (28526, 1034),
             2022: (45755, 1110), 2023: (29437, 602), 2024: (36816, 695), 2025: (25436, 431)}


def test_yearly_totals_equal_the_published_ones():
    yearly = observed("yearly")
    for year, (people, boats) in PUBLISHED.items():
        row = yearly.loc[pd.Timestamp(f"{year}-01-01")]
        assert (row["people"], row["boats"]) == (people, boats), year


def test_daily_series_is_complete_and_ends_before_the_pilot():
    d = load_daily()
    assert d.index[0] == pd.Timestamp("2018-01-01") and d.index[-1] == pd.Timestamp("2025-07-31")
    assert len(d) == (d.index[-1] - d.index[0]).days + 1
    assert d.loc["2022-09-03", "people"] == 1305  # the busiest day


def test_frequencies_add_up_and_shares_are_shares():
    monthly, weekly = observed("monthly", "2022-01-01", "2024-12-31"), observed("weekly", "2022-01-03", "2024-12-29")
    assert monthly["people"].sum() == sum(PUBLISHED[y][0] for y in (2022, 2023, 2024))
    assert weekly["days"].eq(7).all()
    assert monthly["crossing_day_share"].between(0, 1).all()
    assert observed("yearly").loc["2022-01-01", "people_per_boat"] == pytest.approx(41.2, abs=0.05)
    with pytest.raises(ValueError, match="freq must be one of"):
        observed("hourly")


def test_published_figures_have_sources():
    pub = load_published()
    assert {"quantity", "low", "high", "source"} <= set(pub.columns)
    assert pub["source"].str.len().gt(5).all() and (pub["low"] <= pub["high"]).all()
