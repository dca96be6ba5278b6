"""The run store: one folder per run under a sweep folder, written so that a crash at any instant is harmless.

Layout::

    SWEEP_DIR/sweep.json                 the design (config + every run spec)
    SWEEP_DIR/runs/RUN_ID/spec.json      the run's spec
                          metrics.jsonl  loss curve, one row per evaluation (a truncated last line is skipped)
                          checkpoint.pt  model + optimiser + RNG + step, replaced atomically
                          lock.json      {pid, host, heartbeat}: a process is training this run
                          result.json    final numbers; written atomically, its presence means "done"
                          error.txt      traceback of a failed attempt

Status of a run: ``done`` (a valid result.json), ``running`` (a lock held by a live process: same host and
its pid alive with the same start time, or another host and a heartbeat younger than ``STALE_SECONDS``),
``failed`` (error.txt), ``pending`` otherwise (``step``: its last logged evaluation). A lock left by a
killed process is stale and taken over.

No torch here: results and curves are read as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..train import rundir
from .design import RunSpec, SweepDesign

DESIGN = "sweep.json"
RUNS = "runs"
STALE_SECONDS = 600.0  # a lock from another host whose heartbeat is older than this is abandoned
HEARTBEAT_SECONDS = 10.0
STATES = ("done", "running", "failed", "pending")

TABLE_COLUMNS = ["run_id", "n_params", "n_tokens", "flops", "loss", "param_convention"]
CURVE_COLUMNS = ["run_id", "step", "n_params", "n_tokens", "flops", "loss"]


def run_dir(sweep_dir: str | Path, run_id: str) -> Path:
    return Path(sweep_dir) / RUNS / run_id


def init_sweep(sweep_dir: str | Path, design: SweepDesign) -> Path:
    """Create the sweep folder: sweep.json and one folder with spec.json per run. Idempotent for the same
    design; a folder holding a different design is an InputError (start a new folder instead)."""
    sweep_dir = Path(sweep_dir)
    doc = design.to_dict()
    existing = rundir.read_json(sweep_dir / DESIGN)
    if existing is not None and existing.get("runs") != json.loads(json.dumps(doc["runs"])):
        raise InputError(f"{sweep_dir} already holds a different sweep design; choose another output folder "
                         f"or delete it")
    (sweep_dir / RUNS).mkdir(parents=True, exist_ok=True)
    if existing is None:
        rundir.write_json_atomic(sweep_dir / DESIGN, doc)
    for spec in design.runs:
        folder = run_dir(sweep_dir, spec.run_id)
        folder.mkdir(exist_ok=True)
        if not (folder / rundir.SPEC).exists():
            rundir.write_json_atomic(folder / rundir.SPEC, spec.to_dict())
    return sweep_dir


def load_design(sweep_dir: str | Path) -> SweepDesign:
    path = Path(sweep_dir) / DESIGN
    doc = rundir.read_json(path)
    if doc is None:
        raise InputError(f"{sweep_dir}: no sweep here ({DESIGN} missing or unreadable); create one with "
                         f"`isoflop sweep design CONFIG --out {sweep_dir}` or run a config file")
    return SweepDesign.from_dict(doc)


def read_result(folder: str | Path) -> dict | None:
    """The run's result, or None unless result.json is complete and holds a finite loss."""
    result = rundir.read_json(Path(folder) / rundir.RESULT)
    if not isinstance(result, dict):
        return None
    loss = result.get("loss")
    if not isinstance(loss, (int, float)) or not np.isfinite(loss):
        return None
    return result


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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def lock_is_live(lock: dict | None, now: float | None = None) -> bool:
    """Whether a lock document belongs to a process that is still training: on this host its pid is alive
    and (where known) has the same start time; on another host its heartbeat is recent."""
    if not isinstance(lock, dict):
        return False
    now = time.time() if now is None else now
    if lock.get("host") == socket.gethostname():
        pid = lock.get("pid")
        if not isinstance(pid, int) or not _pid_alive(pid):
            return False
        started, recorded = _process_start(pid), lock.get("pid_start")
        return started is None or recorded is None or started == recorded
    return now - float(lock.get("heartbeat", 0.0)) < STALE_SECONDS


class RunLocked(Exception):
    """Another live process holds this run's lock."""


class RunLock:
    """Exclusive claim on one run folder, held for the duration of a ``with`` block.

    Created with O_CREAT|O_EXCL, so two processes never both create it; a stale lock (dead pid on this
    host, or an old heartbeat from another) is replaced. ``beat()`` refreshes the heartbeat (at most every
    HEARTBEAT_SECONDS), so other hosts can tell a live run from an abandoned one.
    """

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / rundir.LOCK
        self._last_beat = 0.0

    def _doc(self) -> dict:
        now = time.time()
        return {"pid": os.getpid(), "pid_start": _process_start(os.getpid()), "host": socket.gethostname(),
                "started": now, "heartbeat": now}

    def __enter__(self) -> "RunLock":
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                held = rundir.read_json(self.path)
                if held is None:  # being written this instant, or garbage left by a crash
                    time.sleep(0.05)
                    held = rundir.read_json(self.path)
                if lock_is_live(held):
                    raise RunLocked(f"{self.path.parent.name} is being trained by pid {held.get('pid')} on "
                                    f"{held.get('host')}") from None
                try:
                    self.path.unlink()  # stale: its owner died
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self._doc(), f)
            self._last_beat = time.time()
            return self
        raise RunLocked(f"{self.path.parent.name}: could not take the lock")

    def beat(self) -> None:
        now = time.time()
        if now - self._last_beat >= HEARTBEAT_SECONDS:
            doc = rundir.read_json(self.path) or self._doc()
            doc["heartbeat"] = now
            rundir.write_json_atomic(self.path, doc)
            self._last_beat = now

    def __exit__(self, *exc) -> None:
        held = rundir.read_json(self.path)
        if held is None or (held.get("pid") == os.getpid() and held.get("host") == socket.gethostname()):
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


# --------------------------------------------------------------------------------------------------- status

@dataclass(frozen=True)
class RunStatus:
    """Where one run stands. ``step``: optimiser steps done (last metrics row), of ``n_steps``; ``loss``: the
    final validation loss when done, else the latest one; ``error``: the last line of error.txt."""

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

    def to_dict(self) -> dict:
        return asdict(self)


def run_status(sweep_dir: str | Path, spec: RunSpec) -> RunStatus:
    folder = run_dir(sweep_dir, spec.run_id)
    base = dict(run_id=spec.run_id, n_params=spec.n_params, n_tokens=spec.n_tokens, flops=spec.flops,
                n_steps=spec.train.n_steps)
    result = read_result(folder)
    if result is not None:
        return RunStatus(state="done", step=spec.train.n_steps, loss=float(result["loss"]), **base)
    rows = rundir.read_jsonl(folder / rundir.METRICS)
    step = int(rows[-1]["step"]) if rows else 0
    loss = float(rows[-1]["loss"]) if rows else None
    lock = rundir.read_json(folder / rundir.LOCK)
    if lock_is_live(lock):
        return RunStatus(state="running", step=step, loss=loss, pid=lock.get("pid"), **base)
    error = folder / rundir.ERROR
    if error.exists():
        lines = error.read_text(errors="replace").strip().splitlines()
        return RunStatus(state="failed", step=step, loss=loss, error=lines[-1] if lines else "", **base)
    return RunStatus(state="pending", step=step, loss=loss, **base)


def sweep_status(sweep_dir: str | Path) -> list[RunStatus]:
    return [run_status(sweep_dir, spec) for spec in load_design(sweep_dir).runs]


# -------------------------------------------------------------------------------------------------- export

def _run_folders(sweep_dir: Path) -> list[Path]:
    root = Path(sweep_dir) / RUNS
    if not root.is_dir():
        raise InputError(f"{sweep_dir}: no runs folder; is this a sweep directory?")
    return sorted(p for p in root.iterdir() if p.is_dir())


def export_table(sweep_dir: str | Path) -> pd.DataFrame:
    """One row per finished run: run_id, n_params (total, exact), n_tokens, flops (what the run spent under
    its flop_convention), loss (final validation loss, nats/token), param_convention ('total'), followed by
    flops_budget, flop_convention, train_loss, seconds, n_layer, d_model. Sorted by (flops_budget, n_params).
    A WSD sweep gives one row per finished cooldown; its trunks (constant learning rate to the end, not
    annealed: not a result point) are left out."""
    rows = []
    for folder in _run_folders(Path(sweep_dir)):
        result = read_result(folder)
        if result is None or result.get("kind") == "trunk":
            continue
        rows.append({key: result.get(key) for key in TABLE_COLUMNS + ["flops_budget", "flop_convention",
                                                                      "train_loss", "seconds", "n_layer", "d_model"]})
    extra = ["flops_budget", "flop_convention", "train_loss", "seconds", "n_layer", "d_model"]
    frame = pd.DataFrame(rows, columns=TABLE_COLUMNS + extra)
    if len(frame):
        frame = frame.sort_values(["flops_budget", "n_params"], kind="stable").reset_index(drop=True)
    return frame


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
    flops (spent so far), loss (validation), plus train_loss and lr."""
    frames = []
    for folder in _run_folders(Path(sweep_dir)):
        spec = rundir.read_json(folder / rundir.SPEC)
        rows = rundir.read_jsonl(folder / rundir.METRICS)
        if spec is None or not rows:
            continue
        frame = pd.DataFrame(rows)
        frame.insert(0, "run_id", spec["run_id"])
        frame["n_params"] = int(spec["n_params"])
        frames.append(frame)
    columns = CURVE_COLUMNS + ["train_loss", "lr"]
    if not frames:
        return pd.DataFrame(columns=columns)
    curves = pd.concat(frames, ignore_index=True)
    return curves[[c for c in columns if c in curves.columns]]
