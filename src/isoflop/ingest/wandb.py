"""Weights & Biases exports (CSV) → curves: chart exports (a curve per run) and runs-table exports (a point per run).

A chart's "Export CSV" writes a ``Step`` column and, per run, ``<run name> - <metric>`` columns (with
``__MIN`` / ``__MAX`` companions when the chart groups or smooths, which are skipped). One file can hold
many runs; each run's id is its name. A run's full history (``run.history()`` / ``scan_history()``
saved as CSV, JSON lines or a JSON list of dicts, keyed by ``_step`` and metric names) is a table of one
run and is read by `isoflop.ingest.table`.

The project's runs table ("Export CSV" of the Runs view) has one row per run: ``Name``, ``State``,
``Notes``, ``User``, ``Tags``, ``Created``, ``Runtime``, ``Sweep``, then the config and summary columns
(summary = each metric's last logged value). Each run becomes one point: its summary loss (the first of
`curve.LOSS_KEYS`, or ``loss_key``) at its summary step (``step_key``, or the first of `curve.STEP_KEYS`),
with tokens from a tokens-seen column and n_params from an ``n_params`` column where they exist. A run
whose ``State`` is not ``finished`` (running, crashed, failed, killed) did not reach its end, so its
summary loss is not a final loss: it is marked ``truncated``. Cut rows are handled by
`isoflop.ingest.table.read_checked`: a runs-table row that was cut is left out whole.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..runs import text_values
from .curve import (LOSS_KEYS, STEP_KEYS, TOKEN_KEYS, Curve, choose_key, logged, logged_tokens, numeric,
                    step_key_note)
from .table import read_checked

SEPARATOR = " - "
RUNS_TABLE_COLUMNS = ("State", "Created", "Runtime", "User", "Sweep")
PARAM_KEYS = ("n_params", "num_params", "num_parameters", "model/num_parameters", "parameters")


def is_chart_export(columns) -> bool:
    columns = [str(c) for c in columns]
    return "Step" in columns and any(SEPARATOR in c for c in columns)


def is_runs_table(columns) -> bool:
    """A runs-table export: a ``Name`` column and W&B's run columns, no ``Step``."""
    columns = [str(c) for c in columns]
    return "Name" in columns and "Step" not in columns and sum(c in columns for c in RUNS_TABLE_COLUMNS) >= 2


def read_runs_table(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None,
                    step_key: str | None = None, on_corrupt: str = "warn") -> list[Curve]:
    """One single-point Curve per row of a W&B runs-table export (see the module docstring)."""
    path = Path(path)
    frame, problems, _ = read_checked(path, on_corrupt)  # a cut row is left out whole: it is one run
    frame.columns = [str(c) for c in frame.columns]
    if "Name" not in frame.columns or "Step" in frame.columns:
        raise InputError(f"{path}: not a W&B runs table (needs a 'Name' column of run names and no 'Step' column)")
    columns = [c for c in frame.columns if c not in ("Name", "ID") + RUNS_TABLE_COLUMNS]
    # The loss column is chosen per run (row): the first of LOSS_KEYS the run has a value of, so that a run
    # without an evaluation loss still gets its training loss.
    loss_keys = [k for k in LOSS_KEYS if k in columns]
    if loss_key is not None or not loss_keys:
        loss_keys = [choose_key(columns, loss_key, LOSS_KEYS, str(path), what="summary loss column")]
    skey = choose_key(columns, step_key, STEP_KEYS, str(path), what="step column", option="--step-key",
                      required=False)
    tkey = choose_key(columns, tokens_key, TOKEN_KEYS, str(path), what="tokens column", option="--tokens-key",
                      required=False)
    pkey = next((c for c in PARAM_KEYS if c in columns), None)
    rows = np.asarray(frame.index)  # each row's place in the file (see read_checked)
    losses = {k: numeric(frame[k], str(path), k, rows) for k in loss_keys}
    steps = numeric(frame[skey], str(path), skey, rows) if skey is not None else np.full(len(frame), np.nan)
    tokens = numeric(frame[tkey], str(path), tkey, rows) if tkey is not None else None
    sizes = numeric(frame[pkey], str(path), pkey, rows) if pkey is not None else None
    states = np.char.lower(text_values(frame["State"]).astype(str)) if "State" in frame else None
    curves, notes = [], []
    for i, name in enumerate(text_values(frame["Name"])):
        if not name:
            notes.append(f"{path}: row {rows[i]} has no run name (its 'Name' is empty); left out")
            continue
        key = next((k for k in loss_keys if np.isfinite(losses[k][i])), None)
        if key is None:
            notes.append(f"{path}: row {rows[i]} (run {name!r}) has no {' or '.join(map(repr, loss_keys[:4]))}; "
                         f"left out")
            continue
        if skey is None and (tokens is None or not np.isfinite(tokens[i])):
            raise InputError(f"{path}: row {rows[i]} (run {name!r}): no step column and no tokens column; name one "
                             f"with --step-key or --tokens-key")
        # Without a step column the point's step is unknown: the tokens column carries the count (step 0 = unknown).
        step = steps[i] if np.isfinite(steps[i]) else 0.0
        unfinished = states is not None and states[i] not in ("finished", "nan", "")
        run_notes = ()
        if unfinished:
            run_notes = (f"{path}: run {name!r} is {states[i]}, so its summary {key!r} is not a final loss; "
                         f"final-loss fits leave it out",)
        curves.append(Curve(name, np.array([step]), np.array([losses[key][i]]), key, f"{path} (run {name!r})",
                            n_tokens=None if tokens is None or not np.isfinite(tokens[i]) else np.array([tokens[i]]),
                            n_params=None if sizes is None or not np.isfinite(sizes[i]) else float(sizes[i]),
                            truncated=unfinished, notes=run_notes, rows=np.array([rows[i]]), column=key))
    if not curves:
        raise InputError(f"{path}: no run has a {' or '.join(map(repr, loss_keys[:4]))} value")
    curves[0] = curves[0].with_notes(step_key_note(skey, step_key, str(path)) + tuple(notes), damage=problems)
    return curves


def read_chart_csv(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None,
                   on_corrupt: str = "warn") -> list[Curve]:
    path = Path(path)
    frame, problems, cut = read_checked(path, on_corrupt)
    if not is_chart_export(frame.columns):
        raise InputError(f"{path}: not a W&B chart export (needs a 'Step' column and '<run> - <metric>' columns)")
    metrics: dict[str, dict[str, str]] = {}
    for column in frame.columns:
        column = str(column)
        if SEPARATOR not in column or column.endswith(("__MIN", "__MAX")):
            continue
        run, _, metric = column.rpartition(SEPARATOR)  # run names may contain " - ", metric names rarely do
        metrics.setdefault(run, {})[metric] = column
    rows = np.asarray(frame.index)  # each row's place in the file (see read_checked), for messages
    steps_all = numeric(frame["Step"], str(path), "Step", rows)
    # A cut last row: the runs still logging at the end (a value in the last whole row) lost their tail.
    last = frame.iloc[-1] if cut is not None and len(frame) else None
    curves = []
    for run, columns in metrics.items():
        source = f"{path} (run {run!r})"
        key = choose_key(columns, loss_key, LOSS_KEYS, source)
        loss = numeric(frame[columns[key]], source, columns[key], rows)
        # The rows where this run logged the loss, NaN and inf included (W&B writes a diverged loss as "NaN" or
        # "inf"; an empty cell is a step the run did not log): to_run_table drops non-finite losses and rows
        # without a usable step, with a warning each.
        has = logged(frame[columns[key]])
        tokens, tokens_error = None, None
        tkey = choose_key(columns, tokens_key, TOKEN_KEYS, source, what="tokens key", option="--tokens-key",
                          required=False)
        if tkey is not None:
            known = numeric(frame[columns[tkey]], source, columns[tkey], rows)
            ok = ~np.isnan(known)
            tokens, tokens_error = logged_tokens(steps_all[has], steps_all[ok], known[ok], source, columns[tkey])
        truncated = last is not None and pd.notna(last[columns[key]])
        notes = ()
        logged_steps = steps_all[has][np.isfinite(steps_all[has])]
        if truncated and logged_steps.size:
            notes = (f"{source}: the file was cut while this run was still logging; its last {key!r} (step "
                     f"{logged_steps.max():g}) is not its final loss; final-loss fits leave it out",)
        curves.append(Curve(run, steps_all[has], loss[has], key, source, n_tokens=tokens, truncated=truncated,
                            notes=notes, rows=rows[has], column=columns[key], tokens_error=tokens_error))
    if not curves:
        raise InputError(f"{path}: no '<run> - <metric>' columns")
    curves[0] = curves[0].with_notes(damage=problems)
    return curves
