"""One way to write a file so that a crash at any instant leaves either the old file or the new one."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .errors import InputError


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` to a temporary sibling unique to this process, fsync it, then ``os.replace`` it onto
    ``path`` (atomic on POSIX): a reader never sees half a file, and concurrent writers never share a temp.
    An OSError (no such folder, no permission, a folder in the way) is an InputError naming the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    payload = data.encode() if isinstance(data, str) else data
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())  # the bytes reach the disk before the name points at them
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def jsonable(obj):
    """``obj`` for strict JSON: NumPy values made plain, non-finite floats made None (null), recursively."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: str | Path, obj) -> Path:
    """``obj`` as strict JSON (non-finite numbers as null: ``JSON.parse`` reads every file we write)."""
    return atomic_write(path, json.dumps(jsonable(obj), indent=1, allow_nan=False) + "\n")
