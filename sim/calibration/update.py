"""Newer data in one command: ``channel-sim data update FILE.csv | status | reset``.

The Home Office daily small-boat series shipped in ``sim/data/small_boats_daily.csv`` is
read-only package data. :func:`update_daily` merges a newer copy (the same columns:
``date,migrants_arrived,boats_arrived``) with the series in use and stores the result in
the user data directory (:func:`data_dir`: ``$CHANNEL_SIM_DATA_DIR``, else
``$XDG_DATA_HOME/channel-sim``, else ``~/.local/share/channel-sim``), where the loader
(:func:`sim.calibration.data.load_daily`), and so the targets, the future inflow and the
calibration, find it. Days present in both must agree: a conflict is an error naming the
dates, and nothing is written. :func:`status` says which file is in use; :func:`reset`
removes the stored copy (the shipped file is used again).

Examples::

    channel-sim data update ~/Downloads/small_boats_daily.csv
    channel-sim data update newer.csv --dry-run       # check and say what would change
    channel-sim data status
    channel-sim data reset
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration import data as _data
from sim.calibration.data import (
    COLUMNS,
    DAILY_FILE,
    FIRST_DAY,
    RESET_HINT,
    SHIPPED_DAILY,
    DataError,
    clear_cache,
    data_dir,
    describe_gaps,
    gaps,
    read_daily,
    read_series,
)

__all__ = ["DataConflictError", "DataError", "DataStatus", "UpdateReport", "data_dir", "merge_daily",
           "register", "reset", "status", "update_daily"]

_SHOW = 5   # conflicting dates named in an error


class DataConflictError(DataError):
    """Days present in both series disagree; ``dates`` lists them all."""

    def __init__(self, message: str, dates: list[pd.Timestamp]):
        super().__init__(message)
        self.dates = dates


def _span(first: pd.Timestamp, last: pd.Timestamp) -> str:
    return f"{first.date()}..{last.date()}"


@dataclasses.dataclass(frozen=True)
class UpdateReport:
    """What a merge changed (or would change, for a dry run)."""

    old_start: pd.Timestamp
    old_end: pd.Timestamp
    start: pd.Timestamp                 # the merged series
    end: pd.Timestamp
    rows: int                           # days in the merged series
    added_days: int
    added_first: pd.Timestamp | None
    added_last: pd.Timestamp | None
    added_people: int
    added_boats: int
    overlap_days: int                   # days in both series (all agree)
    source: str = "the new series"     # the file merged
    path: Path | None = None            # the file written (None: nothing written)

    @property
    def changed(self) -> bool:
        return self.added_days > 0

    def format(self) -> str:
        agree = f"the {self.overlap_days:,} overlapping days agree" if self.overlap_days else "no overlapping days"
        if not self.changed:
            return (f"nothing to add: {self.source} has no day the data in use "
                    f"({_span(self.old_start, self.old_end)}) lack; {agree}; nothing was changed")
        assert self.added_first is not None and self.added_last is not None
        added = (f"added {_span(self.added_first, self.added_last)} ({self.added_days:,} days, "
                 f"{self.added_people:,} people, {self.added_boats:,} boats)")
        now = f"series {_span(self.start, self.end)} ({self.rows:,} days)"
        where = f" -> {self.path}" if self.path is not None else " (not written: a dry run)"
        return f"{added}; {agree}; {now}{where}"

    __str__ = format


@dataclasses.dataclass(frozen=True)
class DataStatus:
    """The daily series in use."""

    path: Path
    shipped: bool
    start: pd.Timestamp
    end: pd.Timestamp
    rows: int
    people: int
    boats: int
    data_dir: Path
    modified: dt.datetime | None = None   # of the updated copy

    def format(self) -> str:
        if self.shipped:
            what = f"the shipped file (no updated copy in {self.data_dir})"
        else:
            when = f", updated {self.modified:%Y-%m-%d %H:%M}" if self.modified else ""
            what = f"an updated copy{when} (`channel-sim data reset` returns to the shipped file)"
        return (f"in use: {self.path}\n  {what}\n"
                f"  dates: {_span(self.start, self.end)} (every day)\n"
                f"  rows: {self.rows:,}; people: {self.people:,}; boats: {self.boats:,}")

    __str__ = format


def _conflict_text(a: pd.Series, b: pd.Series, column: str) -> str:
    return f"{column} {int(a)} in the new file, {int(b)} in use"


def merge_daily(old: pd.DataFrame, new: pd.DataFrame, *, new_name: str = "the new series",
                old_name: str = "the data in use") -> tuple[pd.DataFrame, UpdateReport]:
    """Merge ``new`` into ``old`` (both as :func:`~sim.calibration.data.load_daily` gives them).

    ``new`` must have no gap and must overlap or adjoin ``old``; the days in both must
    agree; the merged series has every day from 2018-01-01. ``old`` and ``new`` are not
    changed.

    Raises
    ------
    DataConflictError
        If days in both disagree (the message names the first few and how many).
    DataError
        If ``new`` has a gap, leaves a gap after ``old``, or the merged series does not
        start on 2018-01-01.
    """
    for frame, name in ((old, old_name), (new, new_name)):
        if list(frame.columns) != ["people", "boats"] or not isinstance(frame.index, pd.DatetimeIndex):
            raise TypeError(f"{name}: expected a frame as load_daily() gives it (people, boats by date)")
        if len(frame) == 0:
            raise DataError(f"{name}: no rows")
        if frame.index.has_duplicates or not frame.index.is_monotonic_increasing:
            raise DataError(f"{name}: dates repeated or not in increasing order")
    found = gaps(new.index)
    if found:
        raise DataError(f"{new_name}: column 'date': days are missing inside the file, {describe_gaps(found)}; "
                        "accepted: one row for every day from the first date of the file to its last")
    if new.index[0] > old.index[-1] + pd.Timedelta(days=1) or new.index[-1] < old.index[0] - pd.Timedelta(days=1):
        raise DataError(f"{new_name}: runs {_span(new.index[0], new.index[-1])}, which leaves a gap next to "
                        f"{old_name} ({_span(old.index[0], old.index[-1])}); accepted: a file that overlaps "
                        f"or continues the series (first date at most {(old.index[-1] + pd.Timedelta(days=1)).date()})")
    both = old.index.intersection(new.index)
    a, b = new.loc[both], old.loc[both]
    differs = (a != b).any(axis=1)
    if differs.any():
        bad = list(both[differs.to_numpy()])
        shown = "; ".join(
            f"{d.date()} (" + ", ".join(_conflict_text(a.at[d, c], b.at[d, c], c)
                                        for c in ("people", "boats") if a.at[d, c] != b.at[d, c]) + ")"
            for d in bad[:_SHOW])
        more = f"; ... ({len(bad) - _SHOW} more)" if len(bad) > _SHOW else ""
        raise DataConflictError(
            f"{new_name} disagrees with {old_name} on {len(bad):,} of the {len(both):,} overlapping days "
            f"({f'from {bad[0].date()} to {bad[-1].date()}' if len(bad) > 1 else bad[0].date()}): {shown}{more}; "
            "nothing was changed", bad)
    added = new.loc[new.index.difference(old.index)]
    merged = pd.concat([old, added]).sort_index()
    merged.index.name = old.index.name
    if merged.index[0] != FIRST_DAY:
        raise DataError(f"{new_name}: the merged series would start on {merged.index[0].date()}; accepted: a "
                        f"series from {FIRST_DAY.date()}")
    found = gaps(merged.index)
    if found:   # not reachable from contiguous inputs that touch; a guard
        raise DataError(f"{new_name}: the merged series would have {describe_gaps(found)}")
    report = UpdateReport(
        old_start=old.index[0], old_end=old.index[-1], start=merged.index[0], end=merged.index[-1],
        rows=len(merged), added_days=len(added),
        added_first=added.index[0] if len(added) else None, added_last=added.index[-1] if len(added) else None,
        added_people=int(added["people"].sum()), added_boats=int(added["boats"].sum()),
        overlap_days=len(both), source=new_name)
    return merged, report


def to_csv_text(df: pd.DataFrame) -> str:
    """The series as the shipped file writes it: ``date,migrants_arrived,boats_arrived``, one line a day."""
    lines = [",".join(COLUMNS)]
    lines += [f"{d:%Y-%m-%d},{p},{b}" for d, p, b in
              zip(df.index, df["people"].to_numpy(), df["boats"].to_numpy(), strict=True)]
    return "\n".join(lines) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):   # make the rename durable where directories can be synced
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _dir(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory).expanduser() if directory is not None else data_dir()


def _current(directory: Path) -> tuple[Path, pd.DataFrame]:
    """The stored series of ``directory`` (else the shipped one), checked."""
    user = directory / DAILY_FILE
    if user.is_file():
        return user, read_series(user, hint=RESET_HINT)
    shipped = Path(str(SHIPPED_DAILY))
    return shipped, read_series(shipped)


def update_daily(path: str | os.PathLike[str], *, data_dir: str | os.PathLike[str] | None = None,
                 dry_run: bool = False) -> UpdateReport:
    """Merge the daily series in ``path`` into the data in use and store it in the data directory.

    The series in use is ``<data_dir>/small_boats_daily.csv`` if present, else the shipped
    file; the merged series replaces ``<data_dir>/small_boats_daily.csv`` atomically, and
    the loader's cache is cleared. Nothing is written if nothing is added or ``dry_run``.

    Raises
    ------
    DataError
        If the file is not a valid daily series (naming the line, column and what is
        accepted), has gaps, or leaves a gap after the data in use.
    DataConflictError
        If days in both disagree; the stored data are kept as they were.
    """
    directory = _dir(data_dir)
    old_path, old = _current(directory)
    new = read_daily(path, sort=True, latest=pd.Timestamp(dt.date.today()))
    merged, report = merge_daily(old, new, new_name=str(path), old_name=f"the data in use ({old_path})")
    if not report.changed or dry_run:
        return report
    target = directory / DAILY_FILE
    _write_atomic(target, to_csv_text(merged))
    clear_cache()
    return dataclasses.replace(report, path=target)


def status(*, data_dir: str | os.PathLike[str] | None = None) -> DataStatus:
    """The daily series in use: its file, whether it is the shipped one, its dates and totals.

    Raises
    ------
    DataError
        If the file in use is not a valid series (the message names it).
    """
    directory = _dir(data_dir)
    path, df = _current(directory)
    shipped = path == Path(str(SHIPPED_DAILY))
    modified = None if shipped else dt.datetime.fromtimestamp(path.stat().st_mtime)
    return DataStatus(path=path, shipped=shipped, start=df.index[0], end=df.index[-1], rows=len(df),
                      people=int(df["people"].sum()), boats=int(df["boats"].sum()), data_dir=directory,
                      modified=modified)


def reset(*, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Remove the updated copy (and any temporary file of an interrupted update) from the data
    directory, so the shipped file is used again; the directory goes too if it is then empty
    and is the default one. Returns the file removed, or None if there was none."""
    directory = _dir(data_dir)
    target = directory / DAILY_FILE
    removed = None
    if target.is_file() or target.is_symlink():
        target.unlink()
        removed = target
    if directory.is_dir():
        for tmp in directory.glob(f".{DAILY_FILE}.*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()
        default = data_dir is None and not os.environ.get("CHANNEL_SIM_DATA_DIR")
        if default:
            with contextlib.suppress(OSError):   # not empty: keep it
                directory.rmdir()
    clear_cache()
    return removed


# ----------------------------------------------------------------------------- the command line
def _error(exc: BaseException) -> int:
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | IsADirectoryError):
        where = f"{exc.filename}: " if exc.filename else ""
        msg = f"{where}{exc.strerror or exc}"
    else:
        msg = str(exc)
    print(f"channel-sim: error: {msg}", file=sys.stderr)
    return 2


def _cmd_data_update(args: argparse.Namespace) -> int:
    try:
        report = update_daily(args.file, dry_run=args.dry_run)
    except (DataError, OSError) as exc:
        return _error(exc)
    print(report.format())
    return 0


def _cmd_data_status(args: argparse.Namespace) -> int:  # noqa: ARG001 - handler signature
    try:
        st = status()
    except (DataError, OSError) as exc:
        return _error(exc)
    print(st.format())
    return 0


def _cmd_data_reset(args: argparse.Namespace) -> int:  # noqa: ARG001 - handler signature
    try:
        removed = reset()
    except OSError as exc:
        return _error(exc)
    shipped = Path(str(SHIPPED_DAILY))
    if removed is None:
        print(f"nothing to reset: the shipped file is in use ({shipped})")
    else:
        print(f"removed {removed}; the shipped file is in use again ({shipped}, to "
              f"{_data.last_data_day().date()})")
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``data`` command (``update FILE``, ``status``, ``reset``) to ``channel-sim``'s subparsers."""
    where = "$CHANNEL_SIM_DATA_DIR, else $XDG_DATA_HOME/channel-sim, else ~/.local/share/channel-sim"
    d = subparsers.add_parser("data", help="update the Home Office daily series from a newer file; show the file "
                                           "in use; return to the shipped file",
                              description=f"The updated series is stored in the user data directory ({where}).")
    d_sub = d.add_subparsers(dest="data_command", required=True)
    u = d_sub.add_parser("update", help="merge a newer daily series (date,migrants_arrived,boats_arrived) into "
                                        "the data in use; overlapping days must agree")
    u.add_argument("file", metavar="FILE.csv", help="the newer series, e.g. a download of the shipped file's source")
    u.add_argument("--dry-run", action="store_true", help="check the file and say what would change; write nothing")
    u.set_defaults(func=_cmd_data_update)
    s = d_sub.add_parser("status", help="print the file in use, its date range and rows")
    s.set_defaults(func=_cmd_data_status)
    r = d_sub.add_parser("reset", help="remove the updated copy: use the shipped file again")
    r.set_defaults(func=_cmd_data_reset)
    return d

