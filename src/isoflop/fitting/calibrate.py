"""Calibrating extrapolation intervals on the user's own runs, by compute-ordered backtests.

A bootstrap measures how much the constants move when the runs are resampled; it says nothing about how
wrong the form itself is once it is carried beyond the data, which is what dominates extrapolation error
(on Epoch's Chinchilla points a bootstrap-only 95% interval covers 32% of the held-out top decade, at a mean
width of 2.1%: `benchmarks/extrapolation.py`). So we measure that error directly, the way a scaling law is used:

1. Backtests (compute-ordered cross-validation, i.e. "rolling-origin" evaluation of forecasts: Tashman 2000,
   "Out-of-sample tests of forecasting accuracy", Int. J. Forecasting 16(4)): for cut-offs every
   ``step_decades`` below the largest run, fit on the runs below the cut-off (at least one decade of compute
   and enough runs to fit) and predict every run above it. Each prediction has a log error
   e = log L̂ − log L and a distance Δ = log10(C / largest fitted C) in decades.
2. Scores (split-conformal prediction with a distance-scaled nonconformity score: Vovk, Gammerman & Shafer
   2005, "Algorithmic Learning in a Random World", ch. 2; Lei et al. 2018, "Distribution-free predictive
   inference for regression", JASA 113(523), section 2.2 and 5.2 for locally-scaled scores): the error
   beyond run-to-run noise per decade extrapolated, s = √max(e² − σ²_noise, 0) / Δ, for Δ ≥ 0.25.
   The interval's form-error term at distance Δ is q·Δ with q the level-quantile of the scores (the
   finite-sample conformal quantile: the ⌈(n + 1)·level⌉-th smallest of n).
3. The predictive half-width in log space (`Calibration.half_width`) adds, in quadrature, run-to-run noise
   (z·σ_noise, σ_noise = 1.4826·MAD of the full fit's log residuals: Rousseeuw & Croux 1993), parameter
   uncertainty (z·σ_params, from the bootstrap members' percentile interval of log predictions: `predict.py`) and the form error q·Δ;
   z is the normal quantile of the level. So the interval widens linearly with the distance extrapolated,
   at the rate the user's own data showed.

The backtest errors also score fitting choices for selection (`select.py`): the mean relative error over
folds is a compute-ordered cross-validation error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from statistics import NormalDist

import numpy as np

from ..errors import InputError
from ..laws import FLOPS_PER_PARAM_TOKEN
from ..runs import RunTable

STEP_DECADES = 1 / 3
MAX_FOLDS = 4
MIN_TRAIN_DECADES = 0.75  # a fold fitted on less than this is too short to extrapolate from at all
MIN_DISTANCE_DECADES = 0.25  # scores nearer than this divide by ~0
MIN_SCORES = 5


COMPUTE_ONLY_KINDS = ("loss-vs-compute", "broken-power-law")  # laws of C alone: no shape in N and D


def law_loss(law, n_params=None, n_tokens=None, flops=None, unique_tokens=None):
    """A law's loss at the given runs: compute-only laws read ``flops``, data-constrained laws ``unique_tokens``."""
    if law.kind in COMPUTE_ONLY_KINDS:
        if flops is None:
            flops = FLOPS_PER_PARAM_TOKEN * np.asarray(n_params, float) * np.asarray(n_tokens, float)
        return law.loss(flops)
    if law.kind == "data-constrained":
        return law.loss(n_params, n_tokens, unique_tokens)
    return law.loss(n_params, n_tokens)


def table_loss(law, table: RunTable):
    unique = table.column("unique_tokens") if "unique_tokens" in table.frame else None
    return law_loss(law, table.n_params, table.n_tokens, table.flops, unique)


def robust_sigma(residuals) -> float:
    """1.4826·MAD: the SD of normal noise, undisturbed by a few outliers (Rousseeuw & Croux 1993)."""
    r = np.asarray(residuals, float)
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def conformal_quantile(scores, level: float) -> float:
    """The ⌈(n + 1)·level⌉-th smallest of n scores. With fewer scores than that needs (n + 1 < 1/(1 − level),
    e.g. n < 19 at 95%) the exact conformal bound is infinite; we take the largest score instead, which is
    the conformal bound at level n/(n + 1), and the calibration reports how many scores it had."""
    s = np.sort(np.asarray(scores, float))
    k = int(np.ceil((s.size + 1) * level))
    return float(s[min(k, s.size) - 1])


@dataclass(frozen=True)
class Backtests:
    """Per scored prediction: ``distance`` (decades beyond the fold's largest fitted run), ``log_error``
    (log L̂ − log L), ``fold``; per fold: ``cutoffs`` (log10 FLOPs) and ``statuses`` of the fold fits."""

    distance: np.ndarray
    log_error: np.ndarray
    fold: np.ndarray
    cutoffs: tuple[float, ...]
    statuses: tuple[str, ...]

    @property
    def n_folds(self) -> int:
        return len(self.cutoffs)

    def fold_errors(self) -> dict:
        """{cut-off (log10 FLOPs): that fold's mean |L̂/L − 1|}; a diverged fold fit (inf or nan) scores inf."""
        with np.errstate(all="ignore"):
            err = np.nan_to_num(np.abs(np.expm1(self.log_error)), nan=np.inf)
            return {cut: float(err[self.fold == k].mean()) for k, cut in enumerate(self.cutoffs)}

    def mean_abs_rel_error(self) -> float | None:
        """Mean over folds of each fold's mean |L̂/L − 1| (each cut-off counts once)."""
        if self.n_folds == 0:
            return None
        return float(np.mean(list(self.fold_errors().values())))


def run_backtests(table: RunTable, fitter, *, min_train_runs: int, step_decades: float = STEP_DECADES,
                  max_folds: int = MAX_FOLDS, min_train_decades: float | None = None) -> Backtests:
    """Fit ``fitter(train_table) -> FitResult`` below compute cut-offs and score the runs above each.

    ``min_train_decades``: the compute span a fold's training runs must cover (default MIN_TRAIN_DECADES)."""
    min_train_decades = MIN_TRAIN_DECADES if min_train_decades is None else min_train_decades
    table = table.finals()
    log_c = np.log10(table.flops)
    top, bottom = log_c.max(), log_c.min()
    distance, errors, folds, cutoffs, statuses = [], [], [], [], []
    k = 1
    while len(cutoffs) < max_folds:
        cut = top - k * step_decades
        k += 1
        below = log_c < cut
        if cut - bottom < min_train_decades or below.sum() < min_train_runs:
            break
        if below.all() or not below.any() or np.ptp(log_c[below]) < min_train_decades:
            continue
        train, test = table.subset(below), table.subset(~below)
        try:
            result = fitter(train)
        except InputError:
            continue
        with np.errstate(all="ignore"):
            log_error = np.log(table_loss(result.law, test)) - np.log(test.loss)
        distance.append(np.log10(test.flops) - log_c[below].max())
        errors.append(log_error)
        folds.append(np.full(len(test), len(cutoffs)))
        cutoffs.append(float(cut))
        statuses.append(result.status)
    cat = (lambda xs, dtype=float: np.concatenate(xs) if xs else np.array([], dtype))
    return Backtests(cat(distance), cat(errors), cat(folds, int), tuple(cutoffs), tuple(statuses))


@dataclass(frozen=True)
class Calibration:
    """How far to trust a law beyond its data, measured on the user's runs (see the module docstring).

    ``scores``: the sorted nonconformity scores (excess log error per decade); ``noise_sigma``: run-to-run
    noise in log loss; ``max_flops``: the largest run of the full fit (distances are measured from it).
    """

    noise_sigma: float
    scores: tuple[float, ...] = field(repr=False)
    max_flops: float
    n_folds: int
    cv_mean_abs_rel_error: float | None

    @property
    def calibrated(self) -> bool:
        return len(self.scores) >= MIN_SCORES

    def error_per_decade(self, level: float = 0.95) -> float | None:
        """q: the level-quantile of the scores (log-loss error per decade beyond the data)."""
        if not self.calibrated:
            return None
        return conformal_quantile(self.scores, level)

    def half_width(self, distance_decades, level: float = 0.95, params_sigma=0.0):
        """Half-width of the level interval in log loss at ``distance_decades`` beyond the largest run."""
        z = NormalDist().inv_cdf(0.5 + level / 2)
        q = self.error_per_decade(level) or 0.0
        distance = np.maximum(np.asarray(distance_decades, float), 0.0)
        return np.sqrt((z * self.noise_sigma) ** 2 + (z * np.asarray(params_sigma)) ** 2 + (q * distance) ** 2)

    def to_dict(self) -> dict:
        q = self.error_per_decade(0.95)
        return {"noise_sigma": self.noise_sigma, "error_per_decade_95": q, "n_scores": len(self.scores),
                "max_flops": self.max_flops, "n_folds": self.n_folds,
                "cv_mean_abs_rel_error": (self.cv_mean_abs_rel_error if self.cv_mean_abs_rel_error is not None
                                          and np.isfinite(self.cv_mean_abs_rel_error) else None),
                "scores": list(self.scores)}


def calibration_from_backtests(backtests: Backtests, result) -> Calibration:
    """A Calibration from backtests and the full-data fit ``result`` (its residuals give the noise)."""
    noise = robust_sigma(result.residuals)
    far = backtests.distance >= MIN_DISTANCE_DECADES
    with np.errstate(all="ignore"):
        excess = np.sqrt(np.maximum(backtests.log_error[far] ** 2 - noise**2, 0.0))
        scores = np.sort(excess / backtests.distance[far])
    return Calibration(noise_sigma=noise, scores=tuple(float(s) for s in scores if np.isfinite(s)),
                       max_flops=float(np.max(result.data.compute)), n_folds=backtests.n_folds,
                       cv_mean_abs_rel_error=backtests.mean_abs_rel_error())


def calibrate(table: RunTable, fitter, result=None, *, min_train_runs: int = 10) -> Calibration:
    """Backtest ``fitter`` on ``table`` and calibrate against ``result`` (the full fit; refitted when None)."""
    result = fitter(table.finals()) if result is None else result
    return calibration_from_backtests(run_backtests(table, fitter, min_train_runs=min_train_runs), result)
