"""The observed data: the Home Office small-boat series and published figures.

``load_daily()`` reads the daily series (UK Home Office; compiled by The National;
CC-BY-4.0, see ``sim/data/README.md``). The series shipped in ``sim/data/`` is read-only
package data; ``channel-sim data update FILE.csv`` (:mod:`sim.calibration.update`) merges
a newer copy into the user data directory (:func:`data_dir`), and from then on
:func:`daily_path` names that file and every reader (the targets, the future inflow, the
calibration) sees the newer series; ``channel-sim data reset`` returns to the shipped
file. ``observed(freq)`` gives the series daily, weekly, monthly or yearly, with people,
boats, people per boat, days with any crossing and the share of such days.
"""

from __future__ import annotations

import io
import os
import re
import sys
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError

__all__ = ["load_daily", "load_published", "observed", "FREQUENCIES", "DataError", "DAILY_FILE", "COLUMNS",
           "FIRST_DAY", "MAX_COUNT", "SHIPPED_DAILY", "data_dir", "daily_path", "last_data_day", "read_daily", "read_series", "clear_cache"]

FREQUENCIES = {"daily": "D", "weekly": "W-SUN", "monthly": "MS", "yearly": "YS"}

#: The file name of the daily series, shipped and in the user data directory.
DAILY_FILE = "small_boats_daily.csv"
#: Its columns, in the order written.
COLUMNS = ("date", "migrants_arrived", "boats_arrived")
#: The first day of the series; every series in use starts here and has no gap.
FIRST_DAY = pd.Timestamp("2018-01-01")
#: The shipped (read-only) series.
SHIPPED_DAILY = files("sim") / "data" / DAILY_FILE

_RENAME = {"migrants_arrived": "people", "boats_arrived": "boats"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_COUNT = re.compile(r"\d+(\.0*)?")   # a whole number >= 0 ("12" or "12.0")
#: The largest count of a day accepted (the busiest day so far: 1,305 people).
MAX_COUNT = 100_000
_SHOW = 5                            # bad values named in an error


class DataError(ConfigError):
    """A data file that cannot be used; the message names the file, and the line and column."""


def data_dir() -> Path:
    """The user data directory: ``$CHANNEL_SIM_DATA_DIR``, else ``$XDG_DATA_HOME/channel-sim``,
    else ``~/.local/share/channel-sim``. It need not exist."""
    env = os.environ.get("CHANNEL_SIM_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "channel-sim"


def daily_path() -> Path:
    """The daily series in use: ``<data dir>/small_boats_daily.csv`` if present, else the shipped file."""
    user = data_dir() / DAILY_FILE
    return user if user.is_file() else Path(str(SHIPPED_DAILY))


def _fail(path: Any, line: int, column: str, values: pd.Series, what: str, accepted: str) -> DataError:
    """An error naming the first bad line (and how many there are) of ``column``."""
    first = f"line {line}, column '{column}': {what}"
    more = f" ({len(values)} bad lines in all, the first {_SHOW}: lines " \
           f"{', '.join(str(i) for i in values.index[:_SHOW])})" if len(values) > 1 else ""
    return DataError(f"{path}: {first}{more}; accepted: {accepted}")


def read_daily(path: str | os.PathLike[str] | Any, *, sort: bool = False, name: str | None = None,
               latest: pd.Timestamp | None = None) -> pd.DataFrame:
    """Read and check a daily series file; ``people`` and ``boats`` (int64) by ``date``.

    The file has the columns ``date,migrants_arrived,boats_arrived`` (in any order, no
    other), one row per day: dates ``YYYY-MM-DD`` from 2018-01-01, each once, in increasing
    order (with ``sort=True`` any order: the rows are sorted), none after ``latest`` if
    given, and whole-number counts from 0 to :data:`MAX_COUNT`. The days need not be
    contiguous here (see :func:`gaps`).

    Raises
    ------
    DataError
        Naming the file (or ``name``), the line of the file (the header is line 1) and the
        column of the first bad value, how many there are, and what is accepted.
    """
    where = name or str(path)
    try:
        if hasattr(path, "read_bytes"):
            raw = path.read_bytes()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except FileNotFoundError:
        raise DataError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{where}: is a directory, not a CSV file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where}: not a text (UTF-8) CSV file ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise DataError(f"{where}: empty file; expected the header {','.join(COLUMNS)} and one row per day")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{where}: not a readable CSV file ({str(exc).strip()})") from None
    cols = [str(c).strip() for c in df.columns]
    missing = [c for c in COLUMNS if c not in cols]
    extra = [c for c in cols if c not in COLUMNS]
    if missing or extra or len(set(cols)) != len(cols):
        parts = ([f"missing column(s) {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected column(s) {', '.join(extra)}"] if extra else []) + \
                (["a column is repeated"] if len(set(cols)) != len(cols) else [])
        raise DataError(f"{where}: {'; '.join(parts)} (the header is: {','.join(cols)}); "
                        f"accepted: exactly the columns {','.join(COLUMNS)}")
    df.columns = cols
    if df.empty:
        raise DataError(f"{where}: no rows; expected one row per day after the header")
    df.index = pd.RangeIndex(2, len(df) + 2)          # the line of the file (header: line 1)
    df = df.apply(lambda s: s.str.strip())

    text_dates = df["date"]
    dates = pd.to_datetime(text_dates.where(text_dates.str.fullmatch(_DATE)), format="%Y-%m-%d", errors="coerce")
    bad = text_dates[dates.isna()]
    if len(bad):
        raise _fail(where, bad.index[0], "date", bad, f"'{bad.iloc[0]}' is not a date",
                    "a date YYYY-MM-DD, e.g. 2025-08-01")
    early = text_dates[dates < FIRST_DAY]
    if len(early):
        raise _fail(where, early.index[0], "date", early, f"{early.iloc[0]} is before the series starts",
                    f"dates from {FIRST_DAY.date()} on")
    if latest is not None:
        late = text_dates[dates > latest]
        if len(late):
            raise _fail(where, late.index[0], "date", late, f"{late.iloc[0]} is in the future",
                        f"dates from {FIRST_DAY.date()} to {latest.date()}")
    dup = dates[dates.duplicated(keep=False)]
    if len(dup):
        first = dup.iloc[0]
        lines = dup.index[dup == first]
        n_days = dup.nunique()
        raise DataError(f"{where}: line {lines[1]}, column 'date': {first.date()} is repeated (lines "
                        f"{', '.join(map(str, lines[:_SHOW]))}); {n_days} date(s) occur more than once; "
                        "accepted: each date once")
    out = {}
    for col in COLUMNS[1:]:
        s = df[col]
        whole = s.str.fullmatch(_COUNT)
        digits = s.str.replace(r"\.0*$", "", regex=True)
        bad = s[~whole | (whole & (digits.str.len() > len(str(MAX_COUNT))))]
        if not len(bad):
            bad = s[digits.astype("int64") > MAX_COUNT]
        if len(bad):
            v = bad.iloc[0]
            what = "empty" if v == "" else f"'{v}' is not a whole number from 0 to {MAX_COUNT:,}"
            raise _fail(where, bad.index[0], col, bad, what,
                        f"a whole number from 0 to {MAX_COUNT:,} (people or boats that day)")
        out[_RENAME[col]] = digits.astype("int64").to_numpy()
    result = pd.DataFrame(out, index=pd.DatetimeIndex(dates.to_numpy(), name="date"))
    if not result.index.is_monotonic_increasing:
        if not sort:
            pos = int(np.flatnonzero(np.diff(result.index.to_numpy()) < np.timedelta64(0, "D"))[0]) + 1
            raise DataError(f"{where}: line {pos + 2}, column 'date': {result.index[pos].date()} comes after "
                            f"{result.index[pos - 1].date()}; accepted: dates in increasing order")
        result = result.sort_index()
    return result


def gaps(index: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The missing stretches (first, last missing day) of a sorted daily index."""
    if len(index) < 2:
        return []
    step = np.diff(index.to_numpy()).astype("timedelta64[D]").astype(int)
    at = np.flatnonzero(step > 1)
    return [(index[i] + pd.Timedelta(days=1), index[i + 1] - pd.Timedelta(days=1)) for i in at]


def describe_gaps(found: list[tuple[pd.Timestamp, pd.Timestamp]]) -> str:
    """``2024-03-04..2024-03-06 (3 days), ...`` for the first few gaps, and how many."""
    shown = ", ".join(f"{a.date()}..{b.date()} ({(b - a).days + 1} days)" if a != b else f"{a.date()} (1 day)"
                      for a, b in found[:_SHOW])
    return f"{len(found)} gap(s): {shown}" + (", ..." if len(found) > _SHOW else "")


def read_series(path: str | os.PathLike[str] | Any, *, hint: str = "") -> pd.DataFrame:
    """Read a stored series (:func:`read_daily`) and check it is whole: every day from 2018-01-01.

    ``hint`` is appended to an error message (e.g. how to return to the shipped file).
    """
    try:
        df = read_daily(path)
    except DataError as exc:
        raise DataError(f"{exc}{hint}") from None
    if df.index[0] != FIRST_DAY:
        raise DataError(f"{path}: line 2, column 'date': the series starts on {df.index[0].date()}; "
                        f"accepted: a series from {FIRST_DAY.date()}{hint}")
    found = gaps(df.index)
    if found:
        raise DataError(f"{path}: column 'date': days are missing, {describe_gaps(found)}; accepted: one row for "
                        f"every day from {FIRST_DAY.date()}{hint}")
    return df


#: Appended to the error about a bad file in the user data directory.
RESET_HINT = " (fix or remove it, or run `channel-sim data reset` to use the shipped data)"


@lru_cache(maxsize=1)
def _daily() -> pd.DataFrame:
    path = daily_path()
    return read_series(path, hint="" if path == Path(str(SHIPPED_DAILY)) else RESET_HINT)


def clear_cache() -> None:
    """Forget the series read (and the targets built from it): the next reader reads the file in use."""
    _daily.cache_clear()
    targets = sys.modules.get("sim.calibration.targets")
    for name in ("default_targets", "all_targets"):
        fn = getattr(targets, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()


def load_daily() -> pd.DataFrame:
    """Daily ``people`` and ``boats`` arriving in the UK, one row per day from 2018-01-01.

    The shipped series ends on 2025-07-31; after ``channel-sim data update`` it ends on
    the last day of the newer file (:func:`last_data_day`; the file: :func:`daily_path`).
    """
    return _daily().copy()


def last_data_day() -> pd.Timestamp:
    """The last day of the daily series in use (2025-07-31 for the shipped file)."""
    return pd.Timestamp(_daily().index[-1])


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
