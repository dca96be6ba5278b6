"""One way to write a file so that a crash at any instant leaves either the old file or the new one.

``atomic_write(path, data)`` writes to a sibling temporary file whose name is unique to this process, flushes
and fsyncs it (the bytes reach the disk before the name points at them), then ``os.replace``s it over
``path`` — atomic on POSIX and Windows — and fsyncs the folder so the rename itself survives a power cut.
A reader therefore never sees half a file, and two writers of the same path never share a temporary (its
name carries the pid and thread). ``atomic_writer(path)`` is the same as a context manager yielding the
open binary file, for writers that stream (``torch.save``). File-system failures (no such folder, a file where a folder should
be, no permission, disk full) become one ``InputError`` naming the path.

This is the POSIX "write, fsync, rename" idiom (e.g. the ext4 data-integrity notes in
Documentation/filesystems/ext4.rst and rename(2): "If newpath already exists, it will be atomically
replaced").
"""

from __future__ import annotations

import json
import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .errors import InputError

TEMP_MARK = ".tmp-"  # temporary names are .NAME.tmp-PID-THREAD; a killed writer's leftovers match ".*.tmp-*"


NAME_MAX = 255  # bytes in one file name on Linux and macOS file systems


def _temp_prefix(path: Path) -> str:
    """'.NAME.tmp-', NAME shortened so that the whole temporary name fits NAME_MAX bytes (a valid 245-byte name
    plus the suffix was refused as too long)."""
    room = NAME_MAX - len(TEMP_MARK) - 1 - 48  # the dot, and the pid-thread suffix (at most 48 digits)
    name = path.name
    while len(name.encode(errors="surrogateescape")) > room:
        name = name[:-1]
    return f".{name}{TEMP_MARK}"


def temp_path(path: str | Path) -> Path:
    """A sibling temporary name unique to this process and thread, so concurrent writers never share one."""
    path = Path(path)
    return path.with_name(f"{_temp_prefix(path)}{os.getpid()}-{threading.get_ident()}")


def _remove_stale_temps(path: Path) -> None:
    """Delete temporaries of ``path`` left by writers that were killed (their pid is gone): each was up to the
    size of the file, and nothing else would ever remove them. A live writer's temporary is left alone."""
    prefix = _temp_prefix(path)
    try:
        siblings = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for tmp in siblings:
        pid = tmp.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        try:
            tmp.unlink()
        except OSError:
            pass


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running on this host (a sweep run's lock owner, a writer of a temporary)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    # A zombie (exited, not yet reaped: a killed sweep's worker until init reaps it, which a container's
    # init may never do) answers kill(pid, 0) but holds no lock and writes nothing any more.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):  # no /proc (macOS): kill(pid, 0) is all we know
        return True


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not every platform or file system can open a folder (skip)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def path_argument(path, what: str):
    """``path`` when it is a str or os.PathLike, else InputError naming ``what`` (a number or None gave a
    TypeError from inside pathlib)."""
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"{what}: give a folder's path (a str or pathlib.Path), got {type(path).__name__} "
                         f"{path!r:.60}")
    return path


def broken_link(path: str | Path) -> str | None:
    """Where ``path`` points when it is a symbolic link to nothing (a log moved or deleted, a mount gone), else None.
    ``is_file()`` and ``exists()`` are False for such a link, so listings that test them skip it without a word."""
    path = Path(path)
    try:
        return os.readlink(path) if path.is_symlink() and not path.exists() else None
    except OSError:
        return None


def check_writable(path: str | Path, option: str) -> None:
    """Refuse an output path before the work, not after it (a fit of 100,000 runs failed at --save after 22 s):
    its folder must exist and be writable, and the path must not be a folder."""
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise InputError(f"{option} {path}: is a folder; give a file name")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: the folder {folder} is not writable")


@contextmanager
def atomic_writer(path: str | Path):
    """``with atomic_writer(path) as f: f.write(...)``: ``path`` is replaced only when the block succeeds."""
    path = Path(path)
    tmp = temp_path(path)
    _remove_stale_temps(path)
    try:
        f = open(tmp, "wb")
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc}); check that the folder exists and "
                         f"is writable") from None
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
        raise
    _fsync_folder(path.parent)


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (str is UTF-8 encoded) to ``path`` atomically; returns the path."""
    if isinstance(data, str):
        data = readable(data).encode()
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def readable(text: str) -> str:
    """``text`` as valid Unicode: a file name that is not UTF-8 reaches Python with lone surrogates ('\\udcff'),
    which no UTF-8 file can hold (the report failed to write) and strict JSON readers reject; each such
    byte becomes U+FFFD."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def brief_repr(self) -> str:
    """A dataclass's repr with its ``warnings`` cut to the first three and a count: an ingest of many logs
    carries a warning per damaged run, and 400 of them made a 30,000-character notebook cell."""
    import dataclasses

    parts = []
    for f in dataclasses.fields(self):
        if not f.repr:
            continue
        value = getattr(self, f.name)
        text = repr(value)
        if f.name == "warnings" and isinstance(value, tuple) and len(value) > 3:
            text = "(" + ", ".join(map(repr, value[:3])) + f", … {len(value) - 3} more warnings)"
        parts.append(f"{f.name}={text}")
    return f"{type(self).__name__}({', '.join(parts)})"


def strict_json(obj):
    """``obj`` with NumPy values made plain and every non-finite float (NaN, ±inf) replaced by None, so it
    serialises as strict JSON (RFC 8259 has no NaN or Infinity; Python's json module would write them and
    other readers fail)."""
    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, str):
        return readable(obj)
    if isinstance(obj, dict):
        return {readable(str(k)): strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def atomic_write_json(path: str | Path, obj, indent: int | None = 1) -> Path:
    """Write ``obj`` as strict JSON (non-finite floats become null) atomically; returns the path."""
    text = json.dumps(strict_json(obj), indent=indent, allow_nan=False)
    return atomic_write(path, text + "\n")
