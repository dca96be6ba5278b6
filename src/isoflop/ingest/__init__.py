"""Bring your own runs: training logs → a `RunTable` of loss curves.

Sources (``format="auto"`` tells them apart): TensorBoard event files (a log directory, one run per
folder of event files, the Hugging Face Trainer's ``runs/<date>_<host>/`` layout included), W&B chart
exports (CSV), runs-table exports (CSV, one point per run from its summary columns) and run histories (CSV /
JSON lines / JSON list with ``_step``), Hugging Face ``trainer_state.json`` (a file, or a folder searched
for them), and plain curve tables (CSV, JSONL, JSON, Parquet with a step column). A folder of tables is
read file by file; a folder holding more than one of these formats is an InputError naming them (``format``
picks one), except a Trainer output dir's own TensorBoard ``runs/`` beside its trainer_state.json (one run,
read from the event files).

Damaged logs (``on_corrupt``): corrupt or cut TensorBoard records, cut or malformed CSV / JSON-lines rows, and
logs in a folder that are symbolic links to nothing (an event file, a trainer_state.json, a table), are reported
in the table's warnings with how much was read and where it stopped. With "warn" (the
default) everything whole is kept, a `isoflop.errors.CorruptLogWarning` says so through Python's warnings,
and a run whose log lost its end is marked in the ``truncated`` column so that `RunTable.finals`
(final-loss fits) leaves it out instead of taking its last logged loss as final; with "error" the first
problem is an InputError.

Logs count optimizer steps; a scaling law needs parameters and tokens. The user states them:
``n_params`` (a number for every run, or {run_id: number}), and ``tokens_per_step`` (or ``batch_size``
sequences × ``seq_len`` tokens) so that n_tokens = step × tokens_per_step — or the log's own tokens-seen
key is used when none is stated. ``meta`` (a table, or its path, with ``run_id`` and any of n_params,
tokens_per_step, batch_size, seq_len, planned_steps, planned_tokens) states them per run; values stated
directly override the log's, and a per-run table overrides a single number.

Which key is the loss, per run: the first of `curve.LOSS_KEYS` the run logged — held-out loss before training
loss (see `isoflop.ingest.curve`) — or ``loss_key`` for every run. Run ids are text as written ('01' and '1'
are two runs). Points at step 0 (no tokens seen yet), at a missing or negative step, and non-finite losses
are dropped, with a warning naming where; a run whose loss stays non-finite to its end diverged, and is
marked ``truncated`` (its last finite loss is not a final loss). A step lower than the one before it is a
restart (a job resumed from a checkpoint): the points the abandoned attempt logged from that step on are
dropped (`curve.restarts`, the rule TensorBoard's loader follows), with a warning; of repeated steps the last
logged is kept. What would give wrong numbers silently is an InputError naming the file, run, row or option:
two parameter counts for one run (in the log, in ``meta`` or in ``n_params``; ``meta`` and a run's own entry
in ``n_params``, ``tokens_per_step`` or ``planned_steps`` that differ), a ``meta`` row for a run the logs do
not have, a table that is not UTF-8, a tokens-seen key that is infinite, negative or goes backwards (when
tokens come from it), a loss ≤ 0, an option that is not a positive number.
The result has columns run_id, step, n_params, n_tokens, flops = 6·N·D, loss, loss_key (the logged key each
loss came from) and planned_tokens (the learning-rate schedule's length in tokens: planned_steps × tokens per
step, NaN where unknown), which `isoflop.fitting.envelope` uses to flag runs that did not run the length of
their schedule.
"""

from __future__ import annotations

import csv
import dataclasses
import numbers
from collections import Counter
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import CorruptLogWarning, InputError, warn_at_caller
from ..io_utils import broken_link
from ..runs import CONVENTIONS, RunTable, separator, text_values
from ..units import is_number, parse_quantity
from .curve import LOSS_KEYS, STEP_KEYS, Curve, restarts
from .huggingface import STATE, is_trainer_state, output_dir, read_trainer_state, read_trainer_states
from .table import _preview, read_checked, read_table
from .tensorboard import ON_CORRUPT, event_dirs, read_tensorboard
from .wandb import is_chart_export, is_runs_table, read_chart_csv, read_runs_table

FORMATS = ("auto", "tensorboard", "huggingface", "wandb", "table")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
TEXT_LOGS = (".txt", ".log", ".out")  # printed training logs (a job's stdout): not read
_TEXT_LOG_FIX = "write each logged step and loss to a CSV with the header step,loss (one row per logged point)"
META_FIELDS = ("n_params", "tokens_per_step", "batch_size", "seq_len", "planned_steps", "planned_tokens")
MAX_RESTARTS = 3  # steps going back more often than this (and than once per 10 points) are rows out of order
_NO_VALUE = ("", "na", "n/a", "nan", "null", "none")  # a meta cell left without a value (R writes NA, pandas nan)


def parse_per_run(text: str | None, name: str):
    """'1e8' → 1e8 (every run); 'small=1e8,large=3e8' → {'small': 1e8, 'large': 3e8}; None → None."""
    if text is None:
        return None
    if "=" not in text:
        return parse_quantity(text, name)
    out = {}
    for part in text.split(","):
        run, sep, value = part.rpartition("=")
        if not sep or not run.strip():
            raise InputError(f"{name}: expected a number, or run=number pairs separated by commas; got {part!r}")
        run = run.strip()
        number = parse_quantity(value, f"{name} {run}")
        if run in out and out[run] != number:  # which one is meant is the user's call, not the last one's
            raise InputError(f"{name}: run {run!r} is given twice, as {out[run]:g} and {number:g}; give it once")
        out[run] = number
    return out


def _csv_header(path: Path) -> list[str]:
    """A CSV file's column names (its first non-blank record), [] where it has none or cannot be read. Read with
    the csv module: pandas' read_csv costs a millisecond per call, which a folder of 10,000 logs pays twice."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            return next((row for row in csv.reader(handle) if row), [])
    except (OSError, csv.Error):
        return []


def detect_format(path: str | Path) -> str:
    """The format of a source: tensorboard, huggingface, wandb or table."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    _refuse_sweep(path)
    if path.is_dir():
        found = _formats_in(path)
        if len(found) > 1:  # reading one would drop the others' runs without a word
            raise InputError(f"{path}: holds logs of {len(found)} formats ("
                             + ", ".join(f"{kind}: {example}" for kind, example in found.items())
                             + "); read one with --format, or point at one subfolder")
        return next(iter(found), "table")
    if "tfevents" in path.name:
        return "tensorboard"
    if is_trainer_state(path):
        return "huggingface"
    if path.suffix.lower() == ".csv" and _is_wandb(_csv_header(path)):
        return "wandb"
    return "table"


def _formats_in(folder: Path) -> dict[str, Path]:
    """The log formats in a folder, each with an example path: event files anywhere below it, trainer_state.json
    anywhere below it, and the tables the table reader would read (the folder's own files). The Trainer writes
    its TensorBoard logs into its output dir's runs/, beside its trainer_state.json files: one run in two
    formats, read from the event files, not a mix. JSON files are not counted as tables: beside logs they are
    configs (config.json, all_results.json), not curves."""
    found = {}
    dirs = event_dirs(folder)
    if dirs:
        found["tensorboard"] = dirs[0]
    states = [p for p in sorted(folder.rglob(STATE)) if not any(output_dir(p) in d.resolve().parents for d in dirs)]
    if states:
        found["huggingface"] = states[0]
    tables = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES
                    and p.suffix.lower() != ".json")
    if tables:
        found["table"] = tables[0]
    return found


def _refuse_sweep(path: Path) -> None:
    """An isoflop sweep folder (or its sweep.json) is not a training log: `fit` and `report` read it directly.
    Read as logs it would fail on sweep.json with a message that says nothing useful."""
    folder = path.parent if path.name == "sweep.json" else path
    if not folder.is_dir() or not any((folder / name).exists() for name in ("sweep.json", "runs", "sweep")):
        return  # cheap test first: most log folders have none of these
    from ..sweep.store import find_sweep  # imported here: the sweep package is slow to import

    if find_sweep(folder) is not None:
        raise InputError(f"{path}: an isoflop sweep folder, not training logs; `isoflop fit {folder}` and `isoflop "
                         f"report {folder}` read it directly (its curves: isoflop.read_runs({str(folder)!r}, "
                         f"curves=True))")


def _refuse_text_log(path: Path, step_key) -> None:
    """A printed training log (a job's stdout saved as .txt or .log) is no table: read as a CSV it was refused for
    want of a step column ('name it with --step-key'), which does not help. A .txt that is a table (a CSV saved as
    .txt, with a step column, or --step-key) is read as before."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_LOGS:
        return
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            first = next((line.strip() for line in handle if line.strip()), "")
    except OSError:
        return  # the reader says why
    header = next(csv.reader([first], delimiter=separator(first)), [])
    if suffix == ".txt" and (step_key is not None or any(k in header for k in STEP_KEYS)):
        return
    raise InputError(f"{path}: a text log, not a table (its first line: {_preview(first)}); ingest reads TensorBoard "
                     f"event files, W&B exports, trainer_state.json and tables (CSV, JSON lines, JSON, Parquet): "
                     f"{_TEXT_LOG_FIX}" + ("" if suffix == ".txt" else ", or name a table .csv"))


def _is_wandb(header) -> bool:
    return is_chart_export(header) or is_runs_table(header)


def _chart_step_key(step_key, path: Path) -> None:
    if step_key not in (None, "Step"):  # W&B writes a chart's steps in its 'Step' column, always
        raise InputError(f"--step-key {step_key!r}: {path} is a W&B chart export, whose steps are its 'Step' column; "
                         f"drop the option")


def _read_file_table(path: Path, loss_key, tokens_key, step_key, on_corrupt) -> list[Curve]:
    if path.suffix.lower() == ".csv":
        header = _csv_header(path)
        if is_chart_export(header):
            _chart_step_key(step_key, path)
            return read_chart_csv(path, loss_key, tokens_key, on_corrupt=on_corrupt)
        if is_runs_table(header):
            return read_runs_table(path, loss_key, tokens_key, step_key, on_corrupt=on_corrupt)
    return read_table(path, loss_key, tokens_key, step_key, on_corrupt=on_corrupt)


def read_curves(source: str | Path, *, format: str = "auto", loss_key: str | None = None,
                tokens_key: str | None = None, step_key: str | None = None, on_corrupt: str = "warn") -> list[Curve]:
    """The curves of a source, in the units the log has (steps), before parameters and tokens are attached."""
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    if on_corrupt not in ON_CORRUPT:
        raise InputError(f"--on-corrupt: choose one of {', '.join(ON_CORRUPT)}, got {on_corrupt!r}")
    path = Path(source)
    kind = detect_format(path) if format == "auto" else format
    if not path.exists():
        raise InputError(f"{path}: no such file or directory")
    _refuse_sweep(path)
    if step_key is not None and kind in ("tensorboard", "huggingface"):  # it would be silently ignored
        raise InputError(f"--step-key {step_key!r}: {kind} logs record their own steps; the option applies to "
                         f"tables and W&B runs tables")
    if kind == "tensorboard":
        return read_tensorboard(path, loss_key, tokens_key, on_corrupt=on_corrupt)
    if kind == "huggingface":
        if path.is_dir():
            return read_trainer_states(path, loss_key, tokens_key, on_corrupt)
        return [read_trainer_state(path, loss_key, tokens_key)]
    if kind == "wandb" and path.is_file() and path.suffix.lower() == ".csv":
        header = _csv_header(path)
        if is_chart_export(header):
            _chart_step_key(step_key, path)
            return read_chart_csv(path, loss_key, tokens_key, on_corrupt=on_corrupt)
        if "Name" in header:  # a runs table with few of W&B's run columns left in the export
            return read_runs_table(path, loss_key, tokens_key, step_key, on_corrupt=on_corrupt)
        raise InputError(f"{path}: not a W&B export: a chart export has 'Step' and '<run> - <metric>' columns, a "
                         f"runs table a 'Name' column; use --format table for other CSVs")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
        # Links to tables that are gone (a log moved away, a mount gone): is_file() is False for them, so they
        # were skipped without a word, and their runs with them. Damage, as a corrupt file is.
        broken = {p: target for p in sorted(path.iterdir())
                  if p.suffix.lower() in TABLE_SUFFIXES and (target := broken_link(p)) is not None}
        if not files:
            texts = sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in TEXT_LOGS)
            raise InputError(f"{path}: no event files, trainer_state.json or tables ({', '.join(TABLE_SUFFIXES)})"
                             + (f"; its text logs ({', '.join(texts[:3])}{', …' if len(texts) > 3 else ''}) are not "
                                f"read: {_TEXT_LOG_FIX}" if texts else "")
                             + ("; broken links: " + ", ".join(f"{p.name} (to {t})" for p, t in broken.items())
                                if broken else ""))
        damage = [f"{p}: a broken link (to {target}): nothing of it could be read" for p, target in broken.items()]
        if damage and on_corrupt == "error":
            raise InputError(f"{damage[0]} (on_corrupt='error'; 'warn' reads the other logs and reports it)")
        curves = [c for p in files for c in _read_file_table(p, loss_key, tokens_key, step_key, on_corrupt)]
        if damage:
            curves[0] = curves[0].with_notes(damage=damage)
        return curves
    _refuse_text_log(path, step_key)
    return _read_file_table(path, loss_key, tokens_key, step_key, on_corrupt)


def _meta_table(meta) -> tuple[dict[str, dict[str, float]], dict[str, int], str]:
    """run_id → {field: value} from a meta table or its path; run_id → its row (for messages); the table's name."""
    if meta is None:
        return {}, {}, "--meta"
    if not isinstance(meta, (str, os.PathLike, pd.DataFrame)):
        raise InputError(f"meta (--meta) must be a table's path or a pandas DataFrame with a run_id column, got "
                         f"{_show(meta)}")
    source = str(meta) if not isinstance(meta, pd.DataFrame) else "meta table"
    # read_checked keeps run ids as written ('01', '007'): read as numbers, 1 would be named '1.0'.
    frame = meta if isinstance(meta, pd.DataFrame) else read_checked(meta, on_corrupt="error")[0]
    if "run_id" not in frame.columns:
        raise InputError(f"{source}: needs a run_id column (and any of {', '.join(META_FIELDS)})")
    fields = [c for c in META_FIELDS if c in frame.columns]
    if not fields:
        raise InputError(f"{source}: none of the columns {', '.join(META_FIELDS)}; found {', '.join(frame.columns)}")
    out, where = {}, {}
    for i, run in enumerate(text_values(frame["run_id"])):
        values = {}
        for c in fields:
            cell = frame[c].iloc[i]
            if pd.notna(cell) and str(cell).strip().lower() not in _NO_VALUE:
                values[c] = parse_quantity(cell, f"{source}: row {i + 1}, column {c}")
        if run in out:  # a run listed twice: fine where the rows agree, an error where they do not
            for c, v in values.items():
                if c in out[run] and out[run][c] != v:
                    raise InputError(f"{source}: run {run!r} is listed twice with different {c} (row {where[run]}: "
                                     f"{out[run][c]:g}, row {i + 1}: {v:g}); keep one row per run")
            out[run].update(values)
            continue
        out[run], where[run] = values, i + 1
    return out, where, source


def _show(value) -> str:
    """A value as the user gave it: 0, nan, -256, '262144' (a string)."""
    if isinstance(value, str):
        return f"{value!r} (a string)"
    if isinstance(value, (bool, np.bool_)):
        return f"{value!r} (a boolean)"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):g}"
    return f"{' '.join(repr(value).split())!r:.60} (a {type(value).__name__})"  # one line: a Series' repr has many


def _check_option(value, name: str, whole: bool = False):
    """A stated option (a number for every run, or {run_id: number}): each number positive and finite (whole for
    batch_size and seq_len), else an InputError naming the option and the value as given. None passes."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {str(run): _check_option(v, f"{name} of run {run!r}", whole) for run, v in value.items()}
    kind = "a positive whole number" if whole else "a positive number"
    if not is_number(value):
        raise InputError(f"{name} must be {kind}, got {_show(value)}")
    number = float(value)
    if not (np.isfinite(number) and number > 0) or (whole and not number.is_integer()):
        raise InputError(f"{name} must be {kind}, got {_show(value)}")
    return number


def _places(curve: Curve, mask, limit: int = 3) -> str:
    """Where the points in ``mask`` are, for a warning: 'row 3 at step -100, row 7, …' or 'step -5'."""
    out = []
    for i in np.flatnonzero(mask)[:limit]:
        step = f"step {curve.step[i]:g}" if np.isfinite(curve.step[i]) else None
        if curve.rows is not None:
            out.append(f"{curve.row_word} {int(curve.rows[i])}" + (f" at {step}" if step else ""))
        else:
            out.append(step or f"point {i + 1}")
    more = int(np.sum(mask)) - limit
    return ", ".join(out) + (f" and {more} more" if more > 0 else "")


def _stated(value, run: str):
    """A per-run value: a number for every run, or the run's entry of a dict."""
    if isinstance(value, dict):
        return value.get(run)
    return value


def _per_run(run: str, field: str, in_meta, meta_source: str, stated, option: str):
    """A run's value of ``field`` from the meta table, else from the option. The meta table overrides a single
    number for every run (a default), but a run given its own, different value in both is an InputError: which
    one is right is the user's call."""
    own = stated.get(run) if isinstance(stated, dict) else None
    if in_meta is not None and own is not None and in_meta != own:
        raise InputError(f"run {run!r} has two values of {field}: {in_meta:g} in {meta_source} and {own:g} in "
                         f"{option}; give it in one place")
    return in_meta if in_meta is not None else _stated(stated, run)


def to_run_table(curves: list[Curve], *, n_params=None, tokens_per_step=None, batch_size=None, seq_len=None,
                 planned_steps=None, meta=None, param_convention: str = "total", source: str = "logs") -> RunTable:
    """Attach parameters and tokens to curves: the RunTable of their points (see the module docstring)."""
    if param_convention not in CONVENTIONS:
        raise InputError(f"param_convention (--param-convention) must be one of {', '.join(CONVENTIONS)}, got {param_convention!r}")
    # Options from Python arrive unchecked (the CLI parses its own): a string or a zero would otherwise fail
    # deep inside numpy, or fall through to "no parameter count" / "no point with tokens seen".
    n_params = _check_option(n_params, "n_params (--params)")
    tokens_per_step = _check_option(tokens_per_step, "tokens_per_step (--tokens-per-step)", whole=True)
    batch_size = _check_option(batch_size, "batch_size (--batch-size)", whole=True)
    seq_len = _check_option(seq_len, "seq_len (--seq-len)", whole=True)
    planned_steps = _check_option(planned_steps, "planned_steps (--planned-steps)", whole=True)
    if (batch_size is None) != (seq_len is None):
        raise InputError("give --batch-size and --seq-len together (tokens per step = batch size × sequence length)")
    if batch_size is not None and tokens_per_step is not None:
        raise InputError("give --tokens-per-step or --batch-size with --seq-len, not both")
    if batch_size is not None:
        tokens_per_step = batch_size * seq_len
    if not curves:
        raise InputError(f"{source}: no runs found (no rows with both a step and a loss)")
    per_run, meta_rows, meta_source = _meta_table(meta)
    ids = [c.run_id for c in curves]
    for curve in curves:  # a run named after a file or folder whose name is not UTF-8 cannot be written out
        try:
            curve.run_id.encode("utf-8")
        except UnicodeEncodeError:
            where = curve.source.encode("utf-8", "backslashreplace").decode("utf-8")
            raise InputError(f"{where}: run id {curve.run_id!r} (a file or folder name) is not UTF-8; rename it (or "
                             f"name a one-run source with --run-id)") from None
    repeated = sorted(r for r, n in Counter(ids).items() if n > 1)  # not ids.count: quadratic in runs
    if repeated:
        where = [c.source for c in curves if c.run_id == repeated[0]]
        raise InputError(f"run id {repeated[0]!r} occurs twice ({' and '.join(where[:2])}); give each run its own "
                         f"folder or file name")
    for mapping, option in ((n_params, "--params"), (tokens_per_step, "--tokens-per-step"),
                            (planned_steps, "--planned-steps"), (per_run, meta_source)):
        unknown = sorted(set(mapping) - set(ids)) if isinstance(mapping, dict) else []
        if unknown:
            row = f" (row {meta_rows[unknown[0]]})" if mapping is per_run else ""
            raise InputError(f"{option}: no run named {unknown[0]!r}{row}; runs are {', '.join(ids)}")
    # Each run's points are positions into its curve's arrays, and the table is built once at the end: a
    # DataFrame per run (built, filtered, deduplicated, concatenated) cost milliseconds per run, a minute for a
    # folder of 10,000 small logs.
    each_point = {name: [] for name in ("step", "n_tokens", "loss")}
    each_run = {name: [] for name in ("run_id", "n_params", "planned_tokens", "loss_key", "truncated", "points")}
    warnings = []
    for curve in curves:
        info = per_run.get(curve.run_id, {})
        run = curve.run_id
        size = _per_run(run, "n_params", info.get("n_params"), meta_source, n_params, "--params") or curve.n_params
        if size is None:
            raise InputError(f"{curve.source}: run {curve.run_id!r} has no parameter count; give --params 1.2e8 "
                             f"(every run) or --params {curve.run_id}=1.2e8,… (or a --meta table)")
        if size < 1:
            raise InputError(f"{curve.source}: run {curve.run_id!r} has n_params {size:g}, below 1; counts are in "
                             f"units (parameters), not millions or billions")
        step_tokens = info.get("tokens_per_step") or (info["batch_size"] * info["seq_len"]
                                                      if "batch_size" in info and "seq_len" in info else None)
        step_tokens = _per_run(run, "tokens per step", step_tokens, meta_source, tokens_per_step, "--tokens-per-step")
        steps = np.asarray(curve.step, float)
        if step_tokens is not None:
            tokens = steps * step_tokens
        elif curve.tokens_error is not None:  # the log's tokens-seen key is corrupt, and tokens would come from it
            raise InputError(curve.tokens_error)
        elif curve.n_tokens is not None:
            tokens = np.asarray(curve.n_tokens, float)
        else:
            raise InputError(f"{curve.source}: run {curve.run_id!r} has no token count; give --tokens-per-step "
                             f"(or --batch-size and --seq-len), or --tokens-key naming its tokens-seen key")
        loss = np.asarray(curve.loss, float)
        # Points without a usable step first: a missing step (an empty cell, a null) or a negative one is not a
        # place on the curve (and dedup would treat all missing steps as one repeated step).
        missing = ~np.isfinite(steps)
        if missing.any():
            warnings.append(f"{curve.source}: dropped {int(missing.sum())} point(s) with a missing or non-finite "
                            f"step ({_places(curve, missing)})")
        negative = steps < 0
        if negative.any():
            warnings.append(f"{curve.source}: dropped {int(negative.sum())} point(s) at a negative step "
                            f"({_places(curve, negative)})")
        with np.errstate(invalid="ignore"):
            fractional = np.isfinite(steps) & (steps != np.round(steps))
        if fractional.any():  # an optimiser step is a whole count: a 1.5 is another column (epochs?) or corrupt
            raise InputError(f"{curve.source}: run {curve.run_id!r} has fractional steps "
                             f"({_places(curve, fractional)}); a step counts optimiser steps — check the step "
                             f"column (--step-key)")
        points = np.flatnonzero(~(missing | negative))  # the points kept so far, as positions in the curve
        standing, found = restarts(steps[points])  # in the order logged, before sorting by step
        if len(found) > max(MAX_RESTARTS, len(points) // 10):  # newest-first or shuffled rows, not a resumed job
            raise InputError(f"{curve.source}: run {run!r} steps go back {len(found)} times in {len(points)} points: "
                             f"not the restarts of a resumed job but rows out of order; sort the log by time (or "
                             f"step) and read it again")
        if found:
            at = ", ".join(f"{steps[points[i]]:g}" for i, _ in found[:3])
            at += f" and {len(found) - 3} more" if len(found) > 3 else ""
            warnings.append(f"{curve.source}: run {run!r} restarts at step {at} (a resumed job): dropped the "
                            f"{sum(n for _, n in found)} point(s) the earlier attempt logged from that step on")
            points = points[standing]
        placed = len(points)
        # Of repeated steps the last logged, in step order: np.unique of the reversed steps finds each step's last
        # occurrence, sorted by step.
        _, last_of_step = np.unique(steps[points][::-1], return_index=True)
        points = points[len(points) - 1 - last_of_step]
        if len(points) < placed:
            warnings.append(f"{curve.source}: {placed - len(points)} repeated steps, kept the last logged")
        started = tokens[points] > 0
        if (~started).any():
            at_zero = (steps[points][~started] == 0).all()
            unseen = np.zeros(len(steps), bool)
            unseen[points[~started]] = True
            warnings.append(f"{curve.source}: dropped {int((~started).sum())} point(s) "
                            + ("at step 0 (no tokens seen)" if at_zero
                               else f"with no tokens seen ({_places(curve, unseen)})"))
        finite = np.isfinite(loss[points])
        # A loss that turns non-finite and stays so to the end: the run diverged, and its last finite loss (often
        # a spike) is no final loss. Earlier non-finite points are dropped alone.
        last = np.flatnonzero(finite & started)
        tail = len(finite) - 1 - last[-1] if last.size else 0  # the points after the last finite loss
        diverged = tail > 0
        if diverged:
            warnings.append(f"{curve.source}: run {run!r} diverged: its {curve.loss_key!r} is non-finite from step "
                            f"{steps[points[-tail]]:g} to the end ({tail} point(s) dropped), so its last finite "
                            f"loss is not a final loss; final-loss fits leave it out")
        isolated = ~finite & started
        isolated[len(finite) - tail:] = False
        if isolated.any():
            bad = np.zeros(len(steps), bool)
            bad[points[isolated]] = True
            warnings.append(f"{curve.source}: dropped {int(isolated.sum())} non-finite {curve.loss_key!r} "
                            f"value(s) ({_places(curve, bad)})")
        only_zero = len(points) > 0 and bool((steps[points] == 0).all())
        points = points[started & finite]
        if not points.size:
            raise InputError(f"{curve.source}: run {curve.run_id!r} has no point with tokens seen and a finite "
                             f"{curve.loss_key!r}" + (": every point is at step 0 (logged without a step: pass the "
                                                      "optimizer step to the logger, e.g. add_scalar(tag, loss, "
                                                      "step), or name the step column with --step-key)"
                                                      if only_zero else ""))
        # Checked here, not left to RunTable.from_frame: its message would name a row of the combined table
        # and the column 'loss', not the file's own row and column.
        nonpositive = loss[points] <= 0
        if nonpositive.any():
            i = int(points[np.flatnonzero(nonpositive)[0]])
            raise InputError(f"{curve.at(i)}: {curve.loss[i]:g} must be positive (a loss in nats per token)")
        plan_steps = (_per_run(run, "planned_steps", info.get("planned_steps"), meta_source, planned_steps,
                               "--planned-steps") or curve.planned_steps)
        planned = info.get("planned_tokens") or curve.planned_tokens
        if planned is None and plan_steps is not None:
            # The schedule's length in tokens at this run's own tokens per step (from its last point).
            last_step, last_tokens = steps[points[-1]], tokens[points[-1]]
            ratio = step_tokens if step_tokens is not None else (last_tokens / last_step if last_step > 0
                                                                  else np.nan)
            planned = plan_steps * ratio
        each_point["step"].append(steps[points])
        each_point["n_tokens"].append(tokens[points])
        each_point["loss"].append(loss[points])
        for name, v in (("run_id", curve.run_id), ("n_params", float(size)), ("loss_key", curve.loss_key),
                        ("planned_tokens", np.nan if planned is None else float(planned)),
                        ("truncated", bool(curve.truncated or diverged)), ("points", len(points))):
            each_run[name].append(v)
        warnings.extend(curve.damage + curve.notes)
    keys = dict.fromkeys(c.loss_key for c in curves)
    if len(keys) > 1:
        warnings.append(f"runs use different loss keys ({', '.join(map(repr, keys))}); name one with --loss-key")

    def repeat(name, dtype):  # a per-run value on each of the run's points
        return np.repeat(np.array(each_run[name], dtype=dtype), each_run["points"])

    frame = pd.DataFrame({"run_id": repeat("run_id", object), "step": np.concatenate(each_point["step"]),
                          "n_params": repeat("n_params", float), "n_tokens": np.concatenate(each_point["n_tokens"]),
                          "loss": np.concatenate(each_point["loss"]), "planned_tokens": repeat("planned_tokens", float),
                          "loss_key": repeat("loss_key", object), "truncated": repeat("truncated", bool)})
    table = RunTable.from_frame(frame, param_convention=param_convention, source=source)
    return RunTable(table.frame, param_convention, table.warnings + tuple(warnings))


def ingest(source: str | Path, *, format: str = "auto", loss_key: str | None = None, tokens_key: str | None = None,
           step_key: str | None = None, n_params=None, tokens_per_step=None, batch_size=None, seq_len=None,
           planned_steps=None, meta=None, run_id: str | None = None, param_convention: str = "total",
           on_corrupt: str = "warn") -> RunTable:
    """Training logs at ``source`` → a RunTable of curves (see the module docstring).

    ``run_id`` renames the run of a source that holds exactly one. ``on_corrupt``: "warn" (keep what is whole,
    report the damage, mark runs that lost their end as truncated) or "error" (stop at the first problem).
    """
    if not isinstance(source, (str, os.PathLike)):
        raise InputError(f"source must be a path (a str or pathlib.Path), got {_show(source)}")
    curves = read_curves(source, format=format, loss_key=loss_key, tokens_key=tokens_key, step_key=step_key,
                         on_corrupt=on_corrupt)
    if run_id is not None:
        if not str(run_id).strip():  # else blamed on a 'run_id' column the source may not have
            raise InputError("run_id (--run-id): empty; give the run a name, or leave the option out to name it "
                             "after its file or folder")
        if len(curves) != 1:
            raise InputError(f"{source}: --run-id names one run, but the source has {len(curves)}: "
                             f"{', '.join(c.run_id for c in curves[:5])}")
        curves = [dataclasses.replace(curves[0], run_id=run_id)]
    table = to_run_table(curves, n_params=n_params, tokens_per_step=tokens_per_step, batch_size=batch_size,
                         seq_len=seq_len, planned_steps=planned_steps, meta=meta, param_convention=param_convention,
                         source=str(source))
    damage = [d for c in curves for d in c.damage]
    if damage:  # loud by default: Python prints it once to stderr, the CLI in red
        cut = sorted({c.run_id for c in curves if c.truncated})
        lost = [run for c in curves for run in c.lost_runs]
        warn_at_caller(f"{source}: {len(damage)} damaged part(s) of the logs ({damage[0]}"
                       f"{'; …' if len(damage) > 1 else ''}); everything whole was kept"
                       + (f", and {len(cut)} run(s) that lost their end are left out of final-loss fits "
                          f"({', '.join(cut[:5])})" if cut else "")
                       + (f"; {len(lost)} run(s) skipped because nothing of their logs could be read "
                          f"({', '.join(lost[:5])})" if lost else ""), CorruptLogWarning)
    return table


def summarize_runs(table: RunTable) -> list[dict]:
    """One strict-JSON dict per run of an ingested table, for display: run_id, points, loss_key, n_params,
    n_tokens (the most seen), last_loss (at the last step), planned_tokens (None where unknown) and truncated
    (the log lost its end: last_loss is not a final loss, and final-loss fits leave the run out)."""
    frame = table.frame.sort_values(["run_id", "step"], kind="stable") if "step" in table.frame else table.frame
    # Each run's rows made contiguous (runs in order of first appearance, rows in order within a run), then read
    # at each run's first and last row: a DataFrame per run (groupby's loop) cost seconds for 10,000 runs.
    codes, names = pd.factorize(frame["run_id"])
    order = np.argsort(codes, kind="stable")
    codes = codes[order]
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    last = np.r_[first[1:], len(codes)] - 1

    def column(name):
        return frame[name].to_numpy()[order]

    nan = np.full(len(first), np.nan)
    planned = np.fmax.reduceat(column("planned_tokens").astype(float), first) if "planned_tokens" in frame else nan
    tokens = np.fmax.reduceat(column("n_tokens").astype(float), first)  # fmax: the most seen, NaN skipped
    keys = column("loss_key")[first] if "loss_key" in frame else [None] * len(first)
    truncated = (np.logical_or.reduceat(column("truncated").astype(bool), first) if "truncated" in frame
                 else np.zeros(len(first), bool))
    sizes, losses = column("n_params")[first], column("loss")[last]
    return [{"run_id": str(names[codes[f]]), "points": int(end - f + 1), "loss_key": None if k is None else str(k),
             "n_params": float(n), "n_tokens": float(t), "last_loss": float(loss),
             "planned_tokens": float(p) if np.isfinite(p) else None, "truncated": bool(cut)}
            for f, end, k, n, t, loss, p, cut in zip(first, last, keys, sizes, tokens, losses, planned, truncated)]


def write_runs(table: RunTable, path: str | Path) -> Path:
    """Write a RunTable's frame as Parquet, CSV or JSON lines, by the file's extension, atomically: a write
    killed midway leaves the previous file whole (`io_utils.atomic_writer`), never a cut one that reads as
    complete."""
    from ..io_utils import atomic_writer

    path = Path(path)
    suffix = path.suffix.lower()
    frame = table.frame
    def parquet(f):
        frame.to_parquet(f, index=False)

    def jsonl(f):
        frame.to_json(f, orient="records", lines=True)

    writers = {".parquet": parquet, ".pq": parquet, ".csv": lambda f: frame.to_csv(f, index=False),
               ".jsonl": jsonl, ".ndjson": jsonl}
    if suffix not in writers:
        raise InputError(f"{path}: unknown output type {suffix!r}; use .parquet, .csv or .jsonl")
    try:
        with atomic_writer(path) as f:  # an unwritable path or missing folder: InputError naming it
            writers[suffix](f)
    except ImportError:
        raise InputError(f"{path}: writing Parquet needs pyarrow (pip install 'isoflop[parquet]'); "
                         f"or write .csv / .jsonl") from None
    return path


__all__ = ["ingest", "read_curves", "to_run_table", "write_runs", "summarize_runs", "detect_format", "parse_per_run",
           "Curve",
           "LOSS_KEYS", "FORMATS", "ON_CORRUPT"]
