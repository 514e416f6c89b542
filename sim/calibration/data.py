"""The observed data: the Home Office small-boat series and published figures.

``load_daily()`` reads the daily series shipped in ``sim/data/`` (UK Home Office;
compiled by The National; CC-BY-4.0, see ``sim/data/README.md``). ``observed(freq)``
gives it daily, weekly, monthly or yearly, with people, boats, people per boat, days
with any crossing and the share of such days.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import pandas as pd

__all__ = ["load_daily", "load_published", "observed", "FREQUENCIES"]

FREQUENCIES = {"daily": "D", "weekly": "W-SUN", "monthly": "MS", "yearly": "YS"}


@lru_cache(maxsize=1)
def _daily() -> pd.DataFrame:
    path = files("sim") / "data" / "small_boats_daily.csv"
    df = pd.read_csv(path, parse_dates=["date"]).set_index("date").sort_index()
    df = df.rename(columns={"migrants_arrived": "people", "boats_arrived": "boats"}).astype("int64")
    if df.index.has_duplicates or (df < 0).any().any():
        raise ValueError(f"{path}: duplicate dates or negative counts")
    return df


def load_daily() -> pd.DataFrame:
    """Daily ``people`` and ``boats`` arriving in the UK, 2018-01-01 to 2025-07-31."""
    return _daily().copy()


def observed(freq: str = "monthly", start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """The series at a frequency: people, boats, people per boat, crossing days and their share.

    Parameters
    ----------
    freq
        ``daily``, ``weekly``, ``monthly`` or ``yearly``.
    start, end
        Optional date bounds (inclusive), e.g. ``"2022-01-01"``.

    Raises
    ------
    ValueError
        If ``freq`` is not one of the four.
    """
    if freq not in FREQUENCIES:
        raise ValueError(f"freq must be one of {list(FREQUENCIES)}, got {freq!r}")
    d = load_daily().loc[start:end]
    d = d.assign(crossing_day=(d["people"] > 0).astype("int64"), days=1)
    if freq != "daily":
        d = d.resample(FREQUENCIES[freq]).sum()
    out = d[["people", "boats", "crossing_day", "days"]].rename(columns={"crossing_day": "crossing_days"})
    out["people_per_boat"] = out["people"] / out["boats"].where(out["boats"] > 0)
    out["crossing_day_share"] = out["crossing_days"] / out["days"]
    return out


def load_published() -> pd.DataFrame:
    """Published figures (quantity, period, low, high, unit, source) used as targets."""
    return pd.read_csv(files("sim") / "data" / "published_figures.csv")
