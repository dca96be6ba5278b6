"""Curves from tables: CSV, JSON lines, JSON lists of dicts or Parquet, one row per logged point.

Covers W&B run histories (``_step`` plus metric keys; rows are sparse, one per ``log`` call) and plain
curve files. The step is the first of ``STEP_KEYS`` present (``--step-key`` to choose; W&B's ``_step``, a
count of log calls, with a warning); runs are told apart by a ``run_id`` (or ``run``) column, read as the
text written, and without one the file is one run named after the file. Each run's loss is the first of
``LOSS_KEYS`` it logged. Text files must be UTF-8.
Optional columns used when present: a tokens-seen column (``TOKEN_KEYS``), ``n_params``,
``planned_tokens``, ``planned_steps``, and ``truncated`` (True/False, as `isoflop ingest` writes it: a run with
a True in any row lost its end, so that a runs table ingested again keeps its cut runs out of final-loss fits,
as `isoflop.read_runs` does; an empty cell states nothing). Rows without a step or without the loss are skipped
(sparse logs).

Cut files (`read_checked`): CSV and JSON-lines writers (pandas, W&B, the csv module) end every row with a
newline, so a file whose last line has none was cut, possibly mid-number ('4.0' of '4.0268'): that line is
left out and reported, and its run is marked ``truncated`` (its last point is not its final loss). CSV
rows with fewer fields than the header, and JSON lines that do not parse, are reported and left out; where
such a line is the file's last (NUL bytes from a crash, a cut line a restarted writer appended to), the log
lost its end and its run is marked ``truncated`` as for a cut line.
``on_corrupt="error"`` raises instead.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..runs import LABELS, TRUNCATED, flags, other_orient, read_frame, separator, text_values, unique_header
from .curve import (LOSS_KEYS, STEP_KEYS, TOKEN_KEYS, Curve, choose_key, logged, logged_tokens, numeric,
                    step_key_note)

W_AND_B_NAMES = " (in W&B, two runs of one name: rename a run and export again)"
RUN_KEYS = ("run_id", "run")
TEXT_COLUMNS = RUN_KEYS + ("Name",)  # run names (W&B's runs table: 'Name'), read as written
_PER_RUN = ("n_params", "planned_tokens", "planned_steps")  # one value per run
LOSS_LABEL = LABELS[0]  # the column where `isoflop ingest` writes each run's loss key
_META = _PER_RUN + ("flops", TRUNCATED)  # not losses; a logged flops is a running total, like tokens seen


def _preview(line: str, limit: int = 60) -> str:
    return repr(line if len(line) <= limit else line[:limit] + "…")


def read_checked(path: str | Path, on_corrupt: str = "warn") -> tuple[pd.DataFrame, list[str], dict | None]:
    """A table file as a frame, with cut or malformed rows left out: (frame, problems, cut) where ``cut`` is
    the partial last row as {column: text} (None when the file ends cleanly). Other file types go to
    `isoflop.runs.read_frame` unchanged.

    The frame's index is each row's place in the file (1-based: the data row of a CSV, the line of a JSON-lines
    file), so that messages name the row the user can find even after bad rows were left out. Only empty cells
    are missing: the text "NaN" (JSON's NaN token) stays as text, a logged non-finite value (see
    `curve.logged`), not a cell the log left empty."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl", ".ndjson", ".json") or not path.is_file():
        frame = read_frame(path)
        frame.index = np.arange(1, len(frame) + 1)
        return frame, [], None
    text = read_utf8(path)
    if suffix == ".json":  # a list of records (a W&B history); numbers as written, as in JSON lines below
        try:
            data = json.loads(text, parse_int=str, parse_float=str, parse_constant=_constant)
            wrong = other_orient(data, STEP_KEYS + LOSS_KEYS)
            frame = pd.DataFrame(data) if wrong is None else None
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: cannot read ({' '.join(str(exc).split())})") from None
        if wrong is not None:
            raise InputError(f"{path}: {wrong}; save it with to_json(path, orient='records') (a list of rows), or as "
                             f"JSON lines (lines=True)")
        frame.index = np.arange(1, len(frame) + 1)
        return frame, [], None
    problems, cut = [], None
    lines = text.splitlines(keepends=True)
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines
    if lines and not lines[-1].endswith(("\n", "\r")) and len(lines) > 1:
        last = lines.pop().rstrip("\r\n")
        problems.append(f"{path}: ends without a newline, so its last line (line {len(lines) + 1}: {_preview(last)}) "
                        f"may be cut mid-value; left out, after {len(lines) - (suffix in ('.csv', '.tsv'))} complete "
                        f"rows (if the file is complete, end it with a newline)")
        cut = {"": last}
    bad_end = None  # the file's last line, where it was left out: the log lost its end, as when cut
    if suffix in (".jsonl", ".ndjson"):
        if not lines:
            raise InputError(f"{path}: empty file")
        rows, numbers = [], []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                # Numbers stay the text they were written as: a run id 1 and 1.0 (or "01") are two runs, and
                # `curve.numeric` reads the numeric keys. NaN → the text "NaN": a logged NaN, kept apart from an
                # absent key (NaN in the frame).
                row = json.loads(line, parse_int=str, parse_float=str, parse_constant=_constant)
            except ValueError:
                row = None
            if not isinstance(row, dict):
                problems.append(f"{path}: line {i + 1} is not a JSON object ({_preview(line.strip())}); left out")
                bad_end = line.strip()
                continue
            rows.append(row)
            numbers.append(i + 1)
            bad_end = None
        if not rows and problems:  # not one line parsed: not JSON lines at all, and no row is a better clue
            raise InputError(problems[0].replace("; left out", "; is the file JSON lines (one object per line)?"))
        if cut is None and bad_end is not None:
            cut = {"": bad_end}
        frame = pd.DataFrame(rows, index=numbers)
    else:
        if not lines:
            raise InputError(f"{path}: empty file")
        sep = "\t" if suffix == ".tsv" else separator(lines[0])
        if '"' not in text:  # no quoting: a row's fields are its separators + 1 (fast for large files)
            header = unique_header(lines[0].rstrip("\r\n").split(sep), path, W_AND_B_NAMES)
            keep, numbers = [lines[0]], []
            for i, line in enumerate(lines[1:]):
                if not line.strip():
                    continue
                n_fields = line.count(sep) + 1
                if n_fields != len(header):
                    problems.append(f"{path}: row {i + 1} has {n_fields} fields, the header {len(header)} "
                                    f"({_preview(line.strip())}); left out")
                    bad_end = line.rstrip("\r\n")
                    continue
                keep.append(line)
                numbers.append(i + 1)
                bad_end = None
            table_text = "".join(keep)
        else:
            records = list(csv.reader(io.StringIO("".join(lines)), delimiter=sep))
            header = unique_header(records[0], path, W_AND_B_NAMES)
            rows = [sep.join(_quote(h, sep) for h in records[0])]
            numbers = []
            for i, fields in enumerate(records[1:]):
                if not fields:
                    continue
                if len(fields) != len(header):
                    problems.append(f"{path}: row {i + 1} has {len(fields)} fields, the header {len(header)} "
                                    f"({_preview(sep.join(fields))}); left out")
                    bad_end = sep.join(_quote(f, sep) for f in fields)
                    continue
                rows.append(sep.join(_quote(f, sep) for f in fields))
                numbers.append(i + 1)
                bad_end = None
            table_text = "\n".join(rows) + "\n"
        if cut is None and bad_end is not None:
            cut = {"": bad_end}
        if cut is not None:
            partial = next(csv.reader([cut[""]], delimiter=sep), [])
            cut = dict(zip(header, partial[:-1]))  # the last field may be cut; the ones before it are whole
        try:
            # Run names as text: read as numbers, '01' and '1' would be one run, and '007' would become 7.
            # Where ';' separates the columns, ',' is the decimal point (a European spreadsheet's export); numbers
            # written with '.' there stay text, which curve.numeric reads as numbers too.
            frame = pd.read_csv(io.StringIO(table_text), sep=sep, keep_default_na=False, na_values=[""],
                                dtype=dict.fromkeys(TEXT_COLUMNS, str), decimal="," if sep == ";" else ".")
        except (ValueError, pd.errors.ParserError) as exc:
            raise InputError(f"{path}: cannot read ({exc})") from None
        if len(frame) == len(numbers):  # always, unless pandas skipped a row this loop kept
            frame.index = numbers
        else:
            frame.index = np.arange(1, len(frame) + 1)
    if problems and on_corrupt == "error":
        raise InputError(f"{problems[0]} (on_corrupt='error'; 'warn' keeps the complete rows and flags the run)")
    return frame, problems, cut


def _constant(name: str):
    return "NaN" if name == "NaN" else float(name)


def read_utf8(path: Path) -> str:
    """A text file's content, refused where it is not UTF-8: decoding Latin-1 bytes with replacement would turn
    run names 'café' and 'cafè' both into 'caf\ufffd', one run."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 byte-order mark: not Latin-1, whatever byte 0 is
        raise InputError(f"{path}: UTF-16 text (it starts with UTF-16's byte-order mark, as Excel's 'Unicode Text' "
                         f"and Windows PowerShell write); save the file as UTF-8 (e.g. iconv -f utf-16 -t utf-8)")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is not part of the header
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"{path}: byte {exc.start:,} (line {line}) is not UTF-8 ({data[exc.start:exc.start + 1]!r}; "
                         f"Latin-1 or Windows-1252?); save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)") from None


def _quote(field: str, sep: str) -> str:
    """A field written back for pandas: quoted when it holds the separator, a quote or a line break."""
    if any(c in field for c in (sep, '"', "\n", "\r")):
        return '"' + field.replace('"', '""') + '"'
    return field


def read_table(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None,
               step_key: str | None = None, frame=None, on_corrupt: str = "warn") -> list[Curve]:
    path = Path(path)
    problems, cut = [], None
    if frame is None:
        frame, problems, cut = read_checked(path, on_corrupt)
        rows = np.asarray(frame.index)  # each row's place in the file (see read_checked)
        if frame.empty:  # in a folder of logs its run vanished without a word
            raise InputError(f"{path}: no rows" + (f", its only one cut ({problems[0]})" if cut is not None else
                                                   ", only a header") + "; nothing logged to read (one of several "
                             "logs? move it aside to read the others)")
    else:
        rows = np.arange(1, len(frame) + 1)
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    step = choose_key(columns, step_key, STEP_KEYS, str(path), what="step column", option="--step-key")
    run_col = next((c for c in RUN_KEYS if c in columns), None)
    candidates = [c for c in columns if c not in (step, run_col) + _META]
    # The loss key is chosen per run, not per file: one file may hold a run that logged an evaluation loss and
    # a run that logged only its training loss (curve.LOSS_KEYS: the first a run logged).
    loss_keys = [k for k in LOSS_KEYS if k in candidates]
    if loss_key is not None or not loss_keys:
        loss_keys = [choose_key(candidates, loss_key, LOSS_KEYS, str(path))]  # the key named, or an error
    tkey = choose_key(candidates, tokens_key, TOKEN_KEYS, str(path), what="tokens key", option="--tokens-key",
                      required=False)
    steps = numeric(frame[step], str(path), step, rows)
    # Points are the rows that logged the loss, NaN and inf included: to_run_table drops those with a warning
    # (a diverged run), and rows with a loss but no usable step, saying so. Rows without the loss are a
    # sparse log's other keys and are skipped quietly.
    has_key = {k: np.asarray(logged(frame[k]), bool) for k in loss_keys}
    has_loss = np.logical_or.reduce(list(has_key.values()))
    tokens = None if tkey is None else numeric(frame[tkey], str(path), tkey, rows)
    meta = {c: numeric(frame[c], str(path), c, rows) for c in _PER_RUN if c in columns}
    row_word = "line" if path.suffix.lower() in (".jsonl", ".ndjson") else "row"
    runs = text_values(frame[run_col]) if run_col is not None else np.full(len(frame), path.stem, object)
    marked = np.zeros(len(frame), bool)  # rows flagged truncated: a runs table written by `isoflop ingest`
    if TRUNCATED in columns:
        stated = logged(frame[TRUNCATED])
        marked[stated] = flags(frame[TRUNCATED][stated], str(path), rows[stated])
    unnamed = np.flatnonzero((runs == "") & has_loss)
    if unnamed.size:  # a loss of no run: it would join a run called '' (or, as NaN, vanish from the groups)
        key = next(k for k in loss_keys if has_key[k][unnamed[0]])
        raise InputError(f"{path}: {row_word} {rows[unnamed[0]]} logs {key!r} but its {run_col!r} is empty; name "
                         f"the run in every row")
    # The run whose row was cut: named in the cut row where its run field is whole, else the last row's run.
    cut_run = None
    if cut is not None and len(runs):
        cut_run = cut.get(run_col) if run_col is not None and cut.get(run_col) else str(runs[-1])
    curves, flagged_runs = [], []
    losses = {}
    # A runs table written by `isoflop ingest` names each run's original loss key ('eval/loss') beside its 'loss'
    # column: read again, the run keeps that name rather than becoming 'loss'.
    labels = text_values(frame[LOSS_LABEL]) if LOSS_LABEL in columns else None
    # Each run's rows as positions (ascending), found once: a mask per run (runs == run) made a file of 10,000
    # runs scan 10,000 × all its rows.
    if run_col is None:  # one run: its rows are all the rows (a groupby costs more than a small log's reading)
        positions = {path.stem: np.arange(len(runs))}
    else:
        positions = pd.Series(np.arange(len(runs))).groupby(runs, sort=False).indices
    for run in dict.fromkeys(runs):
        mine = positions[run]
        key = next((k for k in loss_keys if has_key[k][mine].any()), None)
        if key is None:
            raise InputError(f"{path}: run {str(run)!r} logs no {' or '.join(map(repr, loss_keys[:4]))}; name its "
                             f"loss with --loss-key")
        has = mine[has_key[key][mine]]
        if key not in losses:
            losses[key] = numeric(frame[key], str(path), key, rows)
        loss = losses[key]
        run_tokens, tokens_error = None, None
        if tokens is not None:
            ok = mine[~np.isnan(tokens[mine])]
            if ok.size:
                run_tokens, tokens_error = logged_tokens(steps[has], steps[ok], tokens[ok],
                                                         f"{path}: run {str(run)!r}", tkey)
        info = {c: _one_value(v, mine, rows, f"{path}: run {str(run)!r}", c) for c, v in meta.items()}
        cut_here, flagged = str(run) == cut_run, bool(marked[mine].any())
        if flagged:
            flagged_runs.append(str(run))
        damage = tuple(problems) if not curves else ()  # a file's problems, reported once
        notes = () if curves else step_key_note(step, step_key, str(path))
        logged_steps = steps[has][np.isfinite(steps[has])]
        if cut_here and logged_steps.size:
            notes += (f"{path}: run {str(run)!r} ends in the cut row, so its last logged {key!r} (step "
                      f"{logged_steps.max():g}) is not its final loss; final-loss fits leave it out",)
        named = [v for v in dict.fromkeys(labels[mine]) if v] if labels is not None and key == "loss" else []
        curves.append(Curve(str(run), steps[has], loss[has], named[0] if len(named) == 1 else key, str(path),
                            n_tokens=run_tokens,
                            n_params=info.get("n_params"), planned_steps=info.get("planned_steps"),
                            planned_tokens=info.get("planned_tokens"), truncated=cut_here or flagged, notes=notes,
                            damage=damage, rows=rows[has], column=key, row_word=row_word,
                            tokens_error=tokens_error))
    if flagged_runs:
        names = ", ".join(flagged_runs[:5]) + (", …" if len(flagged_runs) > 5 else "")
        curves[0] = curves[0].with_notes([f"{path}: {len(flagged_runs)} run(s) marked truncated in its {TRUNCATED!r} "
                                          f"column ({names}): their logs lost their end, so their last logged "
                                          f"losses are not final losses; final-loss fits leave them out"])
    return curves


def _one_value(values, mine, rows, where: str, column: str) -> float | None:
    """A run's value of a per-run column (n_params, planned_tokens, …): the one finite value its rows (positions
    ``mine``) hold, None when none does. Two different values for one run are an InputError: which one is right
    is the user's call, and taking either silently gives wrong numbers."""
    finite = mine[np.isfinite(values[mine])]
    distinct = dict.fromkeys(values[finite].tolist())
    if len(distinct) > 1:
        first, second = list(distinct)[:2]
        row_a = rows[finite][values[finite] == first][0]
        row_b = rows[finite][values[finite] == second][0]
        raise InputError(f"{where} has two values of {column!r}: {first:g} (row {row_a}) and {second:g} (row "
                         f"{row_b}); a run has one — correct the column, or give each run its own run_id")
    return float(values[finite][-1]) if finite.size else None
