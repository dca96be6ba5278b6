"""Bootstrap uncertainty for parametric fits: resample whole runs, refit every resample to its own optimum.

Each resample draws R runs with replacement from the R runs in the table (all rows of a run — e.g. its
checkpoints — move together), which is the same as giving every row the multiplicity of its run. Because
the objective is a weighted sum, every resample is the same problem with other weights, so all K resamples
are solved together by the batched solver of `optimize.py`, each started from the full-data optimum and
iterated to its own convergence (a test checks a sample of them against independent multi-start fits).
Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) over the resampled constants, and for
Chinchilla forms also of a = β/(α+β), the exponent of N*(C) ∝ C^a. Only resamples whose optimiser converged
enter the ensemble and the intervals; ``n_converged`` of ``n_resamples`` says how many that was (a low
fraction is itself evidence that the data do not pin the law down: see `identify.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InputError
from ..laws import LawEnsemble
from ..units import is_number
from .identify import identify
from .optimize import minimize_batch
from .parametric import DEFAULT_MAX_ITER, FitResult, _to_law, law_params


MAX_RESAMPLES = 100_000  # past this the percentiles' own Monte Carlo error is long negligible
FEW_RESAMPLES = 100  # fewer resamples than this: a 95% percentile interval is flagged
# Resamples × rows solved at once: memory set by the chunk, not by how many resamples. A chunk whose arrays fit
# a core's cache (1 MiB per float array) is re-read faster on each solver iteration: 10,000 rows × 400 resamples
# took 11.7 s in chunks of 4e6 cells and 5.3 s in these (`benchmarks/bootstrap_scale.py`; the same result).
CHUNK_CELLS = 131_072


@dataclass(frozen=True)
class BootstrapResult:
    """``fit`` refitted on ``n_resamples`` resamples of its runs: ``ensemble`` (the point law and the
    ``n_converged`` members that converged, for plans with intervals), ``samples`` {name: (K,) values}, their
    percentile ``intervals`` {name: (low, high)} at ``level``, the fit's ``identifiability`` with this evidence,
    and ``warnings`` (too few resamples for percentile ends)."""

    ensemble: LawEnsemble = field(repr=False)
    samples: dict = field(repr=False)  # name → (K,) resampled values
    intervals: dict  # name → (low, high)
    level: float
    n_resamples: int
    n_converged: int
    seed: int
    identifiability: object = None  # identify.Identifiability of the fit with this bootstrap's evidence
    fit: object = field(default=None, repr=False, compare=False)  # the FitResult resampled (its runs and noise)
    warnings: tuple[str, ...] = ()

    @property
    def fraction_converged(self) -> float:
        return self.n_converged / self.n_resamples

    def to_dict(self) -> dict:
        return {"level": self.level, "n_resamples": self.n_resamples, "n_converged": self.n_converged,
                "seed": self.seed, "intervals": {k: [lo, hi] for k, (lo, hi) in self.intervals.items()}}


def few_resamples(n_resamples: int, n_converged: int, level: float) -> tuple[str, ...]:
    """A warning when the percentile intervals rest on too few resamples: K resamples put K·(1 − level)/2 in
    each tail, so with few the ends are one or two members, not quantiles (Efron & Tibshirani 1993, §19.3 ask
    for ≥ 1,000)."""
    if n_resamples >= FEW_RESAMPLES:
        return ()
    return (f"bootstrap of {n_resamples} resamples: the intervals rest on {n_converged} converged resamples, too "
            f"few for {level:.0%} percentile ends (≈{n_converged * (1 - level) / 2:.1g} per tail); use ≥ "
            f"{FEW_RESAMPLES} (1,000 for a published number)",)


def resample_weights(groups, n_resamples: int, rng) -> np.ndarray:
    """(K, n) row weights: each row gets the number of times its group (run) was drawn."""
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    n_groups = inverse.max() + 1
    counts = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_resamples)
    return counts[:, inverse].astype(float)


def bootstrap(fit: FitResult, loss=None, groups=None, *, n_resamples: int = 1000, seed: int = 0,
              level: float = 0.95, progress=None, max_iter: int = DEFAULT_MAX_ITER) -> BootstrapResult:
    """Refit ``fit``'s law on ``n_resamples`` resamples of runs.

    By default the rows are the ones the fit was made on (``fit.data``); ``loss`` and ``groups`` (run id per
    row) may still be given, one per fitted point. ``progress``: optional callable(n_converged).
    ``max_iter``: the optimiser's iteration limit per resample (resamples that reach it are left out).
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 2:
        raise InputError(f"bootstrap needs a whole number of at least 2 resamples, got {n_resamples!r}")
    if n_resamples > MAX_RESAMPLES:
        raise InputError(f"bootstrap: {n_resamples:,} resamples is more than {MAX_RESAMPLES:,}; 1,000 to 10,000 "
                         f"already pin 95% percentile ends to well under a percent of their width")
    if not is_number(level) or not 0 < level < 1:
        raise InputError(f"bootstrap: level must be a fraction in (0, 1) such as 0.95, got {level!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"bootstrap: seed must be a whole number ≥ 0, got {seed!r}")
    if fit.problem_ is None:
        raise InputError(f"this {fit.form!r} fit carries no solver state to resample; a data-constrained fit is "
                         f"bootstrapped by isoflop.fitting.repetition.bootstrap_repetition")
    if loss is None:
        if fit.data is None:
            raise InputError("this fit carries no rows: pass loss= and groups= (one per fitted point)")
        loss, groups, base = fit.data.loss, fit.data.groups, fit.data.weights
    else:
        base = fit.data.weights if fit.data is not None else 1.0
    loss = np.asarray(loss, float)
    groups = np.arange(loss.size) if groups is None else np.asarray(groups)
    if loss.shape != (fit.n_points,) or groups.shape != loss.shape:
        raise InputError(f"bootstrap: the fit used {fit.n_points} rows (one per run: the last row of a training "
                         f"curve) but got {loss.size} losses and {groups.size} run ids; call fit.bootstrap(n) to "
                         f"resample the fitted rows")
    n_groups = np.unique(groups).size
    if n_groups < 3:
        raise InputError(f"bootstrap: the {loss.size} fitted rows belong to {n_groups} run(s) (run_id); resampling "
                         f"runs needs several — give each run its own run_id")
    rng = np.random.default_rng(seed)
    problem, log_loss = fit.problem_, np.log(loss)
    # Resamples are solved in chunks so memory does not grow with resamples × rows; one chunk for the usual
    # sizes (1,000 resamples of 240 runs), drawn from one generator either way.
    chunk = max(1, CHUNK_CELLS // loss.size)
    thetas, converged = [], []
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        weights = resample_weights(groups, size, rng) * base
        done = int(sum(c.sum() for c in converged))
        batch = minimize_batch(problem.model, log_loss, weights, np.repeat(fit.theta_[None], size, axis=0),
                               delta=fit.delta, lower=problem.lower, upper=problem.upper, free=problem.free,
                               progress=None if progress is None else (lambda n, done=done: progress(done + n)),
                               asymmetry=fit.asymmetry, max_iter=max_iter)
        thetas.append(batch.theta)
        converged.append(batch.converged)
    theta, converged = np.concatenate(thetas), np.concatenate(converged)
    if converged.sum() < 2:
        raise InputError(f"bootstrap: only {int(converged.sum())} of {n_resamples} resamples converged; the data "
                         f"do not pin the law down (see the fit's identifiability)")
    theta = theta[converged]
    members = _to_law(fit.form, theta[:, None, :], fit.law.name, getattr(fit.law, "param_convention", "total"))  # constants shaped (K, 1)
    samples = {k: np.ravel(v) for k, v in law_params(members).items()}
    if fit.form.startswith("chinchilla"):
        samples["a"] = np.ravel(members.n_params_exponent)
    tail = 100 * (1 - level) / 2
    intervals = {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for k, v in samples.items()}
    result = BootstrapResult(ensemble=LawEnsemble(point=fit.law, members=members), samples=samples,
                             intervals=intervals, level=level, n_resamples=n_resamples,
                             n_converged=int(converged.sum()), seed=seed, fit=fit,
                             warnings=few_resamples(n_resamples, int(converged.sum()), level))
    return replace(result, identifiability=identify(fit, result))  # planning from the bootstrap checks it
