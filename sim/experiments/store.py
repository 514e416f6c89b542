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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["ExperimentStore", "StoreError", "StoreLockedError", "StoreMismatchError", "frame"]

TABLES = ("runs", "summaries", "timeseries")
LOCK_NAME = "writer.lock"
JOURNAL = "journal"


class StoreMismatchError(ValueError):
    """The store on disk belongs to a different experiment than the one requested."""


class StoreError(Exception):
    """A store cannot be used as asked (e.g. another writer holds it)."""


class StoreLockedError(StoreError):
    """Another process is writing to the store."""


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
            raise StoreError(f"cannot write the store {self.path}: {exc.strerror or exc}") from None
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
        return json.loads(self.manifest_path.read_text())

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
        frames = [pd.read_parquet(f, columns=columns) for f in files]
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
