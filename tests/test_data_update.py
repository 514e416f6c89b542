"""``channel-sim data update | status | reset``: newer Home Office data in the user data directory.

Every test runs against a temporary data directory (``CHANNEL_SIM_DATA_DIR``, and
``XDG_DATA_HOME``/``HOME`` for the defaults), with the loader's cache cleared before and
after, so no test sees or leaves a developer's updated data.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import pytest

from sim.calibration import data, update
from sim.calibration.data import DataError, load_daily, observed
from sim.calibration.update import (
    DataConflictError,
    merge_daily,
    register,
    reset,
    status,
    update_daily,
)

SHIPPED = Path(str(data.SHIPPED_DAILY))
REAL_DEFAULT = data.data_dir()          # the developer's data dir, read before any test changes the environment


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """A temporary, empty data directory (and XDG/HOME defaults under tmp_path); fresh caches."""
    existed = REAL_DEFAULT.exists()
    d = tmp_path / "data"
    monkeypatch.setenv("CHANNEL_SIM_DATA_DIR", str(d))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    data.clear_cache()
    yield d
    data.clear_cache()
    assert REAL_DEFAULT.exists() == existed, f"a test created or removed {REAL_DEFAULT}"


@pytest.fixture(scope="module")
def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def lines_to(text: str, last_day: str) -> str:
    """The shipped file up to and including ``last_day``."""
    lines = text.splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if line.startswith(last_day))
    return "".join(lines[:end + 1])


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def truncated(data_home, shipped_text) -> Path:
    """The shipped series up to 2024-12-31, stored as the updated copy in the data directory."""
    return write(data_home / data.DAILY_FILE, lines_to(shipped_text, "2024-12-31"))


def parser() -> argparse.ArgumentParser:
    """A parser built as sim.cli.build_parser builds its subcommands."""
    ap = argparse.ArgumentParser(prog="channel-sim")
    sub = ap.add_subparsers(dest="command", required=True)
    register(sub)
    return ap


def cli(*argv: str) -> int:
    args = parser().parse_args(list(argv))
    return args.func(args)


def shipped_frame() -> pd.DataFrame:
    df = pd.read_csv(SHIPPED, parse_dates=["date"]).set_index("date")
    return df.rename(columns={"migrants_arrived": "people", "boats_arrived": "boats"}).astype("int64")


# ----------------------------------------------------------------------------- update
def test_update_extends_a_truncated_copy_to_the_full_series(truncated, shipped_text, capsys, monkeypatch):
    assert load_daily().index[-1] == pd.Timestamp("2024-12-31")       # the loader prefers the data dir
    assert data.daily_path() == truncated
    assert cli("data", "update", str(SHIPPED)) == 0
    out = capsys.readouterr().out
    assert "added 2025-01-01..2025-07-31 (212 days, 25,436 people, 431 boats)" in out
    assert "2,557 overlapping days agree" in out and "2018-01-01..2025-07-31 (2,769 days)" in out
    assert truncated.read_text(encoding="utf-8") == shipped_text     # written as the shipped file is
    assert data.last_data_day() == pd.Timestamp("2025-07-31")         # cache cleared by the update
    d = load_daily()
    pd.testing.assert_frame_equal(d, shipped_frame(), check_freq=False)
    freqs = ("daily", "weekly", "monthly", "yearly")
    updated = {f: observed(f) for f in freqs}
    monkeypatch.setenv("CHANNEL_SIM_DATA_DIR", str(truncated.parent / "empty"))   # the shipped file
    data.clear_cache()
    assert data.daily_path() == SHIPPED
    for f in freqs:
        pd.testing.assert_frame_equal(updated[f], observed(f))
    assert sorted(p.name for p in truncated.parent.iterdir()) == [data.DAILY_FILE]   # no temp file left


def test_update_report_and_a_recent_only_file(truncated, shipped_text, tmp_path):
    """The usual download: only recent days, overlapping the data in use."""
    header, *rows = shipped_text.splitlines(keepends=True)
    recent = write(tmp_path / "recent.csv", header + "".join(r for r in rows if r >= "2024-12-01"))
    report = update_daily(recent)
    assert (report.added_first, report.added_last) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-07-31"))
    assert (report.added_days, report.added_people, report.added_boats, report.overlap_days) == (212, 25436, 431, 31)
    assert report.rows == 2769 and report.path == truncated and report.changed
    assert truncated.read_text(encoding="utf-8") == shipped_text


def test_dry_run_and_nothing_to_add_write_nothing(data_home, truncated, capsys):
    before = truncated.read_bytes()
    assert cli("data", "update", str(SHIPPED), "--dry-run") == 0
    assert "not written: a dry run" in capsys.readouterr().out
    assert truncated.read_bytes() == before
    truncated.unlink()                                                 # the shipped file is in use
    report = update_daily(SHIPPED)
    assert not report.changed and report.path is None and "nothing to add" in report.format()
    assert list(data_home.iterdir()) == []                             # nothing written


def test_update_from_the_shipped_file_makes_the_data_dir(data_home, tmp_path, shipped_text):
    header, *rows = shipped_text.splitlines(keepends=True)
    newer = "".join(rows) + "2025-08-01,10,1\n2025-08-02,0,0\n"
    report = update_daily(write(tmp_path / "newer.csv", header + newer), data_dir=data_home)
    assert report.format().startswith("added 2025-08-01..2025-08-02 (2 days, 10 people, 1 boats)")
    assert data.last_data_day() == pd.Timestamp("2025-08-02")
    assert (data_home / data.DAILY_FILE).read_text(encoding="utf-8") == header + newer


def test_unsorted_rows_and_a_byte_order_mark_are_accepted(truncated, tmp_path, shipped_text):
    header, *rows = shipped_text.splitlines(keepends=True)
    newest_first = "\ufeff" + header + "".join(reversed(rows[-400:]))
    update_daily(write(tmp_path / "desc.csv", newest_first))
    assert truncated.read_text(encoding="utf-8") == shipped_text


def test_whole_numbers_written_as_decimals_are_accepted(data_home, tmp_path, shipped_text):
    report = update_daily(write(tmp_path / "floats.csv", shipped_text + "2025-08-01,12.0,1.\n"))
    assert (report.added_days, report.added_people, report.added_boats) == (1, 12, 1)
    assert (data_home / data.DAILY_FILE).read_text(encoding="utf-8") == shipped_text + "2025-08-01,12,1\n"


def test_the_caches_are_cleared(truncated, tmp_path, shipped_text):
    from sim.calibration.targets import all_targets, default_targets

    before = load_daily()
    update_daily(SHIPPED)
    assert load_daily().index[-1] > before.index[-1]
    targets, every = default_targets(), all_targets()    # built from the series (they need 2025-01..07)
    update_daily(write(tmp_path / "newer.csv", shipped_text + "2025-08-01,5,1\n"))
    assert load_daily().index[-1] == pd.Timestamp("2025-08-01")
    assert default_targets() is not targets and all_targets() is not every


# ----------------------------------------------------------------------------- conflicts
def conflicting(text: str, changes: dict[str, str]) -> str:
    out = []
    for line in text.splitlines(keepends=True):
        day = line.split(",", 1)[0]
        out.append(f"{day},{changes[day]}\n" if day in changes else line)
    return "".join(out)


def test_a_conflict_names_the_dates_and_keeps_the_old_data(truncated, tmp_path, shipped_text, capsys):
    before = truncated.read_bytes()
    bad = write(tmp_path / "revised.csv",
                conflicting(shipped_text, {"2022-09-03": "1300,27", "2024-06-18": "900,16", "2025-03-01": "1,1"}))
    with pytest.raises(DataConflictError) as err:
        update_daily(bad)
    assert err.value.dates == [pd.Timestamp("2022-09-03"), pd.Timestamp("2024-06-18")]   # 2025-03-01 is new
    msg = str(err.value)
    assert "2 of the 2,557 overlapping days" in msg and "2022-09-03 (people 1300 in the new file, 1305 in use)" in msg
    assert "2024-06-18" in msg and "nothing was changed" in msg and str(bad) in msg
    assert truncated.read_bytes() == before
    assert sorted(p.name for p in truncated.parent.iterdir()) == [data.DAILY_FILE]
    assert cli("data", "update", str(bad)) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("channel-sim: error: ") and "2022-09-03" in err_text
    assert truncated.read_bytes() == before and load_daily().index[-1] == pd.Timestamp("2024-12-31")


def test_many_conflicts_show_the_first_few_and_how_many(truncated, tmp_path, shipped_text):
    days = [f"2023-01-{d:02d}" for d in range(1, 21)]
    bad = write(tmp_path / "revised.csv", conflicting(shipped_text, dict.fromkeys(days, "99999,99")))
    with pytest.raises(DataConflictError, match=r"on 20 of the .* days .*2023-01-05.*\(15 more\)") as err:
        update_daily(bad)
    assert "2023-01-06" not in str(err.value) and len(err.value.dates) == 20


# ----------------------------------------------------------------------------- bad files
def edit(text: str, line: int, new: str | None) -> str:
    """``text`` with its line ``line`` (1 = the header) replaced by ``new`` (None: removed)."""
    lines = text.splitlines(keepends=True)
    lines[line - 1:line] = [] if new is None else [new + "\n"]
    return "".join(lines)


BAD_FILES = {   # name: (edit of the shipped text, what the message must say)
    "missing column": (lambda t: "".join(line.rsplit(",", 1)[0] + "\n" for line in t.splitlines()),
                       r"missing column\(s\) boats_arrived.*accepted: exactly the columns"),
    "ragged row": (lambda t: edit(t, 32, "2018-01-31,0,0,7"), r"not a readable CSV file .*line 32, saw 4"),
    "extra column": (lambda t: t.replace("boats_arrived\n", "boats_arrived,notes\n", 1),
                     r"unexpected column\(s\) notes"),
    "bad date": (lambda t: edit(t, 6, "2018-13-05,0,0"),
                 r"line 6, column 'date': '2018-13-05' is not a date; accepted: a date YYYY-MM-DD"),
    "other date format": (lambda t: edit(t, 3, "02/01/2018,0,0"), r"line 3, column 'date': '02/01/2018'"),
    "date before 2018": (lambda t: edit(t, 2, "2017-12-31,0,0"),
                         r"line 2, column 'date': 2017-12-31 is before .*accepted: dates from 2018-01-01"),
    "duplicate date": (lambda t: edit(t, 6, "2018-01-04,0,0"),
                       r"line 6, column 'date': 2018-01-04 is repeated \(lines 5, 6\).*accepted: each date once"),
    "negative count": (lambda t: edit(t, 10, "2018-01-09,-3,0"),
                       r"line 10, column 'migrants_arrived': '-3' is not a whole number from 0 to 100,000; "
                       r"accepted: a whole"),
    "fractional count": (lambda t: edit(t, 10, "2018-01-09,0,1.5"), r"line 10, column 'boats_arrived': '1.5'"),
    "text count": (lambda t: edit(t, 10, "2018-01-09,n/a,0"), r"line 10, column 'migrants_arrived': 'n/a'"),
    "huge count": (lambda t: edit(t, 10, "2018-01-09,100001,0"), r"line 10, column 'migrants_arrived': '100001'"),
    "overflowing count": (lambda t: edit(t, 10, "2018-01-09,0,99999999999999999999999"),
                          r"line 10, column 'boats_arrived': '9+' is not a whole number from 0 to 100,000"),
    "future date": (lambda t: t + "2025-08-01,3,1\n2999-01-01,0,0\n", r"line 2772, column 'date': 2999-01-01 is in the future; accepted: dates from 2018-01-01 to 20"),
    "empty count": (lambda t: edit(t, 10, "2018-01-09,,0"), r"line 10, column 'migrants_arrived': empty"),
    "gap inside": (lambda t: edit(edit(t, 101, None), 50, None),
                   r"column 'date': days are missing inside the file, 2 gap\(s\): 2018-02-18 \(1 day\), "
                   r"2018-04-10 \(1 day\)"),
    "empty file": (lambda t: "", r"empty file"),
    "header only": (lambda t: t.splitlines(keepends=True)[0], r"no rows"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_files_are_refused_with_the_line_and_column(case, truncated, tmp_path, shipped_text, capsys):
    change, message = BAD_FILES[case]
    bad = write(tmp_path / "bad.csv", change(shipped_text))
    before = truncated.read_bytes()
    with pytest.raises(DataError, match=message):
        update_daily(bad)
    assert cli("data", "update", str(bad)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"channel-sim: error: {bad}") and err.count("\n") == 1
    assert truncated.read_bytes() == before


def test_many_bad_values_are_counted(tmp_path, shipped_text):
    text = shipped_text.replace("\n2019-03-", "\n2019-03-x")   # 31 bad dates
    with pytest.raises(DataError, match=r"'2019-03-x01' is not a date \(31 bad lines in all, the first 5: lines"):
        update_daily(write(tmp_path / "bad.csv", text))


def test_a_file_that_leaves_a_gap_after_the_data_in_use_is_refused(truncated, tmp_path, shipped_text):
    header, *rows = shipped_text.splitlines(keepends=True)
    later = write(tmp_path / "later.csv", header + "".join(r for r in rows if r >= "2025-02"))
    with pytest.raises(DataError, match=r"runs 2025-02-01\.\.2025-07-31, which leaves a gap .* at most 2025-01-01"):
        update_daily(later)


def test_missing_file_and_directory(tmp_path, capsys):
    assert cli("data", "update", str(tmp_path / "nope.csv")) == 2
    assert cli("data", "update", str(tmp_path)) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"channel-sim: error: {tmp_path / 'nope.csv'}: no such file",
                   f"channel-sim: error: {tmp_path}: is a directory, not a CSV file"]


def test_a_bad_stored_file_names_the_file_and_the_way_back(data_home, shipped_text, capsys):
    stored = write(data_home / data.DAILY_FILE, edit(shipped_text, 8, "2018-01-07,-1,0"))
    with pytest.raises(DataError, match=r"small_boats_daily.csv: line 8, column 'migrants_arrived'.*data reset"):
        load_daily()
    assert cli("data", "status") == 2
    assert str(stored) in capsys.readouterr().err
    write(stored, edit(shipped_text, 8, None))
    data.clear_cache()
    with pytest.raises(DataError, match=r"days are missing, 1 gap\(s\): 2018-01-07 \(1 day\)"):
        load_daily()
    write(stored, "date,migrants_arrived,boats_arrived\n2018-01-02,0,0\n2018-01-01,0,0\n")
    data.clear_cache()
    with pytest.raises(DataError, match=r"line 3, column 'date': 2018-01-01 comes after 2018-01-02.*increasing"):
        load_daily()
    assert cli("data", "reset") == 0
    assert load_daily().index[-1] == pd.Timestamp("2025-07-31")


def test_a_failed_write_keeps_the_old_file_and_no_temporary(truncated, monkeypatch, capsys):
    before = truncated.read_bytes()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(update.os, "replace", full_disk)
    assert cli("data", "update", str(SHIPPED)) == 2
    assert capsys.readouterr().err == f"channel-sim: error: {truncated}: No space left on device\n"
    assert truncated.read_bytes() == before
    assert sorted(p.name for p in truncated.parent.iterdir()) == [data.DAILY_FILE]


# ----------------------------------------------------------------------------- status and reset
def test_status_of_the_shipped_and_of_an_updated_copy(data_home, truncated, capsys):
    st = status()
    assert (st.path, st.shipped, st.rows) == (truncated, False, 2557)
    assert (st.start, st.end, st.people) == (pd.Timestamp("2018-01-01"), pd.Timestamp("2024-12-31"), 176574 - 25436)
    truncated.unlink()
    assert cli("data", "status") == 0
    out = capsys.readouterr().out
    assert f"in use: {SHIPPED}" in out and "the shipped file" in out
    assert "2018-01-01..2025-07-31" in out and "rows: 2,769; people: 176,574; boats: 4,720" in out


def test_reset_returns_to_the_shipped_file_and_keeps_nothing(data_home, truncated, capsys):
    (data_home / f".{data.DAILY_FILE}.abc.tmp").write_text("partial")   # an interrupted update
    assert load_daily().index[-1] == pd.Timestamp("2024-12-31")
    assert cli("data", "reset") == 0
    assert f"removed {truncated}" in capsys.readouterr().out
    assert list(data_home.iterdir()) == []
    assert data.daily_path() == SHIPPED and load_daily().index[-1] == pd.Timestamp("2025-07-31")  # cache cleared
    assert cli("data", "reset") == 0
    assert "nothing to reset" in capsys.readouterr().out


def test_the_default_data_dir_follows_xdg_and_home(tmp_path, monkeypatch, shipped_text):
    monkeypatch.delenv("CHANNEL_SIM_DATA_DIR")
    assert update.data_dir() == tmp_path / "xdg" / "channel-sim"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert update.data_dir() == tmp_path / "home" / ".local" / "share" / "channel-sim"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/path")             # not absolute: ignored, as the spec says
    assert update.data_dir() == tmp_path / "home" / ".local" / "share" / "channel-sim"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    header, *rows = shipped_text.splitlines(keepends=True)
    update_daily(write(tmp_path / "newer.csv", header + "".join(rows[-3:]) + "2025-08-01,5,1\n"))
    assert data.daily_path() == tmp_path / "xdg" / "channel-sim" / data.DAILY_FILE
    assert reset() == tmp_path / "xdg" / "channel-sim" / data.DAILY_FILE
    assert not (tmp_path / "xdg" / "channel-sim").exists()            # the default directory goes when empty


# ----------------------------------------------------------------------------- merge_daily and the parser
def test_merge_daily_is_pure():
    full = load_daily()
    old, new = full.loc[:"2023-12-31"].copy(), full.loc["2023-06-01":].copy()
    old_copy, new_copy = old.copy(), new.copy()
    merged, report = merge_daily(old, new)
    pd.testing.assert_frame_equal(merged, full, check_freq=False)
    pd.testing.assert_frame_equal(old, old_copy)
    pd.testing.assert_frame_equal(new, new_copy)
    assert (report.added_days, report.overlap_days, report.path) == (len(full.loc["2024":]), 214, None)
    with pytest.raises(TypeError, match="as load_daily"):
        merge_daily(old, new.rename(columns={"people": "migrants_arrived"}))


def test_register_adds_the_data_command():
    ap = parser()
    assert ap.parse_args(["data", "status"]).func is update._cmd_data_status
    assert ap.parse_args(["data", "reset"]).func is update._cmd_data_reset
    args = ap.parse_args(["data", "update", "x.csv", "--dry-run"])
    assert (args.func, args.file, args.dry_run) == (update._cmd_data_update, "x.csv", True)
    with pytest.raises(SystemExit):
        ap.parse_args(["data"])
