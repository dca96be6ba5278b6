"""Bootstrap uncertainty for parametric fits: resample whole runs, refit every resample to its own optimum.

Each resample draws R runs with replacement from the R runs in the table (all rows of a run — e.g. its
checkpoints — move together), which is the same as giving every row the multiplicity of its run. Because
the objective is a weighted sum, every resample is the same problem with other weights, so all K resamples
are solved together by the batched solver of `optimize.py`, each started from the full-data optimum and
iterated to its own convergence (a test checks a sample of them against independent multi-start fits).
Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) over the resampled constants, and for
Chinchilla forms also of a = β/(α+β), the exponent of N*(C) ∝ C^a.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..laws import LawEnsemble
from .optimize import minimize_batch
from .parametric import FitResult, _to_law, law_params


@dataclass(frozen=True)
class BootstrapResult:
    ensemble: LawEnsemble
    samples: dict  # name → (K,) resampled values
    intervals: dict  # name → (low, high)
    level: float
    n_resamples: int
    n_converged: int
    seed: int

    def to_dict(self) -> dict:
        return {"level": self.level, "n_resamples": self.n_resamples, "n_converged": self.n_converged,
                "seed": self.seed, "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()}}


def resample_weights(groups, n_resamples: int, rng) -> np.ndarray:
    """(K, n) row weights: each row gets the number of times its group (run) was drawn."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = inverse.max() + 1
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_resamples)
    return counts[:, inverse].astype(float)


def bootstrap(fit: FitResult, loss, groups, *, n_resamples: int = 1000, seed: int = 0, level: float = 0.95,
              progress=None) -> BootstrapResult:
    """Refit ``fit``'s law on ``n_resamples`` resamples of runs (``groups``: run id per row of ``loss``).

    ``progress``: optional callable(n_converged) as resamples reach their optimum.
    """
    if n_resamples < 2:
        raise InputError(f"bootstrap needs at least 2 resamples, got {n_resamples}")
    rng = np.random.default_rng(seed)
    weights = resample_weights(groups, n_resamples, rng)
    problem, log_loss = fit.problem_, np.log(np.asarray(loss, float))
    batch = minimize_batch(problem.model, log_loss, weights, np.repeat(fit.theta_[None], n_resamples, axis=0),
                           delta=fit.delta, lower=problem.lower, upper=problem.upper, free=problem.free,
                           progress=progress)
    theta = batch.theta
    members = _to_law(fit.form, theta[:, None, :], fit.law.name, getattr(fit.law, "param_convention", "total"))  # constants shaped (K, 1)
    samples = {k: np.ravel(v) for k, v in law_params(members).items()}
    if fit.form.startswith("chinchilla"):
        samples["a"] = np.ravel(members.n_params_exponent)
    tail = 100 * (1 - level) / 2
    intervals = {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for k, v in samples.items()}
    return BootstrapResult(ensemble=LawEnsemble(point=fit.law, members=members), samples=samples,
                           intervals=intervals, level=level, n_resamples=n_resamples,
                           n_converged=int(batch.converged.sum()), seed=seed)
