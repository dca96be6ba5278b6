"""Where a result came from: the isoflop version, the command line, a hash of each input, and the time.

Written into ``fit.json``, ``summary.json`` and the report, so a number can be traced to the data and the
command that produced it.
"""

from __future__ import annotations

import hashlib
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

from ._version import __version__

_HASHED_IN_FOLDERS = {".json", ".jsonl", ".csv", ".parquet", ".txt", ".toml"}


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's data files (relative names and contents, in sorted order; model
    checkpoints and event files are left out, so the hash is quick and stable)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                 and p.suffix.lower() in _HASHED_IN_FOLDERS
                                                 and not p.name.startswith("."))
    for f in files:
        if f is not path:
            digest.update(str(f.relative_to(path)).encode() + b"\0")
        with open(f, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def provenance(inputs=(), argv: list[str] | None = None, command: str | None = None) -> dict:
    """{"isoflop_version", "command", "inputs": [{"path", "sha256"}], "time" (UTC, ISO 8601)}. The command is
    ``command`` where given (a Python call), else the command line ``argv`` (default: this process's)."""
    argv = sys.argv if argv is None else argv
    if command is None:
        command = (shlex.join(["isoflop", *argv[1:]]) if argv and Path(argv[0]).name == "isoflop"
                   else shlex.join(argv))
    records = []
    for item in inputs:
        item = Path(item)
        records.append({"path": str(item), "sha256": file_digest(item) if item.exists() else None})
    return {"isoflop_version": __version__, "command": command, "inputs": records,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
