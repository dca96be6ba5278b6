"""The files of one run's folder and how to write them so that a crash at any instant leaves them valid.

- ``metrics.jsonl``: one JSON object per evaluation, appended and flushed. A process killed mid-write can
  leave a truncated last line; ``read_metrics`` skips it and any other unusable row, with a note naming
  the file and line (``read_jsonl``, kept for existing callers, skips them without a word).
- ``checkpoint.pt``: written by the trainer through ``isoflop.io_utils.atomic_writer`` (temp, fsync, replace).
  ``checkpoint.json`` follows each save (of it or of a WSD branch state) with the step saved, so that
  ``sweep status`` can say where an interrupted run will resume without loading torch and the checkpoint.
- JSON documents (``spec.json``, ``result.json``): ``write_json_atomic``, i.e. ``io_utils.atomic_write_json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .. import io_utils
from ..units import is_number

SPEC = "spec.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
CHECKPOINT_INFO = "checkpoint.json"
RESULT = "result.json"
ERROR = "error.txt"
LOCK = "lock.json"


def branch_checkpoint(step: int) -> str:
    """File name of a WSD trunk's kept state after ``step`` optimiser steps, where a cooldown branches."""
    return f"branch-{int(step)}.pt"


def saved_step(run_dir: str | Path) -> int:
    """The step of the run's latest saved state, from ``checkpoint.json`` (0 when none is recorded)."""
    info = read_json(Path(run_dir) / CHECKPOINT_INFO)
    step = info.get("step") if isinstance(info, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) and step > 0 else 0


def temp_path(path: Path) -> Path:
    """A sibling temporary name unique to this process (see ``isoflop.io_utils.temp_path``)."""
    return io_utils.temp_path(path)


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    io_utils.atomic_write(path, data)


def write_json_atomic(path: str | Path, obj) -> None:
    io_utils.atomic_write_json(path, obj)


def read_json(path: str | Path):
    """The parsed document, or None when the file is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def append_jsonl(path: str | Path, row: dict) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()


def read_jsonl(path: str | Path) -> list[dict]:
    """All complete rows; a missing file gives [], and a truncated or garbled line is skipped."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _row_problem(row) -> str | None:
    """Why a parsed metrics row cannot be used, or None: ``step`` a whole number ≥ 0, ``loss`` a finite
    number, and ``n_tokens`` / ``flops`` (where present) finite numbers ≥ 0."""
    if not isinstance(row, dict):
        return f"not a JSON object ({type(row).__name__})"
    step = row.get("step")
    if not (is_number(step) and math.isfinite(step) and step == int(step) and step >= 0):
        return f"step {step!r} is not a whole number ≥ 0"
    loss = row.get("loss")
    if not (is_number(loss) and math.isfinite(loss)):
        return f"loss {loss!r} is not a finite number"
    for key in ("n_tokens", "flops"):
        value = row.get(key, 0)
        if not (is_number(value) and math.isfinite(value) and value >= 0):
            return f"{key} {value!r} is not a finite number ≥ 0"
    return None


def read_metrics(path: str | Path) -> tuple[list[dict], list[str]]:
    """(the usable rows of a metrics.jsonl, one note per line left out and why).

    A missing file gives ([], []). A line that is not JSON, or whose step / loss / n_tokens / flops is not
    a sensible number, is left out with a note naming the file and line, so one bad row never stops the
    readers of the rest of the run (or the sweep). ``step`` comes back as an int.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return [], []
    except OSError as exc:
        return [], [f"{path}: unreadable ({exc.strerror or exc}); its loss curve is left out"]
    rows, notes = [], []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            last = number == len(lines)  # no newline after it: a write cut off by a kill
            why = "incomplete (its write was cut off)" if last else "not valid JSON"
            notes.append(f"{path}: line {number} is {why}; row skipped")
            continue
        problem = _row_problem(row)
        if problem is not None:
            notes.append(f"{path}: line {number}: {problem}; row skipped")
            continue
        rows.append(dict(row, step=int(row["step"])))
    return rows, notes


def write_jsonl_atomic(path: str | Path, rows: list[dict]) -> None:
    write_bytes_atomic(path, "".join(json.dumps(r) + "\n" for r in rows).encode())


def remove_temps(folder: str | Path) -> None:
    """Delete temporary files a killed writer left behind (call only while holding the run's lock)."""
    for tmp in Path(folder).glob(".*.tmp-*"):
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
