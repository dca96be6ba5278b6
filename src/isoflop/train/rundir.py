"""The files of one run's folder and how to write them so that a crash at any instant leaves them valid.

- ``metrics.jsonl``: one JSON object per evaluation, appended and flushed. A process killed mid-write can
  leave a truncated last line; ``read_jsonl`` skips lines that do not parse.
- ``checkpoint.pt``: written by the trainer to a temporary file, then ``os.replace``d (atomic on POSIX).
- JSON documents (``spec.json``, ``result.json``): ``write_json_atomic``, the same temp + replace pattern.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SPEC = "spec.json"
METRICS = "metrics.jsonl"
CHECKPOINT = "checkpoint.pt"
RESULT = "result.json"
ERROR = "error.txt"
LOCK = "lock.json"


def branch_checkpoint(step: int) -> str:
    """File name of a WSD trunk's kept state after ``step`` optimiser steps, where a cooldown branches."""
    return f"branch-{int(step)}.pt"


def temp_path(path: Path) -> Path:
    """A sibling temporary name unique to this process, so concurrent writers never share one."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    path = Path(path)
    tmp = temp_path(path)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # the bytes reach the disk before the name points at them
    os.replace(tmp, path)


def write_json_atomic(path: str | Path, obj) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=1) + "\n").encode())


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


def write_jsonl_atomic(path: str | Path, rows: list[dict]) -> None:
    write_bytes_atomic(path, "".join(json.dumps(r) + "\n" for r in rows).encode())


def remove_temps(folder: str | Path) -> None:
    """Delete temporary files a killed writer left behind (call only while holding the run's lock)."""
    for tmp in Path(folder).glob(".*.tmp-*"):
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
