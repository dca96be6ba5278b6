"""Fitting scaling laws from runs: approach 3 (parametric), approach 2 (IsoFLOP profiles), bootstrap, backtests.

Approach 1 (training-curve envelopes, Hoffmann et al. 2022 section 3.1) lives in `envelope.py`; whether a fit
is pinned down by its data in `identify.py`; calibrated predictions in `predict.py` (`calibrate.py` measures
extrapolation error by compute-ordered backtests); form and fitting-choice selection in `select.py`; two
further published forms in `forms.py`; fitted repetition laws in `repetition.py`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..runs import RunTable
from .parametric import DEFAULT_DELTA, DEFAULT_MAX_ITER, FORMS, FitData, FitResult, fit_arrays

# Free parameters per form: a fit needs more points than this.
N_FREE = {"chinchilla": 5, "chinchilla-tied": 4, "kaplan": 4, "loss-vs-compute": 3}
WEIGHTINGS = ("none", "compute")


def compute_weights(flops) -> np.ndarray:
    """Weights that grow by one per decade of compute above the smallest run (mean 1): the runs nearest an
    extrapolation target count more, a fitting choice `select.py` compares against equal weights."""
    decades = np.log10(np.asarray(flops, float))
    w = 1.0 + decades - decades.min()
    return w / w.mean()


def fit(table: RunTable, form: str = "chinchilla", *, delta: float = DEFAULT_DELTA, fixed=None, bounds=None,
        n_starts: int = 8, asymmetry: float = 0.5, weighting: str = "none",
        max_iter: int = DEFAULT_MAX_ITER) -> FitResult:
    """Approach 3 on a RunTable's final losses (one row per run); see `parametric.fit_arrays`.

    A table of training curves (several rows per run) is fitted on each run's last row; the result says so in
    its warnings and keeps those rows (``result.data``), so ``result.bootstrap(n)`` resamples the same runs.
    ``weighting``: "none" or "compute" (`compute_weights`). ``asymmetry`` > 0.5: the lower-envelope objective.
    """
    if form not in FORMS:
        raise InputError(f"unknown law form {form!r}; choose one of {', '.join(FORMS)}")
    if weighting not in WEIGHTINGS:
        raise InputError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")
    n_rows = len(table)
    table = table.finals()
    n_free = N_FREE[form] - len(fixed or {})
    if len(table) <= n_free:
        raise InputError(f"{len(table)} runs cannot pin down {n_free} free parameters of {form}: "
                         f"need at least {n_free + 1}")
    weights = compute_weights(table.flops) if weighting == "compute" else None
    result = fit_arrays(table.loss, table.n_params, table.n_tokens, table.flops, form=form, delta=delta,
                        weights=weights, fixed=fixed, bounds=bounds, n_starts=n_starts,
                        param_convention=table.param_convention, labels=table.run_ids, asymmetry=asymmetry,
                        max_iter=max_iter)
    notes = ()
    if n_rows > len(table):
        notes = (f"training curves: fitted each run's last row ({len(table)} runs of {n_rows} rows)",)
    unique = table.column("unique_tokens") if "unique_tokens" in table.frame else None
    return replace(result, warnings=notes + result.warnings, data=replace(result.data, unique_tokens=unique))


# identify() and calibrate() stay in their modules (isoflop.fitting.identify / .calibrate): exported here, the
# functions would shadow the submodules of the same name.
from .calibrate import Calibration  # noqa: E402  (these modules use fit() above)
from .identify import Identifiability, require_identified  # noqa: E402
from .predict import Prediction, predict_loss  # noqa: E402
from .repetition import bootstrap_repetition, fit_repetition  # noqa: E402
from .select import CANDIDATES, FitChoice, Selection, select_fit  # noqa: E402

__all__ = ["fit", "fit_arrays", "FitResult", "FitData", "FORMS", "N_FREE", "DEFAULT_DELTA", "WEIGHTINGS",
           "compute_weights", "require_identified", "Identifiability", "predict_loss", "Prediction",
           "Calibration", "select_fit", "Selection", "FitChoice", "CANDIDATES", "fit_repetition",
           "bootstrap_repetition"]
