"""TensorBoard event files → curves, read record by record with every checksum verified (no TensorFlow needed).

An event file is a sequence of TFRecords: uint64 length, uint32 masked CRC-32C of the length, the serialized
``Event`` protobuf, uint32 masked CRC-32C of the data (tensorboard/summary/writer/record_writer.py). Each
record is checked here, so damage is found and reported, never silently cut short (TensorBoard's own loader
stops at the first bad record without a word):
- a file that ends inside a record (a job killed mid-write, a partial copy) is *cut*: what came before is
  kept, and when it is the run's last file the run is marked ``truncated`` — its last logged loss is not
  its final loss, so `RunTable.finals` leaves it out of final-loss fits;
- corrupt bytes inside a file are skipped to the next record whose length and data checksums both hold
  (a false match needs two 32-bit CRCs to agree by chance), and how many bytes were skipped is reported;
  corruption running to the end of the run's last file truncates the run as above; a run of which nothing
  could be read is skipped, and said so as damage;
- an event file that is a symbolic link to nothing (moved, deleted, a mount gone) is damage too: nothing of it
  is read, and when it is the run's last file the run is marked ``truncated``.
``on_corrupt="error"`` turns any of these into an InputError instead.

A run is a directory holding ``events.out.tfevents.*`` files (all of them, in name order, which is write
order: a restarted job writes a new file into the same directory); its id is the directory's path relative
to the source (the source's own (resolved) name when the events sit directly in it). When a tag's step goes
back (a job resumed from a checkpoint), the points the earlier attempt logged from that step on are dropped,
with a note, as TensorBoard's own loader purges them (`curve.restarts`). Scalars come from both kinds of
summaries: ``add_scalar`` of torch/tensorboardX (simple values) and TF2-style scalar tensors. The Hugging
Face Trainer's layout, ``runs/<date>_<host>/events…`` plus a ``<timestamp>/`` subfolder that
``SummaryWriter.add_hparams`` fills with hyperparameters only, is one run: directories without scalars, and
directories nested in a run's directory without a loss tag, are skipped with a note. The Trainer opens a new
``runs/<date>_<host>/`` on every launch, so in a Trainer output dir (one with trainer_state.json,
training_args.bin or checkpoint-* beside runs/) those sibling folders are one resumed run, read in launch
order and named after the first.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io_utils import broken_link
from .curve import LOSS_KEYS, TOKEN_KEYS, Curve, choose_key, logged_tokens, restarts

ON_CORRUPT = ("warn", "error")
_MAX_RECORD = 1 << 28  # a plausible record length (bytes) when searching past corrupt bytes


def event_dirs(path: Path) -> list[Path]:
    """Directories under ``path`` (itself included) that hold event files (or links to event files that are gone:
    read as damage, see `read_records`)."""
    return sorted({p.parent for p in path.rglob("*tfevents*") if p.is_file() or broken_link(p) is not None})


def _masked_crc(data: bytes) -> int:
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    return masked_crc32c(data)


def _record_at(data: bytes, pos: int) -> int | None:
    """The length of a record starting at ``pos`` whose two checksums hold, else None."""
    if pos + 16 > len(data):
        return None
    header = data[pos:pos + 8]
    (length,) = struct.unpack("<Q", header)
    if length > min(_MAX_RECORD, len(data) - pos - 16):
        return None
    (header_crc,) = struct.unpack("<I", data[pos + 8:pos + 12])
    if header_crc != _masked_crc(header):
        return None
    body = data[pos + 12:pos + 12 + length]
    (body_crc,) = struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])
    return length if body_crc == _masked_crc(body) else None


def _resync(data: bytes, start: int) -> int | None:
    """The next offset ≥ ``start`` where a whole valid record begins, or None."""
    pos = start
    while pos + 16 <= len(data):
        # A plausible length (< 2^28) has four zero high bytes: jump between candidates instead of testing each.
        hit = data.find(b"\x00\x00\x00\x00", pos + 4)
        if hit < 0:
            return None
        pos = max(pos, hit - 4)
        if _record_at(data, pos) is not None:
            return pos
        pos += 1
    return None


def read_records(path: Path) -> tuple[list[bytes], list[str], bool]:
    """The verified records of one event file, the problems found, and whether the file's end was lost."""
    target = broken_link(path)
    if target is not None:  # a part of the run's log, gone: damage, as an unreadable file is
        return [], [f"{path}: a broken link (to {target}): nothing of it could be read"], True
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if not data:  # the writer's first record (file_version) is written at open: what it logged never reached disk
        return [], [f"{path}: empty (0 bytes): nothing the writer logged reached the disk (a job killed before "
                    f"its first flush, which comes up to 2 minutes after the first scalar, or a failed copy)"], True
    records, problems, tail_lost = [], [], False
    pos, size = 0, len(data)
    while pos < size:
        length = _record_at(data, pos)
        if length is not None:
            records.append(data[pos + 12:pos + 12 + length])
            pos += 16 + length
            continue
        # Either the file ends inside this record (cut) or its bytes are damaged (corrupt).
        if pos + 12 <= size:
            (declared,) = struct.unpack("<Q", data[pos:pos + 8])
            header_ok = struct.unpack("<I", data[pos + 8:pos + 12])[0] == _masked_crc(data[pos:pos + 8])
        else:
            header_ok, declared = False, 0
        if (header_ok and pos + 16 + declared > size) or pos + 12 > size:
            problems.append(f"{path}: file cut inside a record at byte {pos:,} of {size:,}, after {len(records)} "
                            f"records")
            tail_lost = True
            break
        nxt = _resync(data, pos + 1)
        if nxt is None:
            problems.append(f"{path}: corrupt from byte {pos:,} to the end ({size - pos:,} bytes unreadable), "
                            f"after {len(records)} records")
            tail_lost = True
            break
        problems.append(f"{path}: corrupt bytes {pos:,}–{nxt:,} skipped (records before and after them kept; "
                        f"{len(records)} records read before)")
        pos = nxt
    return records, problems, tail_lost


def _scalars(files: list[Path]) -> tuple[dict, list[str], list[str], bool]:
    """tag → (steps, values) of every scalar in the files (in write order), the damage found, notes on restarts,
    and whether the run's tail was lost (its last file's end)."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.util import tensor_util

    series: dict[str, tuple[list, list, list]] = {}  # tag → steps, values, and the file each came from
    plugin: dict[str, str] = {}
    problems, tail_lost = [], False
    for i, path in enumerate(files):
        records, found, lost = read_records(path)
        problems += found
        tail_lost = lost if i == len(files) - 1 else tail_lost
        for n, record in enumerate(records):
            try:
                event = event_pb2.Event.FromString(record)
            except Exception:  # protobuf's DecodeError: checksums held but the content does not parse
                problems.append(f"{path}: record {n + 1} does not parse as an Event; skipped")
                continue
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name:
                    plugin[value.tag] = value.metadata.plugin_data.plugin_name
                if value.HasField("simple_value"):
                    number = float(value.simple_value)
                elif value.HasField("tensor") and plugin.get(value.tag) == "scalars":
                    array = tensor_util.make_ndarray(value.tensor)
                    if np.size(array) != 1:
                        continue
                    number = float(np.ravel(array)[0])
                else:
                    continue
                steps, values, where = series.setdefault(value.tag, ([], [], []))
                steps.append(float(event.step))
                values.append(number)
                where.append(path)
    out, notes = {}, []
    for tag, (steps, values, where) in series.items():
        keep, found = restarts(steps)
        for at, orphaned in found:
            notes.append(f"{where[at]}: {tag!r} restarts at step {steps[at]:g} (a resumed job): {orphaned} point(s) "
                         f"the earlier attempt logged from that step on replaced")
        out[tag] = (np.array(steps, float)[keep], np.array(values, float)[keep])
    return out, problems, notes, tail_lost


def _event_files(folder: Path) -> list[Path]:
    """A folder's own event files in name order, which is write order (a restarted job adds a later one); links to
    event files that are gone included (`read_records` reports them)."""
    return sorted(p for p in folder.iterdir() if "tfevents" in p.name and (p.is_file() or broken_link(p) is not None))


def _launched(folder: Path) -> tuple[float, str]:
    """When a folder's first event file was opened: the Unix time in its name (events.out.tfevents.<time>.<host>…);
    the folder's name where no name has one."""
    times = [p.name.split("tfevents.", 1)[-1].split(".", 1)[0] for p in _event_files(folder)]
    times = [int(t) for t in times if t.isdigit()]
    return (min(times) if times else float("inf"), folder.name)


def _is_trainer_output(folder: Path) -> bool:
    """Whether a folder is a Hugging Face Trainer's output dir (what it writes beside its runs/ folder)."""
    return any((folder / name).exists() for name in ("trainer_state.json", "training_args.bin")) or any(
        p.is_dir() and p.name.startswith("checkpoint-") for p in folder.iterdir())


def _runs(path: Path, dirs: list[Path]) -> list[tuple[list[Path], str]]:
    """(folders, run id) of each run under a log directory: a folder of event files is a run — except that the
    Hugging Face Trainer opens a new ``runs/<date>_<host>/`` folder in its output dir on every launch, so a
    resumed run's sibling folders there are one run, read in launch order (the restart rule drops what the
    abandoned attempt logged past the checkpoint) and named after the first. torch's SummaryWriter uses the same
    ``runs/`` layout for separate experiments, so folders are joined only beside the Trainer's own files.
    ``dirs``: `event_dirs` of ``path``."""
    groups: dict[Path, list[Path]] = {}
    for folder in dirs:
        parent = folder.resolve().parent  # resolved: the source may be "." or "runs"
        joined = folder != path and parent.name == "runs" and _is_trainer_output(parent.parent)
        groups.setdefault(parent if joined else folder, []).append(folder)
    out = []
    for folders in groups.values():
        folders.sort(key=_launched)
        first = folders[0]
        out.append((folders, str(first.relative_to(path)) if first != path else path.resolve().name))
    return out


def read_tensorboard(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None,
                     on_corrupt: str = "warn") -> list[Curve]:
    """One Curve per run directory under ``path`` (a directory, or one event file); see the module docstring."""
    if on_corrupt not in ON_CORRUPT:
        raise InputError(f"on_corrupt must be one of {', '.join(ON_CORRUPT)}, got {on_corrupt!r}")
    try:
        import tensorboard  # noqa: F401  (the Event protobuf and CRC come from it)
    except ImportError:
        raise InputError("reading TensorBoard event files needs the tensorboard package: "
                         "pip install 'isoflop[logs]'") from None
    path = Path(path)
    if path.is_file():
        if "tfevents" not in path.name:  # read as records, any other file is "corrupt from byte 0"
            raise InputError(f"{path}: not a TensorBoard event file (their names hold 'tfevents': "
                             f"events.out.tfevents.<time>.<host>…); drop --format tensorboard, or name the right "
                             f"--format")
        runs = [([path], path.resolve().parent.name, [path])]
    else:
        dirs = event_dirs(path)
        if not dirs:
            raise InputError(f"{path}: no TensorBoard event files (events.out.tfevents.*) in it or below it")
        runs = [(folders, run_id, [p for d in folders for p in _event_files(d)])
                for folders, run_id in _runs(path, dirs)]
    run_dirs = {d for folders, _, _ in runs for d in folders}
    # The run folders nested in each run folder, found once: asking every run which of the others lie inside it
    # made 10,000 runs take 10,000² path comparisons (minutes).
    inside: dict[Path, list[str]] = {}
    for d in run_dirs:
        for parent in d.parents:
            if parent in run_dirs:
                inside.setdefault(parent, []).append(d.name)
    curves, owner, skipped = [], {}, {}
    for folders, run_id, files in runs:
        where = folders[0]
        series, problems, restarted, tail_lost = _scalars(files)
        if problems and on_corrupt == "error":
            raise InputError(f"{problems[0]} (on_corrupt='error'; 'warn' keeps what was read and flags the run)")
        nested_in = next((d for d in where.parents if d in run_dirs), None) if path.is_dir() else None
        if not series and problems:  # nothing readable: a run lost to damage, not a side folder
            skipped.setdefault(nested_in, []).append((f"{where}: run {run_id!r} skipped, no scalar could be read: "
                                                      f"{'; '.join(problems)}", run_id))
            continue
        if not series or (nested_in is not None and loss_key is None
                          and choose_key(series, None, LOSS_KEYS, str(where), required=False) is None):
            # HF's add_hparams folder (hyperparameters only), or another side folder of a run: not a run.
            skipped.setdefault(nested_in, []).append((f"{where}: no {'loss ' if series else ''}scalars "
                                                      f"(hyperparameters only?); skipped", None))
            continue
        inner = sorted(inside.get(where, []))
        if inner and loss_key is None and choose_key(series, None, LOSS_KEYS, str(where), required=False) is None:
            # torch's add_scalars('loss', {'train': …, 'val': …}) writes each curve to a folder of its own inside the
            # run's: --loss-key cannot reach them from here, and read as runs they would be one model twice.
            raise InputError(f"{where}: no loss scalar tag (it has {', '.join(map(repr, list(series)[:6]))}); the "
                             f"folders inside it ({', '.join(inner[:4])}) hold curves of their own, as torch's "
                             f"add_scalars writes them: read the one you mean, e.g. {where / inner[-1]}")
        key = choose_key(series, loss_key, LOSS_KEYS, f"{where}", what="loss scalar tag")
        steps, loss = series[key]
        tokens, tokens_error = None, None
        tag = choose_key(series, tokens_key, TOKEN_KEYS, f"{where}", what="tokens scalar tag", option="--tokens-key",
                         required=False)
        if tag is not None:
            known_steps, known_tokens = series[tag]
            ok = ~np.isnan(known_tokens)
            tokens, tokens_error = logged_tokens(steps, known_steps[ok], known_tokens[ok], str(where), tag)
        notes = tuple(r for r in restarted if f"{key!r} restarts" in r)
        if len(folders) > 1:
            notes += (f"{where.parent}: {len(folders)} folders of one Hugging Face output dir (the Trainer opens one "
                      f"per launch: a resumed run) read as one run {run_id!r}, in launch order: "
                      f"{', '.join(d.name for d in folders)}",)
        if tail_lost and steps.size:
            notes += (f"{where}: the log ends early (after step {steps.max():g}); the last logged "
                      f"{key!r} is not the run's final loss, so final-loss fits leave this run out",)
        owner.update({d: len(curves) for d in folders})
        curves.append(Curve(run_id, steps, loss, key, str(where), n_tokens=tokens,
                            truncated=bool(tail_lost), notes=notes, damage=tuple(problems), tokens_error=tokens_error))
    if not curves:
        reasons = "; ".join(note for found in skipped.values() for note, _ in found)
        raise InputError(f"{path}: event files hold no scalars ({reasons})")
    for parent, found in skipped.items():
        i = owner.get(parent, 0)
        lost = tuple(run for _, run in found if run is not None)  # damage, reported as a CorruptLogWarning
        curves[i] = dataclasses.replace(curves[i].with_notes([n for n, run in found if run is None],
                                                             [n for n, run in found if run is not None]),
                                        lost_runs=curves[i].lost_runs + lost)
    return curves
