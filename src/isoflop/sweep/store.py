"""The run store: one folder per run under a sweep folder, written so that a crash at any instant is harmless.

Layout::

    SWEEP_DIR/sweep.json                 the design (config + every run spec + the data's sizes and SHA-256)
    SWEEP_DIR/runs/RUN_ID/spec.json      the run's spec
                          metrics.jsonl  loss curve, one row per evaluation (a truncated last line is skipped)
                          checkpoint.pt  model + optimiser + RNG + step, replaced atomically
                          checkpoint.json  {step, file}: the step of the latest saved state (for status)
                          run.lock       empty; flock'ed by the process training this run (never deleted)
                          lock.json      {pid, host, heartbeat}: who holds run.lock (removed on release)
                          result.json    final numbers; written atomically, its presence means "done"
                          error.txt      traceback of a failed attempt

Status of a run: ``done`` (a complete result.json with a positive finite loss, see ``check_result``), ``running`` (a lock held by a live process: same host and
its pid alive with the same start time, or another host and a heartbeat within ``STALE_SECONDS`` of now),
``failed`` (error.txt), ``pending`` otherwise (``step``: where it resumes, see ``RunStatus``). A lock left by a
killed process is stale and taken over (see ``RunLock``: atomic, even when two processes race for it).

A file that cannot be used is reported by its path, never skipped silently, and never blocks the other
runs: a bad result.json leaves its run not done (``RunStatus.notes``; ``read_runs`` / ``export_table`` say
which run they left out and why), bad metrics rows are left out with a note naming file and line, an
unreadable sweep.json is rebuilt from the runs' spec.json files, an unreadable checkpoint is retrained from
scratch after a warning (see the trainer). ``read_runs`` is the one adapter from a sweep folder to a
``RunTable``.

No torch here: results and curves are read as JSON.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

try:
    import fcntl
except ImportError:  # not a POSIX system: no flock (RunLock says so when used)
    fcntl = None

from ..errors import CorruptFileWarning, InputError
from ..io_utils import pid_alive
from ..runs import PLANNED, RunTable
from ..train import rundir
from ..train.data import data_change, data_fingerprint
from .design import RunSpec, SweepConfig, SweepDesign

DESIGN = "sweep.json"
RUNS = "runs"
INIT_LOCK = ".init.lock"  # held while a design is checked against the folder and written into it
LOCK_FILE = "run.lock"  # the flock target; created once, never deleted
STALE_SECONDS = 600.0  # a lock from another host whose heartbeat is older than this is abandoned
HEARTBEAT_SECONDS = 10.0
STATES = ("done", "running", "failed", "pending")

TABLE_COLUMNS = ["run_id", "n_params", "n_tokens", "flops", "loss", "param_convention"]
CURVE_COLUMNS = ["run_id", "step", "n_params", "n_tokens", "flops", "loss"]


def run_dir(sweep_dir: str | Path, run_id: str) -> Path:
    return Path(sweep_dir) / RUNS / run_id


def read_doc(path: str | Path) -> tuple[object, str | None]:
    """(the parsed JSON document, None) — or (None, None) when the file does not exist, or (None, why) when it
    exists but cannot be read or parsed (truncated, garbled, a folder)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path}: unreadable ({getattr(exc, 'strerror', None) or exc})"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"{path}: not valid JSON ({'empty' if not text.strip() else exc})"
    return (doc, None) if doc is not None else (None, f"{path}: holds JSON null")


def _run_specs(sweep_dir: Path) -> tuple[list[RunSpec], list[str]]:
    """The specs of the runs/*/spec.json files that can be read, and a note for each that cannot."""
    specs, notes = [], []
    root = sweep_dir / RUNS
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        doc, problem = read_doc(folder / rundir.SPEC)
        if doc is None:
            notes.append(problem or f"{folder}: no {rundir.SPEC}; this run folder is ignored")
            continue
        try:
            specs.append(RunSpec.from_dict(doc))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            notes.append(f"{folder / rundir.SPEC}: not a run spec ({type(exc).__name__}: {exc}); ignored")
    return specs, notes


def _design_from_specs(sweep_dir: Path, specs: list[RunSpec], notes: list[str]) -> SweepDesign:
    """A design holding ``specs`` (the runs are exact; the config is rebuilt from them, so it keeps only
    what the specs record: budgets, seq_len, data, flop convention, seed, embeddings and bias)."""
    first = specs[0].train
    config = SweepConfig(budgets=tuple(sorted({s.flops_budget for s in specs})), seq_len=first.seq_len,
                         flop_convention=first.flop_convention, seed=first.seed, data=first.data,
                         tied_embeddings=first.arch.tied_embeddings, bias=first.arch.bias)
    return SweepDesign(config=config, law="unknown (rebuilt from spec.json files)", runs=tuple(specs),
                       warnings=tuple(notes))


def init_sweep(sweep_dir: str | Path, design: SweepDesign) -> Path:
    """Create the sweep folder: sweep.json and one folder with spec.json per run. Idempotent for the same
    design; a folder holding a different design is an InputError (start a new folder instead). A sweep.json
    or spec.json that is unreadable is rewritten from ``design`` when the runs that can be read match it;
    a path that cannot be created (a file in the way, no permission) is an InputError naming it."""
    if not isinstance(design, SweepDesign):  # checked before a folder is made
        raise InputError(f"init_sweep takes the SweepDesign that design_sweep returns, got {type(design).__name__}")
    sweep_dir = Path(sweep_dir)
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise InputError(f"{sweep_dir}: exists and is not a folder; choose another output folder")
    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{sweep_dir}: cannot create the sweep folder ({exc.strerror or exc}); choose another "
                         f"output folder") from None
    # Two processes starting different designs into one new folder both passed the check below and both wrote
    # their runs (one sweep.json, two designs' folders): the check and the writes now happen under one lock.
    with _folder_lock(sweep_dir / INIT_LOCK):
        return _init_locked(sweep_dir, design)


@contextmanager
def _folder_lock(path: Path):
    """An exclusive flock on ``path`` for the ``with`` block (blocking: the holder only writes a few small
    files); a no-op where POSIX locks do not exist."""
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise InputError(f"{path}: cannot open the sweep's lock file ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _init_locked(sweep_dir: Path, design: SweepDesign) -> Path:
    doc = design.to_dict()
    wanted = json.loads(json.dumps(doc["runs"]))
    existing, problem = read_doc(sweep_dir / DESIGN)
    if existing is not None:
        if not isinstance(existing, dict) or existing.get("runs") != wanted:
            raise InputError(f"{sweep_dir} already holds a different sweep design; choose another output folder "
                             f"or delete it")
    else:  # no (readable) sweep.json: the runs already there must be runs of this design
        specs, _ = _run_specs(sweep_dir)
        wanted_ids = {r["run_id"]: r for r in wanted}
        if any(json.loads(json.dumps(s.to_dict())) != wanted_ids.get(s.run_id) for s in specs):
            raise InputError(f"{sweep_dir} already holds runs of a different sweep design; choose another "
                             f"output folder or delete it")
    try:
        (sweep_dir / RUNS).mkdir(parents=True, exist_ok=True)
        for spec in design.runs:
            run_dir(sweep_dir, spec.run_id).mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"{sweep_dir}: cannot create the sweep folder ({exc.strerror or exc}: "
                         f"{exc.filename}); choose another output folder") from None
    if existing is None:
        if design.runs:  # what the runs are to train on; check_data compares it before every sweep run
            doc["data_fingerprint"] = data_fingerprint(design.runs[0].train.data)
        rundir.write_json_atomic(sweep_dir / DESIGN, doc)
    for spec in design.runs:
        path = run_dir(sweep_dir, spec.run_id) / rundir.SPEC
        if read_doc(path)[0] is None:  # missing or unreadable
            rundir.write_json_atomic(path, spec.to_dict())
    return sweep_dir


def _read_design(sweep_dir: Path) -> tuple[SweepDesign, list[str]]:
    """(the design, notes on files that could not be used — non-empty only when it was rebuilt)."""
    path = sweep_dir / DESIGN
    if sweep_dir.is_file():  # a config file: `sweep status` reads the folder a config was run into
        raise InputError(f"{sweep_dir}: is a file, not a sweep folder; give the folder its sweep was designed or run "
                         f"into (`isoflop sweep run {sweep_dir} --out FOLDER`)")
    doc, problem = read_doc(path)
    if doc is None:
        specs, notes = _run_specs(sweep_dir)
        if not specs:
            why = problem or f"{DESIGN} missing"
            raise InputError(f"{sweep_dir}: no sweep here ({why}, and no run folder with a readable "
                             f"{rundir.SPEC}); create one with `isoflop sweep design CONFIG --out {sweep_dir}` "
                             f"or run a config file")
        notes = [f"{problem or f'{path}: missing'}; the design was rebuilt from {len(specs)} runs' "
                 f"{rundir.SPEC} files"] + notes
        return _design_from_specs(sweep_dir, specs, notes), notes
    if not isinstance(doc, dict):
        raise InputError(f"{path}: holds a JSON {type(doc).__name__}, not a sweep design (an object with "
                         f"config and runs); restore it, or delete it to rebuild the design from the runs")
    try:
        design = SweepDesign.from_dict(doc)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{path}: not a sweep design ({type(exc).__name__}: {exc}); restore it, or delete it "
                         f"to rebuild the design from the runs") from None
    # a hand-edited design that lost runs would report them nowhere (status: 0 runs; run: nothing to do)
    listed = {r.run_id for r in design.runs}
    runs_dir = sweep_dir / RUNS
    unlisted = []
    if runs_dir.is_dir():
        unlisted = sorted(p.name for p in runs_dir.iterdir()
                          if p.is_dir() and p.name not in listed and not p.name.startswith("."))
    if unlisted:
        raise InputError(f"{path}: lists {len(listed)} runs, but {runs_dir} holds {len(unlisted)} run folder(s) it "
                         f"does not name ({', '.join(unlisted[:3])}{'…' if len(unlisted) > 3 else ''}); restore "
                         f"it, or delete it to rebuild the design from the runs")
    return design, []


def check_data(sweep_dir: str | Path, design: SweepDesign) -> None:
    """InputError when the data files the sweep reads are not those it was designed on (sweep.json's
    ``data_fingerprint``: size and SHA-256 of each file): runs trained on other data than the rest would give
    silently wrong numbers. Sweeps without a fingerprint (older, or rebuilt from spec.json files) pass."""
    path = Path(sweep_dir) / DESIGN
    doc = read_doc(path)[0]
    before = doc.get("data_fingerprint") if isinstance(doc, dict) else None
    if not isinstance(before, list) or not design.runs:
        return
    why = data_change(before, data_fingerprint(design.runs[0].train.data))
    if why is not None:
        raise InputError(f"{path}: the sweep's data changed since it was designed ({why}); runs trained on other "
                         f"data than the rest would give wrong numbers: restore the data, or design a new sweep into "
                         f"another folder")


def load_design(sweep_dir: str | Path) -> SweepDesign:
    """The sweep's design from sweep.json. When sweep.json is missing or unreadable but run folders hold
    readable spec.json files, the design is rebuilt from those, with a CorruptFileWarning per file that
    could not be used (also in the design's ``warnings``). A sweep.json that parses but is not a design
    (a list, missing keys) is an InputError naming it; so is a folder with neither."""
    design, notes = _read_design(Path(sweep_dir))
    for note in notes:
        warnings.warn(note, CorruptFileWarning, stacklevel=2)
    return design


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and bool(np.isfinite(value)) and value > 0


def check_result(folder: str | Path) -> tuple[dict | None, str | None]:
    """(the run's result, None) when result.json is complete and plausible; (None, None) when there is none
    yet; (None, why) when it exists but cannot count: unreadable, not an object, a loss, n_params,
    n_tokens or flops that is not a positive finite number (a loss ≤ 0 nats/token is impossible), another
    run's run_id, or n_params, n_tokens or flops that differ from the folder's spec.json."""
    path = Path(folder) / rundir.RESULT
    result, problem = read_doc(path)
    if result is None:
        return None, (f"{problem}; the run is not counted as done" if problem else None)
    if not isinstance(result, dict):
        return None, f"{path}: holds a JSON {type(result).__name__}, not a result; the run is not counted as done"
    for key in ("loss", "n_params", "n_tokens", "flops"):
        if not _positive(result.get(key)):
            return None, (f"{path}: {key} {result.get(key)!r} is not a positive finite number; the run is not "
                          f"counted as done")
    # a result.json copied from another run (or hand-edited) would report that run's numbers under this one's id
    name = Path(folder).name
    if result.get("run_id") is not None and result.get("run_id") != name:
        return None, (f"{path}: is the result of run {result.get('run_id')!r}, not of {name!r} (copied from "
                      f"another run?); the run is not counted as done")
    spec = read_doc(Path(folder) / rundir.SPEC)[0]
    if isinstance(spec, dict) and spec.get("run_id") in (None, name):
        for key in ("n_params", "n_tokens", "flops"):
            planned = spec.get(key)
            if _positive(planned) and not np.isclose(float(result[key]), float(planned), rtol=1e-9, atol=0):
                return None, (f"{path}: {key} {result[key]!r} differs from {planned!r} in {rundir.SPEC}; the run "
                              f"is not counted as done")
    return result, None


def read_result(folder: str | Path) -> dict | None:
    """The run's result, or None unless result.json is complete and plausible (see ``check_result``)."""
    return check_result(folder)[0]


def write_result(folder: str | Path, result: dict) -> None:
    rundir.write_json_atomic(Path(folder) / rundir.RESULT, result)


def write_error(folder: str | Path, text: str) -> None:
    rundir.write_bytes_atomic(Path(folder) / rundir.ERROR, text.encode())


def clear_error(folder: str | Path) -> None:
    try:
        (Path(folder) / rundir.ERROR).unlink()
    except FileNotFoundError:
        pass


# ---------------------------------------------------------------------------------------------------- locks

def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux /proc; None elsewhere). With the pid it identifies a
    process uniquely: a pid reused after a kill (common in restarted containers) has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the parenthesised command name


def lock_is_live(lock: dict | None, now: float | None = None) -> bool:
    """Whether a lock document belongs to a process that is still training: on this host its pid is alive
    and (where known) has the same start time; on another host its heartbeat is recent."""
    if not isinstance(lock, dict):
        return False
    now = time.time() if now is None else now
    if lock.get("host") == socket.gethostname():
        pid = lock.get("pid")
        # pid 0 or negative would make os.kill probe a process group: such a document is garbage, not live
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or not pid_alive(pid):
            return False
        started, recorded = _process_start(pid), lock.get("pid_start")
        return started is None or recorded is None or started == recorded
    heartbeat = lock.get("heartbeat")
    if not isinstance(heartbeat, (int, float)) or isinstance(heartbeat, bool) or not np.isfinite(heartbeat):
        return False  # garbled: no evidence that anyone is alive
    # a heartbeat far in the future (a skewed clock, milliseconds, a hand edit) held the run "running" for ever
    return abs(now - heartbeat) < STALE_SECONDS


class RunLocked(Exception):
    """Another live process holds this run's lock."""


class RunLock:
    """Exclusive claim on one run folder, held for the duration of a ``with`` block.

    Mutual exclusion is an ``fcntl.flock`` on ``run.lock``, a file that is created once and never unlinked
    (unlinking it would let a process that opened the old inode and one that creates a new inode both hold a
    lock). The kernel takes the flock atomically and drops it when its holder dies, so a lock left by a
    killed process is free at once, and two processes entering over it at the same instant cannot both get
    it. On NFS, Linux maps flock to byte-range locks that the server arbitrates across hosts.

    ``lock.json`` ({pid, pid_start, host, started, heartbeat}) says who holds the run, for ``sweep status``
    and for hosts that share the folder over a file system without working locks: it is read and rewritten
    only while holding the flock (so it is never judged while half-written), and a document from a live
    owner (``lock_is_live``: another host with a fresh heartbeat, or a live pid here) makes the claim fail
    even when the flock was free. ``beat()`` refreshes the heartbeat (at most every HEARTBEAT_SECONDS).
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / rundir.LOCK
        self.lock_path = self.folder / LOCK_FILE
        self._fd = None
        self._last_beat = 0.0

    def _doc(self) -> dict:
        now = time.time()
        return {"pid": os.getpid(), "pid_start": _process_start(os.getpid()), "host": socket.gethostname(),
                "started": now, "heartbeat": now}

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "RunLock":
        if fcntl is None:
            raise InputError(f"{self.lock_path}: training into a run store needs POSIX file locks (Linux, macOS)")
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"{self.lock_path}: cannot open the run's lock file ({exc.strerror or exc})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                held = rundir.read_json(self.path)
                held = held if isinstance(held, dict) else {}  # being written, or garbage: just say busy
                raise RunLocked(f"{self.folder.name} is being trained by pid {held.get('pid', '?')} on "
                                f"{held.get('host', '?')}") from None
            raise InputError(f"{self.lock_path}: this file system cannot lock files ({exc.strerror or exc}); "
                             f"put the sweep folder on a local disk or NFS") from None
        self._fd = fd
        # Under the flock: a lock.json left by a dead owner is stale and replaced; one from a live owner
        # means a process that could not see our flock (another host on a lock-less file system) holds it.
        held = rundir.read_json(self.path)
        if lock_is_live(held) and not _is_mine(held):
            self._release()
            raise RunLocked(f"{self.folder.name} is being trained by pid {held.get('pid')} on {held.get('host')}")
        try:
            rundir.write_json_atomic(self.path, self._doc())
        except BaseException:
            self._release()
            raise
        self._last_beat = time.time()
        return self

    def beat(self) -> None:
        now = time.time()
        if self._fd is not None and now - self._last_beat >= HEARTBEAT_SECONDS:
            doc = rundir.read_json(self.path)
            doc = doc if isinstance(doc, dict) else self._doc()
            doc["heartbeat"] = now
            rundir.write_json_atomic(self.path, doc)
            self._last_beat = now

    def __exit__(self, *exc) -> None:
        try:
            self.path.unlink()  # still under the flock: nobody else can have written it since
        except FileNotFoundError:
            pass
        finally:
            self._release()


def _is_mine(lock: dict) -> bool:
    return lock.get("host") == socket.gethostname() and lock.get("pid") == os.getpid()


# --------------------------------------------------------------------------------------------------- status

@dataclass(frozen=True)
class RunStatus:
    """Where one run stands. ``step``: optimiser steps done (the later of the last metrics row and the last
    saved checkpoint, where an interrupted run resumes), of ``n_steps``; ``loss``: the final validation loss
    when done, else the latest one; ``error``: the last line of error.txt; ``notes``: files of this run that
    could not be used (a corrupt result.json, metrics rows left out), by path."""

    run_id: str
    state: str
    n_params: int
    n_tokens: int
    flops: float
    step: int
    n_steps: int
    loss: float | None = None
    error: str | None = None
    pid: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return dict(asdict(self), notes=list(self.notes))


def _last_line(path: Path) -> str | None:
    """The last non-empty line of a text file ('' when empty), or None when there is no such file."""
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"(error file unreadable: {exc.strerror or exc})"
    return lines[-1] if lines else ""


def run_status(sweep_dir: str | Path, spec: RunSpec) -> RunStatus:
    folder = run_dir(sweep_dir, spec.run_id)
    base = dict(run_id=spec.run_id, n_params=spec.n_params, n_tokens=spec.n_tokens, flops=spec.flops,
                n_steps=spec.train.n_steps)
    result, problem = check_result(folder)
    if result is not None:
        return RunStatus(state="done", step=spec.train.n_steps, loss=float(result["loss"]), **base)
    rows, notes = rundir.read_metrics(folder / rundir.METRICS)
    notes = ([problem] if problem else []) + notes
    # an interrupted run saves the step it was on, usually after its last evaluation
    step = min(max(rows[-1]["step"] if rows else 0, rundir.saved_step(folder)), spec.train.n_steps)
    loss = float(rows[-1]["loss"]) if rows else None
    progress = dict(step=step, loss=loss, notes=tuple(notes), **base)
    lock = rundir.read_json(folder / rundir.LOCK)
    if lock_is_live(lock):
        return RunStatus(state="running", pid=lock.get("pid"), **progress)
    error = _last_line(folder / rundir.ERROR)
    if error is not None:
        return RunStatus(state="failed", error=error, **progress)
    return RunStatus(state="pending", **progress)


@dataclass(frozen=True)
class SweepState:
    """Every run's status, and ``notes`` on the sweep as a whole (sweep.json rebuilt, spec.json unreadable).
    ``to_dict()`` is the JSON of ``isoflop sweep status --json``."""

    sweep_dir: str
    runs: tuple[RunStatus, ...]
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:  # a RunStatus per run (~180 characters each) filled a notebook cell; .runs has them
        return f"SweepState(sweep_dir={self.sweep_dir!r}, counts={self.counts()!r}, notes={self.notes!r})"

    def counts(self) -> dict[str, int]:
        return {s: sum(r.state == s for r in self.runs) for s in STATES}

    def to_dict(self) -> dict:
        return {"sweep_dir": self.sweep_dir, "counts": self.counts(), "runs": [r.to_dict() for r in self.runs],
                "notes": list(self.notes)}


def sweep_state(sweep_dir: str | Path) -> SweepState:
    """Every run's state; ``sweep_dir`` may be an `isoflop demo --out` folder, whose sweep is in sweep/."""
    sweep_dir = find_sweep(sweep_dir) or Path(sweep_dir)
    design, notes = _read_design(sweep_dir)
    return SweepState(str(sweep_dir), tuple(run_status(sweep_dir, spec) for spec in design.runs), tuple(notes))


def sweep_status(sweep_dir: str | Path) -> list[RunStatus]:
    return list(sweep_state(sweep_dir).runs)


# -------------------------------------------------------------------------------------------------- export

TABLE_EXTRA = ["flops_budget", "flop_convention", "train_loss", "seconds", "n_layer", "d_model"]


def _run_folders(sweep_dir: Path) -> list[Path]:
    """The run folders, sorted. The readers below need only these (not sweep.json), so they work on a sweep
    whose sweep.json is lost and on layouts written by other tools with just run_id/n_params/n_tokens."""
    if not is_sweep(sweep_dir):
        raise InputError(f"{sweep_dir}: not a sweep folder (no {DESIGN} and no runs/*/{rundir.SPEC}); create one "
                         f"with `isoflop sweep design CONFIG --out {sweep_dir}`, or for training logs run "
                         f"`isoflop ingest {sweep_dir} --out runs.parquet`")
    root = sweep_dir / RUNS
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _finished(sweep_dir: Path) -> tuple[list[dict], list[str], list[str]]:
    """(one row per finished run — for a WSD sweep, per finished cooldown —, a note per run left out because
    its result.json cannot count, the ids of runs not finished yet)."""
    rows, notes, unfinished = [], [], []
    for folder in _run_folders(sweep_dir):
        result, problem = check_result(folder)
        if result is not None and result.get("kind") == "trunk":
            continue  # a WSD trunk ends at constant learning rate, not annealed: not a result point
        if result is not None:
            rows.append({key: result.get(key) for key in TABLE_COLUMNS + TABLE_EXTRA} | {"run_id": folder.name})
        elif problem is not None:
            notes.append(f"left out run {folder.name}: {problem}")
        else:
            unfinished.append(folder.name)
    return rows, notes, unfinished


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS + TABLE_EXTRA)
    if len(frame):
        frame = frame.sort_values(["flops_budget", "n_params"], kind="stable").reset_index(drop=True)
    return frame


def export_table(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per finished run: run_id, n_params (total, exact), n_tokens, flops (what the run spent under
    its flop_convention), loss (final validation loss, nats/token), param_convention ('total'), followed by
    flops_budget, flop_convention, train_loss, seconds, n_layer, d_model. Sorted by (flops_budget, n_params).
    A run whose result.json cannot count is left out with a CorruptFileWarning naming the file and why
    (``read_runs`` returns these notes instead)."""
    rows, notes, _ = _finished(Path(sweep_dir))
    for note in notes:
        warnings.warn(note, CorruptFileWarning, stacklevel=2)
    return _table(rows)


def _run_size(folder: Path) -> tuple[float | None, float, str | None]:
    """(n_params, planned n_tokens or NaN, a note when spec.json cannot give them) of one run: from its
    spec.json (unless it names another run), n_params falling back to a plausible result.json."""
    spec, problem = read_doc(folder / rundir.SPEC)
    spec = spec if isinstance(spec, dict) else {}
    if spec.get("run_id", folder.name) != folder.name:  # copied or swapped: another run's size and tokens
        problem = f"{folder / rundir.SPEC}: is the spec of run {spec.get('run_id')!r}, not of {folder.name!r}"
        spec = {}
    n_params, planned = spec.get("n_params"), spec.get("n_tokens")
    planned = float(planned) if _positive(planned) else float("nan")
    if not _positive(n_params):
        result = read_result(folder)
        n_params = result["n_params"] if result is not None else None
    if problem is None and (n_params is None or np.isnan(planned)):
        problem = f"{folder / rundir.SPEC}: no positive n_params and n_tokens"
    return (float(n_params) if n_params is not None else None), planned, problem


def _curves(sweep_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    """Every usable evaluation of every run, with its planned_tokens, and notes on what was left out."""
    rows, notes = [], []
    for folder in _run_folders(sweep_dir):
        good, bad = rundir.read_metrics(folder / rundir.METRICS)
        notes += bad
        if not good:
            continue
        n_params, planned, problem = _run_size(folder)
        if n_params is None:
            notes.append(f"left out the curve of run {folder.name}: {problem}")
            continue
        if problem is not None:
            notes.append(f"run {folder.name}: {problem}; its planned tokens are unknown")
        for row in good:
            if "n_tokens" not in row or "flops" not in row:
                notes.append(f"{folder / rundir.METRICS}: the row of step {row['step']} has no n_tokens or "
                             f"flops; row skipped")
                continue
            rows.append({"run_id": folder.name, "step": row["step"], "n_params": n_params,
                         "n_tokens": row["n_tokens"], "flops": row["flops"], "loss": row["loss"],
                         "train_loss": row.get("train_loss"), "lr": row.get("lr"), PLANNED: planned})
    return pd.DataFrame(rows, columns=CURVE_COLUMNS + ["train_loss", "lr", PLANNED]), notes


BRANCH_COLUMNS = ["run_id", "trunk", "n_params", "branch_tokens", "n_tokens", "flops", "loss", "cooldown_steps"]


def export_branches(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per finished WSD cooldown, with the trunk it branched from and the tokens at the branch point
    (for drawing each trunk's curve from ``export_curves`` with its cooldowns); empty for a cosine sweep.
    Sorted by (n_params, n_tokens)."""
    rows = []
    for folder in _run_folders(Path(sweep_dir)):
        result = read_result(folder)
        if result is not None and result.get("kind") == "cooldown":
            rows.append({key: result.get(key) for key in BRANCH_COLUMNS})
    frame = pd.DataFrame(rows, columns=BRANCH_COLUMNS)
    if len(frame):
        frame = frame.sort_values(["n_params", "n_tokens"], kind="stable").reset_index(drop=True)
    return frame


def export_curves(sweep_dir: str | Path) -> pd.DataFrame:
    """Every evaluation of every run (finished or not): run_id, step, n_params, n_tokens (seen so far),
    flops (spent so far), loss (validation), plus train_loss and lr. Rows of metrics.jsonl that cannot be
    used are left out with a CorruptFileWarning naming the file and line."""
    frame, notes = _curves(Path(sweep_dir))
    for note in notes:
        warnings.warn(note, CorruptFileWarning, stacklevel=2)
    return frame[CURVE_COLUMNS + ["train_loss", "lr"]]


# ---------------------------------------------------------------------------------------------- RunTable

def is_sweep(path: str | Path) -> bool:
    """Whether ``path`` is a sweep folder: it holds sweep.json, or run folders with a spec.json."""
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / DESIGN).is_file():
        return True
    runs = path / RUNS
    return runs.is_dir() and any((p / rundir.SPEC).is_file() for p in runs.iterdir())


def find_sweep(path: str | Path) -> Path | None:
    """``path`` when it is a sweep folder, its ``sweep`` subfolder when that is one (the layout ``isoflop demo
    --out`` writes), else None."""
    path = Path(path)
    for candidate in (path, path / "sweep"):
        if is_sweep(candidate):
            return candidate
    return None


def read_runs(sweep_dir: str | Path, curves: bool = False) -> RunTable:
    """The sweep's runs as a RunTable (n_params total and exact, so param_convention 'total').

    curves=False: one row per finished run (its result.json). curves=True: every evaluation of every run,
    finished or not (n_tokens > 0), with ``planned_tokens`` = the run's scheduled n_tokens from its
    spec.json, so approach 1 can flag runs that stopped short.

    Only the run folders are read (runs/*/result.json, metrics.jsonl, spec.json), not sweep.json. What was
    left out and why is appended to the table's ``warnings``, each naming the file: a result.json that is
    unreadable or implausible (that run is left out), metrics rows that cannot be used, a spec.json without
    sizes, runs not finished yet. No usable row at all is an InputError that says why; a folder that is not
    a sweep is an InputError that suggests ``isoflop ingest``.
    """
    sweep_dir = Path(sweep_dir)
    if curves:
        frame, notes = _curves(sweep_dir)
        frame = frame[frame["n_tokens"] > 0]  # the evaluation before any training has no tokens yet
        empty = f"{sweep_dir}: no evaluations logged yet"
    else:
        rows, notes, unfinished = _finished(sweep_dir)
        frame = _table(rows)
        if unfinished:
            n_runs = len(rows) + len(notes) + len(unfinished)
            shown = ", ".join(unfinished[:5]) + (", …" if len(unfinished) > 5 else "")
            notes.append(f"left out {len(unfinished)} of {n_runs} runs not finished yet ({shown})")
        empty = f"{sweep_dir}: no finished runs yet"
    if len(frame) == 0:
        why = "; ".join(notes[:3]) + (f"; … ({len(notes) - 3} more)" if len(notes) > 3 else "")
        raise InputError(f"{empty}{' (' + why + ')' if why else ''}; train them with `isoflop sweep run {sweep_dir}`")
    # flops are computed from each spec under its own FLOP convention, so 6·N·D need not match them
    table = RunTable.from_frame(frame.reset_index(drop=True), param_convention="total", source=str(sweep_dir),
                               flops_tolerance=None)
    return RunTable(table.frame, table.param_convention, table.warnings + tuple(notes))
