"""Fitting scaling laws from runs: approach 3 (parametric), approach 2 (IsoFLOP profiles), bootstrap, backtests.

Approach 1 (training-curve envelopes, Hoffmann et al. 2022 section 3.1) lives in `envelope.py`.
"""

from __future__ import annotations

from ..errors import InputError
from ..runs import RunTable
from .parametric import DEFAULT_DELTA, FORMS, FitResult, fit_arrays

# Free parameters per form: a fit needs more points than this.
N_FREE = {"chinchilla": 5, "chinchilla-tied": 4, "kaplan": 4, "loss-vs-compute": 3}


def fit(table: RunTable, form: str = "chinchilla", *, delta: float = DEFAULT_DELTA, fixed=None, bounds=None,
        n_starts: int = 8) -> FitResult:
    """Approach 3 on a RunTable's final losses (one row per run); see `parametric.fit_arrays`."""
    if form not in FORMS:
        raise InputError(f"unknown law form {form!r}; choose one of {', '.join(FORMS)}")
    table = table.finals()
    n_free = N_FREE[form] - len(fixed or {})
    if len(table) <= n_free:
        raise InputError(f"{len(table)} runs cannot pin down {n_free} free parameters of {form}: "
                         f"need at least {n_free + 1}")
    result = fit_arrays(table.loss, table.n_params, table.n_tokens, table.flops, form=form, delta=delta,
                        fixed=fixed, bounds=bounds, n_starts=n_starts, param_convention=table.param_convention,
                        labels=table.run_ids)
    return result


__all__ = ["fit", "fit_arrays", "FitResult", "FORMS", "N_FREE", "DEFAULT_DELTA"]
