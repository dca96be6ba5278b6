"""Extrapolation backtests: fit on the cheap runs, predict the expensive ones, compare law forms.

A scaling law is used to extrapolate, so it is judged the same way: fit every form on the runs with
C < threshold and score the absolute relative error |L̂ − L| / L on the runs with C ≥ threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..runs import RunTable


@dataclass(frozen=True)
class Backtest:
    form: str
    threshold_flops: float
    n_train: int
    n_test: int
    mean_abs_rel_error: float
    max_abs_rel_error: float
    status: str

    def to_dict(self) -> dict:
        return dict(vars(self))


def predict(law, table: RunTable) -> np.ndarray:
    """The law's loss at each row (loss-vs-compute laws use flops; (N, D) laws use n_params, n_tokens)."""
    if law.kind == "loss-vs-compute":
        return law.loss(table.flops)
    return law.loss(table.n_params, table.n_tokens)


def backtest(table: RunTable, threshold_flops: float, forms=("chinchilla",), **fit_options) -> list[Backtest]:
    """One Backtest per form: fit below ``threshold_flops``, score at and above it."""
    from . import fit  # the package-level fit validates point counts

    table = table.finals()
    below = table.flops < threshold_flops
    if below.all() or not below.any():
        raise InputError(f"backtest threshold {threshold_flops:.3g} FLOPs leaves no runs on one side "
                         f"(runs span {table.flops.min():.3g} to {table.flops.max():.3g})")
    train, test = table.subset(below), table.subset(~below)
    results = []
    for form in forms:
        result = fit(train, form, **fit_options)
        err = np.abs(predict(result.law, test) / test.loss - 1)
        results.append(Backtest(form, float(threshold_flops), len(train), len(test), float(err.mean()),
                                float(err.max()), result.status))
    return results
