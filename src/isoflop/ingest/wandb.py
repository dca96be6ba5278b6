"""Weights & Biases chart exports (CSV) → curves.

A chart's "Export CSV" writes a ``Step`` column and, per run, ``<run name> - <metric>`` columns (with
``__MIN`` / ``__MAX`` companions when the chart groups or smooths, which are skipped). One file can hold
many runs; each run's id is its name. A run's full history (``run.history()`` / ``scan_history()``
saved as CSV, JSON lines or a JSON list of dicts, keyed by ``_step`` and metric names) is a table of one
run and is read by `isoflop.ingest.table`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .curve import LOSS_KEYS, TOKEN_KEYS, Curve, choose_key, numeric, tokens_at

SEPARATOR = " - "


def is_chart_export(columns) -> bool:
    columns = [str(c) for c in columns]
    return "Step" in columns and any(SEPARATOR in c for c in columns)


def read_chart_csv(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None) -> list[Curve]:
    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as CSV ({exc})") from None
    if not is_chart_export(frame.columns):
        raise InputError(f"{path}: not a W&B chart export (needs a 'Step' column and '<run> - <metric>' columns)")
    metrics: dict[str, dict[str, str]] = {}
    for column in frame.columns:
        column = str(column)
        if SEPARATOR not in column or column.endswith(("__MIN", "__MAX")):
            continue
        run, _, metric = column.rpartition(SEPARATOR)  # run names may contain " - ", metric names rarely do
        metrics.setdefault(run, {})[metric] = column
    steps_all = numeric(frame["Step"], str(path), "Step")
    curves = []
    for run, columns in metrics.items():
        source = f"{path} (run {run!r})"
        key = choose_key(columns, loss_key, LOSS_KEYS, source)
        loss = numeric(frame[columns[key]], source, columns[key])
        has = np.isfinite(loss) & np.isfinite(steps_all)
        tokens = None
        tkey = choose_key(columns, tokens_key, TOKEN_KEYS, source, what="tokens key", option="--tokens-key",
                          required=False)
        if tkey is not None:
            known = numeric(frame[columns[tkey]], source, columns[tkey])
            ok = np.isfinite(known) & np.isfinite(steps_all)
            tokens = tokens_at(steps_all[has], steps_all[ok], known[ok])
        curves.append(Curve(run, steps_all[has], loss[has], key, source, n_tokens=tokens))
    if not curves:
        raise InputError(f"{path}: no '<run> - <metric>' columns")
    return curves
