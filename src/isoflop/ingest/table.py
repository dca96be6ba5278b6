"""Curves from tables: CSV, JSON lines, JSON lists of dicts or Parquet, one row per logged point.

Covers W&B run histories (``_step`` plus metric keys; rows are sparse, one per ``log`` call) and plain
curve files. The step is the first of ``STEP_KEYS`` present (``--step-key`` to choose); runs are told
apart by a ``run_id`` (or ``run``) column, and without one the file is one run named after the file.
Optional columns used when present: a tokens-seen column (``TOKEN_KEYS``), ``n_params``,
``planned_tokens``, ``planned_steps``. Rows without a step or without the loss are skipped (sparse logs).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..runs import read_frame
from .curve import LOSS_KEYS, STEP_KEYS, TOKEN_KEYS, Curve, choose_key, numeric, tokens_at

RUN_KEYS = ("run_id", "run")
_META = ("n_params", "planned_tokens", "planned_steps", "flops")


def _last_finite(values) -> float | None:
    values = values[np.isfinite(values)]
    return float(values[-1]) if values.size else None


def read_table(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None,
               step_key: str | None = None, frame=None) -> list[Curve]:
    path = Path(path)
    frame = read_frame(path) if frame is None else frame
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    step = choose_key(columns, step_key, STEP_KEYS, str(path), what="step column", option="--step-key")
    run_col = next((c for c in RUN_KEYS if c in columns), None)
    candidates = [c for c in columns if c not in (step, run_col) + _META]
    key = choose_key(candidates, loss_key, LOSS_KEYS, str(path))
    tkey = choose_key(candidates, tokens_key, TOKEN_KEYS, str(path), what="tokens key", option="--tokens-key",
                      required=False)
    steps = numeric(frame[step], str(path), step)
    loss = numeric(frame[key], str(path), key)
    tokens = None if tkey is None else numeric(frame[tkey], str(path), tkey)
    meta = {c: numeric(frame[c], str(path), c) for c in _META if c in columns}
    runs = (frame[run_col].astype(str).to_numpy() if run_col is not None else np.full(len(frame), path.stem, object))
    curves = []
    for run in dict.fromkeys(runs):
        mine = runs == run
        has = mine & np.isfinite(steps) & ~np.isnan(loss)
        run_tokens = None
        if tokens is not None:
            ok = mine & np.isfinite(tokens) & np.isfinite(steps)
            run_tokens = tokens_at(steps[has], steps[ok], tokens[ok]) if ok.any() else None
        info = {c: _last_finite(v[mine]) for c, v in meta.items()}
        curves.append(Curve(str(run), steps[has], loss[has], key, str(path), n_tokens=run_tokens,
                            n_params=info.get("n_params"), planned_steps=info.get("planned_steps"),
                            planned_tokens=info.get("planned_tokens")))
    return curves
