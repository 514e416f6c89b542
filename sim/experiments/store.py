"""A resumable experiment store: a directory of Parquet chunks and a manifest.

Layout::

    DIR/manifest.json              the design, root seed, base config, outputs, versions, command
    DIR/runs/chunk-*.parquet       one row per finished run: ids, parameters, seed, status,
                                   error and traceback, wall time, host
    DIR/summaries/chunk-*.parquet  one row per successful run: the run summary
    DIR/timeseries/chunk-*.parquet long format: run_id, date, variable, value

    DIR/journal/chunk-*.jsonl      finished runs not yet in a chunk, one JSON line per run
    DIR/writer.lock                while a sweep writes: its pid, host, start and command

Every finished run is appended to the journal of the chunk it will join (one line,
written before the run is reported done), so a sweep killed at any moment (kill -9
included) loses only the runs in flight. Runs are written in chunks of several runs.
Each chunk file is written to a temporary name and renamed into place (atomic on POSIX),
time series and summaries first and the runs chunk last: a run counts as finished only
once its ``runs`` row exists, or its journal line while its chunk is not written. The
readers include journaled runs; opening a store to resume turns every journal into its
chunk, removes temporary files and any time-series or summary chunk whose ``runs`` chunk
was never written (a sweep killed mid-write), so every run is present exactly once.

One writer at a time: :meth:`ExperimentStore.lock` takes ``writer.lock`` (an exclusive
``flock`` on the file, which names its owner); a second writer is refused with
:class:`StoreLockedError` naming the owner, and a lock left by a dead process on this
host is taken over.

Checking and repairing: :meth:`ExperimentStore.check` (``channel-sim store check DIR``)
reads every chunk in full and reports unreadable chunks, chunks without their expected
columns, summaries or time series that disagree with their ``runs`` chunk, duplicate run
ids and the runs of the manifest's design that are missing; with ``repair=True`` it
writes the journals as chunks, moves each damaged chunk (all three tables of it) to
``DIR/quarantine/`` and keeps one row per run id, so that resuming the sweep reruns what
is missing. A resume refuses a store whose chunks it cannot read, and a reader names the
chunk it cannot read: both point to the repair.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import math
import os
import secrets
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["run_id", "ExperimentStore", "StoreDamagedError", "StoreError", "StoreLockedError", "StoreMismatchError",
           "StoreReadOnlyError", "StoreReport", "frame"]

TABLES = ("runs", "summaries", "timeseries")
LOCK_NAME = "writer.lock"
JOURNAL = "journal"
QUARANTINE = "quarantine"
#: Columns every chunk of a table has.
REQUIRED_COLUMNS = {"runs": ("run_id", "point", "replication", "status"), "summaries": ("run_id",),
                    "timeseries": ("run_id", "date", "variable", "value")}


class StoreMismatchError(ValueError):
    """The store on disk belongs to a different experiment than the one requested."""


class StoreError(Exception):
    """A store cannot be used as asked (e.g. another writer holds it)."""


class StoreLockedError(StoreError):
    """Another process is writing to the store."""


class StoreReadOnlyError(StoreError):
    """The store's directory cannot be written (read-only disk, no permission)."""


class StoreDamagedError(StoreError):
    """A file of the store cannot be read (a chunk cut short, a damaged manifest)."""


def _repair_hint(path: Path) -> str:
    return (f"run 'channel-sim store check {path} --repair' to set damaged chunks aside (their runs are rerun "
            "when the sweep is resumed)")


@dataclass
class StoreReport:
    """What :meth:`ExperimentStore.check` found (and, with ``repair``, did).

    ``problems`` make the store unhealthy; ``notes`` do not (journals of a killed sweep,
    failed runs); ``actions`` are what a repair did.
    """

    path: Path
    n_expected: int | None = None
    n_present: int = 0
    n_failed: int = 0
    missing: list[str] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)
    damaged: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    repaired: bool = False
    manifest_ok: bool = True

    @property
    def healthy(self) -> bool:
        return not self.problems

    def format(self) -> str:
        """The report as text, one finding a line."""
        size = f"{self.n_present} of {self.n_expected}" if self.n_expected is not None else f"{self.n_present}"
        lines = [f"{self.path}: {size} runs present ({self.n_failed} failed)"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  repaired: {a}" for a in self.actions]
        if self.repaired:
            lines.append("  after the repair: " + ("healthy" if self.healthy else "still damaged")
                         + (f"; {len(self.missing)} runs missing: resume the sweep (rerun the same command) to "
                            "run them" if self.missing else ""))
        elif self.healthy:
            lines.append("  healthy" + (f"; {len(self.missing)} runs not run yet (resume the sweep to run them)"
                                        if self.missing else ""))
        else:
            advice = [f"{len(self.problems)} problem(s)"]
            if not self.manifest_ok:
                advice.append("the manifest cannot be repaired: restore it, or rerun the sweep elsewhere")
            if len(self.problems) > (0 if self.manifest_ok else 1):  # more than the manifest: chunks to repair
                advice.append(f"'channel-sim store check {self.path} --repair' sets damaged chunks aside and "
                              "removes duplicates, then resuming the sweep reruns what is missing")
            lines.append("  " + "; ".join(advice))
        return "\n".join(lines)


def run_id(point: int, replication: int) -> str:
    """The id of a design point's replication: ``p00012-r003`` (ids sort in point-major order)."""
    return f"p{point:05d}-r{replication:03d}"


def _ids(ids: list[str] | set[str], limit: int = 5) -> str:
    ids = sorted(ids)
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A table of plain-dict rows (run records or summaries); a column of mixed types
    becomes strings (Parquet columns have one type)."""
    df = pd.DataFrame(rows)
    for c in df.columns:
        if df[c].dtype == object:
            kinds = {type(v) for v in df[c] if v is not None}
            if len(kinds) > 1:
                df[c] = df[c].map(lambda v: None if v is None else str(v))
    return df


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    except OSError:
        return False
    return True


class ExperimentStore:
    """Read and append to an experiment directory."""

    #: Seconds between syncs of the journal to the disk (see :meth:`append_journal`).
    SYNC_INTERVAL = 0.5

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._seq = 0
        self._synced = -math.inf

    # -- the writer's lock --------------------------------------------------------------
    @property
    def lock_path(self) -> Path:
        return self.path / LOCK_NAME

    def lock_owner(self) -> dict[str, Any] | None:
        """What the lock file says of its owner (pid, host, started, command), or None."""
        try:
            text = self.lock_path.read_text()
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            owner = json.loads(text)
        except ValueError:
            return None
        return owner if isinstance(owner, dict) else None

    @contextlib.contextmanager
    def lock(self, command_line: list[str] | None = None) -> Iterator[None]:
        """Hold the store's writer lock for a block (creating the directory if needed);
        released on exit, also on error.

        Raises
        ------
        StoreLockedError
            If another process holds it (the message names its pid, host and command).
        """
        fd = self._acquire(command_line)
        try:
            yield
        finally:
            self._release(fd)

    def _locked_error(self, owner: dict[str, Any] | None, why: str) -> StoreLockedError:
        who = "another process"
        if owner:
            who = f"pid {owner.get('pid')} on host {owner.get('host')}"
            if owner.get("started"):
                who += f" (since {owner['started']}"
                who += f": {' '.join(map(str, owner['command']))})" if owner.get("command") else ")"
        return StoreLockedError(f"{self.path} is being written by {who}{why}; two writers would duplicate runs. "
                                f"Wait for it to finish, or use another --out directory; if that process is "
                                f"gone, delete {self.lock_path}")

    def _acquire(self, command_line: list[str] | None) -> int:
        import fcntl

        if self.path.exists() and not self.path.is_dir():
            raise StoreError(f"{self.path} is a file, not a store directory; give another --out")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644))
        except OSError as exc:
            kind = StoreReadOnlyError if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else StoreError
            raise kind(f"cannot write the store {self.path}: {exc.strerror or exc}") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": dt.datetime.now(dt.UTC).isoformat(),
              "command": list(command_line) if command_line is not None else list(sys.argv)}
        for _ in range(100):
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise self._locked_error(self.lock_owner(), "") from None
                raise
            try:
                same_file = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same_file = False
            if not same_file:  # the previous owner removed the file while we opened it: again
                os.close(fd)
                continue
            owner = self.lock_owner()
            if owner and owner.get("pid") != me["pid"]:
                if owner.get("host") != me["host"]:
                    # flock may not reach across hosts (network file systems): trust the file
                    os.close(fd)
                    raise self._locked_error(owner, " (another host: cannot tell whether it still runs)")
                try:
                    pid = int(owner.get("pid"))
                except (TypeError, ValueError):
                    pid = 0
                if pid > 0 and _pid_alive(pid):
                    os.close(fd)
                    raise self._locked_error(owner, "")
                print(f"{self.path}: taking over the lock of pid {owner.get('pid')}, which is no longer running",
                      file=sys.stderr)
            os.ftruncate(fd, 0)
            os.write(fd, (json.dumps(me) + "\n").encode())
            os.fsync(fd)
            return fd
        raise StoreLockedError(f"{self.path}: could not take the writer lock {self.lock_path}")  # pragma: no cover

    def _release(self, fd: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino:
                self.lock_path.unlink()
        os.close(fd)

    # -- manifest ---------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict[str, Any]:
        """The manifest; :class:`StoreDamagedError` naming the file if it is not a JSON mapping
        (e.g. cut short by a full disk)."""
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise StoreDamagedError(
                f"{self.manifest_path} is damaged (not valid JSON: {exc}); without it the store cannot be "
                "resumed or analysed: restore the file, or rerun the sweep into another --out directory") from None
        if not isinstance(manifest, dict):
            raise StoreDamagedError(f"{self.manifest_path} is damaged (not a JSON mapping)")
        return manifest

    def create(self, manifest: dict[str, Any]) -> None:
        """Start a new store (the directory may exist but must hold no manifest)."""
        self.path.mkdir(parents=True, exist_ok=True)
        for t in TABLES:
            (self.path / t).mkdir(exist_ok=True)
        self._write_json(self.manifest_path, manifest)

    def open_for_resume(self, fingerprint: str, note: dict[str, Any]) -> dict[str, Any]:
        """Check the store is this experiment, clean half-written chunks, log the resume."""
        manifest = self.read_manifest()
        if manifest.get("fingerprint") != fingerprint:
            diffs = ", ".join(sorted(k for k in ("design", "base_config", "seed", "outputs", "model")
                                     if json.dumps(manifest.get(k), sort_keys=True, default=str)
                                     != json.dumps(note.get(k), sort_keys=True, default=str)))
            raise StoreMismatchError(
                f"{self.path} holds a different experiment (differs in: {diffs or 'its fingerprint'}); "
                "use another --out directory, or rerun the command that made this store to resume it")
        self.clean()
        self.verify()
        manifest.setdefault("resumed", []).append({k: note[k] for k in ("started", "command_line") if k in note})
        self._write_json(self.manifest_path, manifest)
        return manifest

    def clean(self) -> None:
        """Write every journal as its chunk; remove temporary files and chunks not committed
        by a ``runs`` chunk. Only a writer holding the lock calls this."""
        committed = {p.stem for p in (self.path / "runs").glob("chunk-*.parquet")}
        for j in sorted((self.path / JOURNAL).glob("chunk-*.jsonl")):
            if j.stem not in committed:
                results = self._read_journal(j)
                if results:
                    self.write_results(results, name=j.stem)
                    committed.add(j.stem)
            j.unlink(missing_ok=True)
        for t in TABLES:
            d = self.path / t
            if not d.is_dir():
                continue
            for p in d.iterdir():
                if p.name.startswith(".tmp-") or (t != "runs" and p.suffix == ".parquet" and p.stem not in committed):
                    p.unlink()

    def verify(self) -> None:
        """A quick check before resuming (the footer and columns of every chunk, unique run
        ids): :class:`StoreDamagedError` naming what is wrong and the repair."""
        import pyarrow.parquet as pq

        bad = []
        for t in TABLES:
            for p in sorted((self.path / t).glob("chunk-*.parquet")):
                try:
                    names = pq.read_schema(p).names
                except Exception as exc:  # noqa: BLE001 - any failure to read the footer: damaged
                    bad.append(f"{t}/{p.name} is unreadable ({type(exc).__name__}: {exc})")
                    continue
                lacking = [c for c in REQUIRED_COLUMNS[t] if c not in names]
                if lacking:
                    bad.append(f"{t}/{p.name} lacks the columns {lacking}")
        if not bad:
            ids = self.runs(columns=["run_id"])["run_id"]
            dup = sorted(set(ids[ids.duplicated()]))
            if dup:
                bad.append(f"{len(dup)} run ids are stored more than once ({_ids(dup)})")
        if bad:
            raise StoreDamagedError(f"{self.path} is damaged: {'; '.join(bad[:3])}"
                                    f"{f' and {len(bad) - 3} more' if len(bad) > 3 else ''}; "
                                    f"{_repair_hint(self.path)}")

    # -- checking and repairing ---------------------------------------------------------
    def _expected_run_ids(self, report: StoreReport) -> list[str] | None:
        try:
            design = self.read_manifest()["design"]
            n_points, reps = len(design["points"]), int(design["replications"])
        except FileNotFoundError:
            report.manifest_ok = False
            report.problems.append(f"{self.manifest_path} is missing: cannot tell which runs the store should hold")
            return None
        except StoreDamagedError as exc:
            report.manifest_ok = False
            report.problems.append(str(exc))
            return None
        except (KeyError, TypeError, ValueError):
            report.manifest_ok = False
            report.problems.append(f"{self.manifest_path} holds no readable design: cannot tell which runs are "
                                   "missing")
            return None
        return [run_id(i, j) for i in range(n_points) for j in range(reps)]

    def _scan(self) -> tuple[StoreReport, dict[str, pd.DataFrame], list[Path]]:
        """Read every chunk in full: the report, the readable ``runs`` chunks (by name) and
        the files a resume would remove (temporary, or not committed by a ``runs`` chunk)."""
        import pyarrow.parquet as pq

        report = StoreReport(self.path)
        expected = self._expected_run_ids(report)
        names = sorted({p.stem for t in TABLES for p in (self.path / t).glob("chunk-*.parquet")})
        runs_chunks: dict[str, pd.DataFrame] = {}
        leftovers = [p for t in TABLES if (self.path / t).is_dir() for p in (self.path / t).iterdir()
                     if p.name.startswith(".tmp-")]
        for name in names:
            tables: dict[str, pd.DataFrame] = {}
            why: list[str] = []
            for t in TABLES:
                p = self.path / t / f"{name}.parquet"
                if not p.exists():
                    continue
                try:
                    df = pq.read_table(p).to_pandas()
                except Exception as exc:  # noqa: BLE001 - any failure to read a chunk: damaged
                    why.append(f"{t}/{p.name} is unreadable ({type(exc).__name__}: {exc})")
                    continue
                lacking = [c for c in REQUIRED_COLUMNS[t] if c not in df.columns]
                if lacking:
                    why.append(f"{t}/{p.name} lacks the columns {lacking}")
                    continue
                tables[t] = df
            if "runs" not in tables and not why:  # never committed (a sweep killed while writing it)
                leftovers += [self.path / t / f"{name}.parquet" for t in TABLES
                              if (self.path / t / f"{name}.parquet").exists()]
                continue
            if "runs" in tables:
                runs = tables["runs"]
                ids, ok = set(runs["run_id"]), set(runs.loc[runs["status"] == "ok", "run_id"])
                for t in ("summaries", "timeseries"):
                    if t not in tables:
                        continue
                    theirs = set(tables[t]["run_id"])
                    if theirs - ids:
                        why.append(f"{t}/{name}.parquet has runs its runs chunk does not ({_ids(theirs - ids)})")
                    elif ok - theirs and (t == "summaries" or theirs):
                        why.append(f"{t}/{name}.parquet lacks {len(ok - theirs)} of the chunk's {len(ok)} "
                                   f"successful runs ({_ids(ok - theirs)})")
                if ok and "summaries" not in tables and not why:
                    why.append(f"summaries/{name}.parquet is missing for the chunk's {len(ok)} successful runs")
            if why:
                report.damaged[name] = why
                report.problems += why
            else:
                runs_chunks[name] = tables["runs"]
        if leftovers:
            report.problems.append(f"{len(leftovers)} files left by a sweep killed while writing, which readers "
                                   f"may count ({_ids([str(p.relative_to(self.path)) for p in leftovers], 3)}); "
                                   "a resume or --repair removes them")
        journaled = self._journaled()
        if journaled:
            report.notes.append(f"{len(journaled)} finished runs are in journals (a sweep was stopped before "
                                "writing their chunk); readers include them, and a resume or --repair writes "
                                "them as chunks")
        rows = [df[["run_id", "status"]] for df in runs_chunks.values()]
        rows += [pd.DataFrame([{"run_id": r["record"]["run_id"], "status": r["record"]["status"]}
                               for r in journaled])] if journaled else []
        present = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["run_id", "status"])
        counts = Counter(present["run_id"])
        report.duplicates = {r: n for r, n in sorted(counts.items()) if n > 1}
        if report.duplicates:
            report.problems.append(f"{len(report.duplicates)} run ids are stored more than once "
                                   f"({_ids(set(report.duplicates))}); readers would count them twice")
        report.n_present = len(counts)
        report.n_failed = int(present.drop_duplicates("run_id")["status"].ne("ok").sum())
        if report.n_failed:
            report.notes.append(f"{report.n_failed} runs failed (rerun them with sweep --retry-failed)")
        if expected is not None:
            report.n_expected = len(expected)
            report.missing = [r for r in expected if r not in counts]
            extra = set(counts) - set(expected)
            if extra:
                report.problems.append(f"{len(extra)} runs are not in the manifest's design ({_ids(extra)})")
            if report.missing:
                damaged = " or in damaged chunks" if report.damaged else ""
                report.notes.append(f"{len(report.missing)} runs of the design are missing{damaged} "
                                    f"({_ids(report.missing)})")
        return report, runs_chunks, leftovers

    def check(self, repair: bool = False) -> StoreReport:
        """Check every chunk of the store (see the module's docstring); with ``repair``, also
        repair it (the caller holds the lock, :meth:`lock`). The report of a repair lists
        what was found, what was done and, in ``missing``, what a resume will run."""
        report, runs_chunks, _ = self._scan()
        if not repair:
            return report
        actions = []
        n_journaled = len(list((self.path / JOURNAL).glob("chunk-*.jsonl"))) if (self.path / JOURNAL).is_dir() else 0
        self.clean()  # journals to chunks; temporary and uncommitted files removed
        if n_journaled:
            actions.append(f"wrote {n_journaled} journals as chunks")
        for name, why in report.damaged.items():
            moved = self.quarantine(name)
            actions.append(f"moved chunk {name} ({', '.join(moved)}) to {self.path / QUARANTINE}: {why[0]}")
        after, runs_chunks, leftovers = self._scan()
        if after.duplicates:
            dropped = self._drop_duplicates(runs_chunks)
            actions.append(f"removed {dropped} duplicate rows, keeping one row per run id (a successful one "
                           "where there is one)")
            after, _, _ = self._scan()
        after.actions = actions
        after.repaired = True
        after.notes = [f"found: {p}" for p in report.problems] + after.notes
        return after

    def quarantine(self, name: str) -> list[str]:
        """Move chunk ``name`` of every table to ``DIR/quarantine/TABLE/``; the tables moved."""
        moved = []
        for t in TABLES:
            src = self.path / t / f"{name}.parquet"
            if src.exists():
                dest = self.path / QUARANTINE / t / src.name
                dest.parent.mkdir(parents=True, exist_ok=True)
                k = 1
                while dest.exists():
                    dest = dest.with_name(f"{name}.{k}.parquet")
                    k += 1
                os.replace(src, dest)
                moved.append(t)
        return moved

    def _drop_duplicates(self, runs_chunks: dict[str, pd.DataFrame]) -> int:
        """Keep one row per run id (the first successful one, else the first), rewriting the
        chunks that held the others; the number of ``runs`` rows removed."""
        keeper: dict[str, tuple[str, int]] = {}
        for name, df in sorted(runs_chunks.items()):
            for pos, (rid, status) in enumerate(zip(df["run_id"], df["status"], strict=True)):
                if rid not in keeper or (status == "ok" and runs_chunks[keeper[rid][0]]["status"].iloc[
                        keeper[rid][1]] != "ok"):
                    keeper[rid] = (name, pos)
        dropped = 0
        for name, df in sorted(runs_chunks.items()):
            keep = [keeper[rid] == (name, pos) for pos, rid in enumerate(df["run_id"])]
            if all(keep):
                continue
            dropped += len(keep) - sum(keep)
            kept_ids = set(df["run_id"][keep])
            gone = set(df["run_id"]) - kept_ids
            for t in ("summaries", "timeseries"):
                q = self.path / t / f"{name}.parquet"
                if not q.exists():
                    continue
                d2 = pd.read_parquet(q)
                d2 = d2[~d2["run_id"].isin(gone)]
                d2 = d2.drop_duplicates([c for c in ("run_id", "date", "variable") if c in d2.columns])
                if len(d2):
                    self._write_parquet(q, d2.reset_index(drop=True))
                else:
                    q.unlink()
            p = self.path / "runs" / f"{name}.parquet"
            if any(keep):
                self._write_parquet(p, df[keep].reset_index(drop=True))
            else:
                p.unlink()
        return dropped

    # -- writing ----------------------------------------------------------------------
    def new_chunk_name(self) -> str:
        """A name for the next chunk (and its journal)."""
        name = f"chunk-{self._seq:06d}-{secrets.token_hex(4)}"
        self._seq += 1
        return name

    def journal_path(self, name: str) -> Path:
        return self.path / JOURNAL / f"{name}.jsonl"

    def append_journal(self, name: str, result: dict[str, Any]) -> None:
        """Append one finished run (``execute_task``'s result) to the journal of chunk ``name``,
        in one write: once this returns, the run survives a kill of this process. The journal
        is also synced to the disk (against a power cut) unless it was less than
        :attr:`SYNC_INTERVAL` seconds ago, so that a model of microseconds is not slowed to
        the disk's pace; chunks are always synced."""
        ts = result.get("timeseries")
        line = {"record": result["record"], "summary": result.get("summary"), "timeseries": None}
        if ts is not None:
            line["timeseries"] = {"columns": list(ts.columns), "dtypes": {c: str(t) for c, t in ts.dtypes.items()},
                                  "data": {c: (ts[c].astype(str) if str(ts[c].dtype).startswith("datetime")
                                               else ts[c]).tolist() for c in ts.columns}}
        path = self.journal_path(name)
        path.parent.mkdir(exist_ok=True)
        data = (json.dumps(line, default=str) + "\n").encode()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            while data:
                data = data[os.write(fd, data):]
            now = time.monotonic()
            if now - self._synced >= self.SYNC_INTERVAL:
                os.fsync(fd)
                self._synced = now
        finally:
            os.close(fd)

    @staticmethod
    def _read_journal(path: Path) -> list[dict[str, Any]]:
        """The complete lines of a journal as results (a line cut short by a kill is skipped)."""
        results = []
        try:
            text = path.read_text()
        except FileNotFoundError:
            return results
        for line in text.splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            ts = item.get("timeseries")
            if ts is not None:
                df = pd.DataFrame(ts["data"], columns=ts["columns"])
                item["timeseries"] = df.astype(ts["dtypes"])
            results.append(item)
        return results

    def _journaled(self) -> list[dict[str, Any]]:
        """Results in journals whose chunk is not written yet."""
        jdir = self.path / JOURNAL
        if not jdir.is_dir():
            return []
        out: list[dict[str, Any]] = []
        for j in sorted(jdir.glob("chunk-*.jsonl")):
            if not (self.path / "runs" / f"{j.stem}.parquet").exists():
                out += self._read_journal(j)
        return out

    def write_results(self, results: list[dict[str, Any]], name: str | None = None) -> str:
        """Write finished runs (``execute_task``'s results) as chunk ``name`` (default: a new
        name), then remove that chunk's journal; writing the same name again overwrites it."""
        summaries = [r["summary"] for r in results if r.get("summary") is not None]
        ts = [r["timeseries"] for r in results if r.get("timeseries") is not None]
        name = self.write_chunk(frame([r["record"] for r in results]), frame(summaries) if summaries else None,
                                pd.concat(ts, ignore_index=True) if ts else None, name=name)
        self.journal_path(name).unlink(missing_ok=True)
        return name

    def write_chunk(self, runs: pd.DataFrame, summaries: pd.DataFrame | None,
                    timeseries: pd.DataFrame | None, name: str | None = None) -> str:
        """Write one chunk of finished runs atomically (runs last); return its name."""
        name = name or self.new_chunk_name()
        if timeseries is not None and len(timeseries):
            self._write_parquet(self.path / "timeseries" / f"{name}.parquet", timeseries)
        if summaries is not None and len(summaries):
            self._write_parquet(self.path / "summaries" / f"{name}.parquet", summaries)
        self._write_parquet(self.path / "runs" / f"{name}.parquet", runs)
        return name

    def drop_runs(self, run_ids: set[str]) -> None:
        """Remove runs (e.g. failed ones before a retry) by rewriting their chunks."""
        for p in sorted((self.path / "runs").glob("chunk-*.parquet")):
            df = pd.read_parquet(p)
            keep = ~df["run_id"].isin(run_ids)
            if keep.all():
                continue
            if keep.any():
                self._write_parquet(p, df[keep].reset_index(drop=True))
            else:
                for t in ("summaries", "timeseries"):
                    (self.path / t / p.name).unlink(missing_ok=True)
                p.unlink()
                continue
            for t in ("summaries", "timeseries"):
                q = self.path / t / p.name
                if q.exists():
                    d2 = pd.read_parquet(q)
                    self._write_parquet(q, d2[~d2["run_id"].isin(run_ids)].reset_index(drop=True))

    @staticmethod
    def _write_parquet(path: Path, df: pd.DataFrame) -> None:
        tmp = path.with_name(f".tmp-{path.name}")
        df.to_parquet(tmp, index=False)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @staticmethod
    def _write_json(path: Path, data: dict[str, Any]) -> None:
        tmp = path.with_name(f".tmp-{path.name}")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        os.replace(tmp, path)

    # -- reading ----------------------------------------------------------------------
    def _read(self, table: str, columns: list[str] | None = None) -> pd.DataFrame:
        files = sorted((self.path / table).glob("chunk-*.parquet"))
        frames = []
        for f in files:
            try:
                frames.append(pd.read_parquet(f, columns=columns))
            except Exception as exc:  # noqa: BLE001 - any failure to read a chunk: damaged
                raise StoreDamagedError(f"{f} cannot be read ({type(exc).__name__}: {exc}); "
                                        f"{_repair_hint(self.path)}") from None
        journaled = self._journaled()
        if journaled:
            if table == "timeseries":
                extra = [r["timeseries"] for r in journaled if r.get("timeseries") is not None]
                extra_df = pd.concat(extra, ignore_index=True) if extra else None
            else:
                rows = [r["record"] if table == "runs" else r.get("summary") for r in journaled]
                rows = [r for r in rows if r is not None]
                extra_df = frame(rows) if rows else None
            if extra_df is not None and len(extra_df):
                frames.append(extra_df.reindex(columns=columns) if columns else extra_df)
        if not frames:
            return pd.DataFrame(columns=columns or ["run_id"])
        df = pd.concat(frames, ignore_index=True)
        return df.sort_values([c for c in ("run_id", "date", "variable") if c in df.columns],
                              kind="stable").reset_index(drop=True)

    def runs(self, columns: list[str] | None = None) -> pd.DataFrame:
        """The runs table, sorted by run id."""
        return self._read("runs", columns)

    def summaries(self) -> pd.DataFrame:
        """One row per successful run, sorted by run id."""
        return self._read("summaries")

    def results(self) -> pd.DataFrame:
        """One flat table, one row per run (sorted by run id), for spreadsheets and R.

        Columns: ``run_id``, ``point``, ``replication``, ``scenario``, ``status``, ``seed``
        (the root seed's entropy) and ``spawn_key`` (together: ``numpy.random.SeedSequence(
        seed, spawn_key=...)`` is the run's seed), then one column per design parameter
        (dotted names, e.g. ``returns.quota_per_week``), then every field of the run summary
        (:func:`sim.metrics.summarize`; empty for a failed run), then ``error``. A summary
        field named like a parameter is suffixed ``_summary``.
        """
        runs = self.runs()
        summ = self.summaries()
        if not len(runs):
            return pd.DataFrame(columns=["run_id", "point", "replication", "scenario", "status", "seed", "spawn_key"])
        params = pd.DataFrame([json.loads(p) if isinstance(p, str) and p else {} for p in runs["params"]],
                              index=runs.index)
        meta = runs.reindex(columns=["run_id", "point", "replication", "scenario", "status", "seed_entropy",
                                     "spawn_key"]).rename(columns={"seed_entropy": "seed"})
        meta = pd.concat([meta, params], axis=1)
        if len(summ):
            summ = summ.drop(columns=[c for c in ("seed",) if c in summ.columns])
            clash = [c for c in summ.columns if c in meta.columns and c not in ("run_id", "scenario")]
            summ = summ.rename(columns={c: f"{c}_summary" for c in clash})
            if "scenario" in summ.columns:   # a design's points have no scenario name: take the run's
                summ = summ.rename(columns={"scenario": "_scenario_summary"})
            out = meta.merge(summ, on="run_id", how="left")
            if "_scenario_summary" in out.columns:
                out["scenario"] = out["scenario"].where(out["scenario"].notna(), out["_scenario_summary"])
                out = out.drop(columns="_scenario_summary")
        else:
            out = meta
        out["error"] = runs["error"].to_numpy() if "error" in runs.columns else None
        return out.reset_index(drop=True)

    def timeseries(self, variables: list[str] | None = None) -> pd.DataFrame:
        """Long-format time series (run_id, date, variable, value), optionally filtered."""
        df = self._read("timeseries")
        if variables is not None and len(df):
            df = df[df["variable"].isin(variables)].reset_index(drop=True)
        return df

    def finished(self) -> dict[str, str]:
        """run_id -> status of every run with a committed record."""
        df = self.runs(columns=["run_id", "status"])
        return dict(zip(df["run_id"], df["status"], strict=True)) if len(df) else {}
