"""Approach 3: fit a parametric law to (N, D, L) observations (Hoffmann et al. 2022, section 3.3).

Objective (Hoffmann et al. 2022, eq. 3; Besiroglu et al. 2024): Σ_i Huber_δ(log L̂_i − log L_i), δ = 1e-3, with
log L̂ in log-sum-exp form. Forms and their internal parameters θ:
- ``chinchilla``: log L̂ = LSE(a − α log N, b − β log D, e); A = e^a, B = e^b, E = e^e.
- ``chinchilla-tied``: the same with α = β.
- ``kaplan`` (Kaplan et al. 2020, eq. 1.5): log L̂ = α_D · LSE(q − p log N, w − log D); p = α_N/α_D,
  N_c = e^(q/p), D_c = e^w.
- ``loss-vs-compute``: log L̂ = LSE(e, c − γ log C); L = E + (C0/C)^γ with C0 = e^(c/γ).

How the global optimum is found fast, from generic starting points (nothing tuned to a data set):
1. Variable projection for starts: once the exponents are fixed, each law is linear in its non-negative
   coefficients (E, A, B for Chinchilla; N_c^p, D_c after raising L to 1/α_D for Kaplan; E, C0^γ for
   loss-vs-compute). For a grid of exponents those coefficients are solved exactly by non-negative
   weighted least squares (weights 1/L²: relative error ≈ log residual), all grid points at once, by
   enumerating the active sets. The true Huber objective ranks the grid points; the best are the starts.
   Both passes run over row chunks (the least squares through its normal equations XᵀWX, XᵀWy), so memory
   does not grow with grid size × rows.
2. All starts are refined together by the batched Levenberg–Marquardt/IRLS solver of `optimize.py` with
   analytic Jacobians to a loose tolerance, and the lowest objective is refined alone to full precision. On
   large data sets (more than 20,000 rows) the grid's coefficients are solved, the grid scored and the starts
   refined on a fixed random subsample of 20,000 rows, and only the best of them (by the objective on all
   rows) is refined on all rows.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from ..errors import ConvergenceWarning, InputError, warn_at_caller
from ..io_utils import brief_repr
from ..laws import (FLOPS_PER_PARAM_TOKEN, BrokenPowerLaw, ChinchillaLaw, KaplanIrreducibleLaw, KaplanLaw,
                    LossVsComputeLaw)
from .optimize import BatchModel, LSEModel, huber, minimize_batch, residual_jacobian, side_weights

FORMS = ("chinchilla", "chinchilla-tied", "kaplan", "loss-vs-compute")
DEFAULT_DELTA = 1e-3
DEFAULT_MAX_ITER = 1000
_EXPONENT_GRID = np.linspace(0.05, 2.0, 14)  # generic: covers every published LM exponent with margin
_LOG_FLOOR = np.log(1e-10)  # log of a coefficient the non-negative solve set to zero


# Rows per chunk when scoring the start grid: the (G, rows, terms) arrays of one chunk stay near 1 MiB, so fit
# memory does not grow with grid size × rows (a million rows would otherwise need tens of GB), and a chunk stays
# in a core's cache (a million rows fitted in 2.91 s, 3.30 s in chunks of 32 MiB; the same constants).
_CHUNK_ELEMENTS = 1 << 17


def _row_chunks(n, per_row):
    """Slices covering range(n) with at most ``_CHUNK_ELEMENTS // per_row`` rows each."""
    step = max(1, _CHUNK_ELEMENTS // max(per_row, 1))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _normal_equations(design, n, G, m):
    """Sufficient statistics of G weighted least-squares problems, accumulated over row chunks.

    ``design(rows)`` → (Phi (G, r, m), target (G, r), weights (G, r) or (r,)) for a slice of rows. Returns
    XᵀWX (G, m, m), XᵀWy (G, m) and yᵀWy (G,): all that least squares needs, whatever the number of rows.
    """
    XtWX, XtWy, yWy = np.zeros((G, m, m)), np.zeros((G, m)), np.zeros(G)
    with np.errstate(all="ignore"):  # extreme exponents overflow; those grid points get non-finite starts, ranked last
        for rows in _row_chunks(n, G * (m + 2)):
            Phi, target, w = design(rows)
            w = np.broadcast_to(w, target.shape)
            XtW = np.swapaxes(Phi, 1, 2) * w[:, None, :]
            XtWX += XtW @ Phi
            XtWy += (XtW @ target[..., None])[..., 0]
            yWy += (w * target * target).sum(axis=1)
    return XtWX, XtWy, yWy


def _nnls_batch(XtWX, XtWy, yWy):
    """Non-negative weighted least squares for many small problems at once, from their normal equations.

    XtWX: (G, m, m), XtWy: (G, m), yWy: (G,) (see `_normal_equations`). Enumerates all 2^m − 1 active sets
    (m ≤ 3), solves each set's normal equations for every g, keeps the feasible solution with the lowest
    weighted SSE = yᵀWy − 2 cᵀXᵀWy + cᵀXᵀWX c.
    """
    G, m = XtWy.shape
    best = np.zeros((G, m))
    best_sse = np.full(G, np.inf)
    for size in range(1, m + 1):
        for cols in itertools.combinations(range(m), size):
            XX, b = XtWX[:, cols][:, :, cols], XtWy[:, cols]
            with np.errstate(all="ignore"):
                coef = np.linalg.solve(XX + 1e-12 * np.eye(size), b[..., None])[..., 0]
                sse = yWy - 2 * (coef * b).sum(axis=1) + (coef * (XX @ coef[..., None])[..., 0]).sum(axis=1)
            ok = np.all(coef >= 0, axis=1) & np.isfinite(sse) & (sse < best_sse)
            full = np.zeros((G, m))
            full[:, cols] = coef
            best = np.where(ok[:, None], full, best)
            best_sse = np.where(ok, sse, best_sse)
    return best


def _log_coef(c):
    return np.log(np.maximum(c, np.exp(_LOG_FLOOR)))


def _start_data(start_rows, *arrays):
    """The rows the start grid is scored on: all, or ``start_rows`` (a subsample of large data: starts only
    need to fall in the right basin, and the grid's cost is grid points × rows)."""
    return arrays if start_rows is None else tuple(a[start_rows] for a in arrays)


@dataclass(frozen=True)
class _Problem:
    """One form on one data set: the LSE model, θ bounds, free mask and the grid of starting points."""

    model: BatchModel
    theta_names: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    free: np.ndarray
    starts: np.ndarray  # (G, P)


def _chinchilla_problem(logn, logd, loss, w, tied, fixed, bounds, start_rows=None):
    n = logn.size
    names = ("a", "b", "e", "alpha") + (() if tied else ("beta",))
    P = len(names)
    one = np.ones(n)  # terms: 0 = a − α log N, 1 = b − β log D, 2 = e
    model = LSEModel(((0, 0, one), (0, 3, -logn), (1, 1, one), (1, 3 if tied else 4, -logd), (2, 2, one)), 3, n)
    # Natural-unit bounds → θ bounds (E, A, B through log).
    lower = np.array([-50.0, -50.0, -50.0, 0.0] + ([] if tied else [0.0]))
    upper = np.array([80.0, 80.0, 10.0, 5.0] + ([] if tied else [5.0]))
    index = {"A": 0, "B": 1, "E": 2, "alpha": 3, "beta": 3 if tied else 4}
    for key, (lo, hi) in (bounds or {}).items():
        i = index[key]
        to_theta = np.log if key in ("A", "B", "E") else float
        lower[i] = max(lower[i], to_theta(lo) if lo > 0 or key not in ("A", "B", "E") else lower[i])
        upper[i] = min(upper[i], to_theta(hi))
    free = np.ones(P, bool)
    fixed_theta = {}
    for key, value in (fixed or {}).items():
        i = index[key]
        fixed_theta[i] = np.log(value) if key in ("A", "B", "E") else float(value)
        free[i] = False
        lower[i] = upper[i] = fixed_theta[i]
    # Exponent grid (fixed exponents collapse their axis).
    ga = [fixed_theta[3]] if 3 in fixed_theta else _EXPONENT_GRID
    if tied:
        grid = np.array([(a, a) for a in ga])
    else:
        gb = [fixed_theta[4]] if 4 in fixed_theta else _EXPONENT_GRID
        grid = np.array(list(itertools.product(ga, gb)))
    grid = np.clip(grid, lower[[3, 3 if tied else 4]], upper[[3, 3 if tied else 4]])
    G = len(grid)
    coef_slots = {0: 1, 1: 2, 2: 0}  # θ index of a, b, e → column of Phi (A, B, E)
    keep = [col for i, col in coef_slots.items() if i not in fixed_theta]
    known = {col: np.exp(fixed_theta[i]) for i, col in coef_slots.items() if i in fixed_theta}

    # The grid has few distinct exponents: raise each row to each of them once, then index.
    alphas, ia = np.unique(grid[:, 0], return_inverse=True)
    betas, ib = np.unique(grid[:, 1], return_inverse=True)

    s_logn, s_logd, s_loss, s_w = _start_data(start_rows, logn, logd, loss, w)

    def design(rows):
        N, D = np.exp(s_logn[rows]), np.exp(s_logd[rows])
        Phi = np.stack([np.broadcast_to(1.0, (G, N.size)), (N[None, :] ** -alphas[:, None])[ia],
                        (D[None, :] ** -betas[:, None])[ib]], axis=2)
        target = np.broadcast_to(s_loss[rows], (G, N.size)).copy()
        for col, value in known.items():  # fixed coefficients move to the target side
            target -= value * Phi[:, :, col]
        return Phi[:, :, keep], target, s_w[rows] / s_loss[rows] ** 2

    coef = np.zeros((G, 3))
    coef[:, keep] = _nnls_batch(*_normal_equations(design, s_loss.size, G, len(keep)))
    starts = np.column_stack([_log_coef(coef[:, 1]), _log_coef(coef[:, 2]), _log_coef(coef[:, 0]), grid[:, 0]]
                             + ([] if tied else [grid[:, 1]]))
    for i, value in fixed_theta.items():
        starts[:, i] = value
    return _Problem(model, names, lower, upper, free, starts)


def _kaplan_problem(logn, logd, loss, w, start_rows=None):
    n = logn.size  # θ = (q, p, w, α_D); terms: 0 = q − p log N, 1 = w − log D
    one = np.ones(n)
    model = LSEModel(((0, 0, one), (0, 1, -logn), (1, 2, one)), 2, n, offset=np.column_stack([np.zeros(n), -logd]),
                     scale_index=3)
    grid = np.array(list(itertools.product(_EXPONENT_GRID / 4, np.linspace(0.2, 3.0, 15))))  # (α_D, p)
    G = len(grid)

    s_logn, s_logd, s_loss, s_w = _start_data(start_rows, logn, logd, loss, w)

    def design(rows):
        target = s_loss[rows][None, :] ** (1.0 / grid[:, :1])
        Phi = np.stack([np.exp(s_logn[rows])[None, :] ** -grid[:, 1:],
                        np.broadcast_to(np.exp(-s_logd[rows]), target.shape)], axis=2)
        return Phi, target, s_w[rows] / target**2  # relative error of L^(1/α_D) ∝ that of L

    coef = _nnls_batch(*_normal_equations(design, s_loss.size, G, 2))
    starts = np.column_stack([_log_coef(coef[:, 0]), grid[:, 1], _log_coef(coef[:, 1]), grid[:, 0]])
    lower, upper = np.array([-200.0, 1e-3, -100.0, 1e-3]), np.array([500.0, 20.0, 200.0, 2.0])
    return _Problem(model, ("q", "p", "w", "alpha_d"), lower, upper,
                    np.ones(4, bool), starts)


def _lvc_problem(logc, loss, w, start_rows=None):
    n = logc.size  # θ = (e, c, γ); terms: 0 = e, 1 = c − γ log C
    one = np.ones(n)
    model = LSEModel(((0, 0, one), (1, 1, one), (1, 2, -logc)), 2, n)
    grid = _EXPONENT_GRID[:, None] / 2
    G = len(grid)

    s_logc, s_loss, s_w = _start_data(start_rows, logc, loss, w)

    def design(rows):
        C = np.exp(s_logc[rows])
        Phi = np.stack([np.broadcast_to(1.0, (G, C.size)), C[None, :] ** -grid], axis=2)
        return Phi, np.broadcast_to(s_loss[rows], (G, C.size)), s_w[rows] / s_loss[rows] ** 2

    coef = _nnls_batch(*_normal_equations(design, s_loss.size, G, 2))
    starts = np.column_stack([_log_coef(coef[:, 0]), _log_coef(coef[:, 1]), grid[:, 0]])
    lower, upper = np.array([-50.0, -200.0, 1e-4]), np.array([10.0, 200.0, 3.0])
    return _Problem(model, ("e", "c", "gamma"), lower, upper, np.ones(3, bool), starts)


def _to_law(form, theta, name, param_convention="total"):
    """Internal θ (…, P) → law with natural constants (arrays broadcast for ensembles)."""
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # a diverged fit's constants overflow
        return _natural_law(form, theta, name, param_convention)  # (the verdict says so)


def _scale(log_scale):
    """exp of a Kaplan scale's log, capped at 1e304: with the N exponent p on its bound at 0 (every run one model
    size) log N_c = q / p is infinite, and the law refused N_c = inf before the verdict could say why."""
    return np.exp(np.minimum(log_scale, 700.0))


def _natural_law(form, theta, name, param_convention):
    t = [theta[..., i] for i in range(theta.shape[-1])]
    if form in ("chinchilla", "chinchilla-tied"):
        a, b, e, alpha = t[:4]
        beta = alpha if form == "chinchilla-tied" else t[4]
        return ChinchillaLaw(E=np.exp(e), A=np.exp(a), B=np.exp(b), alpha=alpha, beta=beta, name=name,
                             param_convention=param_convention)
    if form == "kaplan":
        q, p, w, alpha_d = t
        return KaplanLaw(n_c=_scale(q / p), alpha_n=p * alpha_d, d_c=np.exp(w), alpha_d=alpha_d, name=name,
                         param_convention=param_convention)
    if form == "kaplan-irreducible":
        e, q, p, w, alpha_d = t
        return KaplanIrreducibleLaw(E=np.exp(e), n_c=_scale(q / p), alpha_n=p * alpha_d, d_c=np.exp(w),
                                    alpha_d=alpha_d, name=name, param_convention=param_convention)
    if form == "broken-power-law":
        e, log_b, c0, c1, log_d1, f1 = t
        return BrokenPowerLaw(E=np.exp(e), b=np.exp(log_b), c0=c0, c1=c1, d1=np.exp(log_d1), f1=f1, name=name)
    e, c, gamma = t
    return LossVsComputeLaw(E=np.exp(e), C0=np.exp(c / gamma), gamma=gamma, name=name)


def law_params(law) -> dict:
    """The natural constants of a fitted law, without metadata."""
    return {k: v for k, v in law.to_dict().items() if k not in ("kind", "base_kind", "name", "param_convention")}


@dataclass(frozen=True)
class FitData:
    """The rows a fit was made on, one per run (so a result can be bootstrapped or backtested on its own).

    ``groups``: the run id of each row (bootstrap resamples whole runs); ``weights``: the fit's point weights.
    """

    loss: np.ndarray
    n_params: np.ndarray | None
    n_tokens: np.ndarray | None
    flops: np.ndarray | None
    groups: np.ndarray
    weights: np.ndarray
    unique_tokens: np.ndarray | None = None

    @property
    def compute(self) -> np.ndarray | None:
        """Each run's FLOPs: ``flops`` where given, else C = 6·N·D (Kaplan et al. 2020, eq. 2.1); None without
        either."""
        if self.flops is not None:
            return self.flops
        if self.n_params is None or self.n_tokens is None:
            return None
        return FLOPS_PER_PARAM_TOKEN * self.n_params * self.n_tokens

    def tokens_per_param_range(self) -> tuple[float, float] | None:
        """(lowest, highest) tokens per parameter D/N over the runs (None without both columns)."""
        if self.n_params is None or self.n_tokens is None:
            return None
        ratio = self.n_tokens / self.n_params
        return float(np.min(ratio)), float(np.max(ratio))

    def epochs_range(self) -> tuple[float, float] | None:
        """(lowest, highest) epochs D/U over the runs (None without unique_tokens)."""
        if self.unique_tokens is None or self.n_tokens is None:
            return None
        epochs = self.n_tokens / self.unique_tokens
        return float(np.min(epochs)), float(np.max(epochs))


@dataclass(frozen=True)
class FitResult:
    """A fitted law with the optimiser's verdict (as scipy.optimize.OptimizeResult: status and message).

    status: ``converged``, ``bound`` (the optimum sits on a parameter bound) or ``iteration limit``.
    ``residuals`` are log L̂ − log L per point; ``objective`` is Σ weights·Huber_δ(residuals).
    """

    law: ChinchillaLaw | KaplanLaw | LossVsComputeLaw | KaplanIrreducibleLaw | BrokenPowerLaw
    form: str
    objective: float
    n_points: int
    status: str
    message: str
    residuals: np.ndarray = field(repr=False)  # log residuals, one per run (a notebook repr stays short)
    warnings: tuple[str, ...]
    delta: float
    theta_: np.ndarray = field(repr=False, compare=False)  # solver state: internal parameters θ
    problem_: _Problem = field(repr=False, compare=False)  # solver state: model, bounds, starts
    n_iter: int = 0  # optimiser iterations of the winning batch
    n_starts: int = 0  # grid points refined to convergence
    asymmetry: float = 0.5  # τ of the asymmetric (lower-envelope) Huber objective; 0.5 = symmetric
    data: FitData | None = field(default=None, repr=False, compare=False)  # the rows fitted

    __repr__ = brief_repr  # isoflop.fit adds the runs' warnings (one per damaged log): three shown, and a count

    @property
    def success(self) -> bool:
        return self.status == "converged"

    @cached_property
    def identifiability(self):
        """Whether the data pin the constants down (``fit.identify.identify`` without a bootstrap)."""
        from .identify import identify

        return identify(self)

    def bootstrap(self, n_resamples: int = 1000, seed: int = 0, level: float = 0.95, progress=None):
        """Bootstrap over the runs this fit was made on (``fit.bootstrap.bootstrap``)."""
        from .bootstrap import bootstrap

        return bootstrap(self, n_resamples=n_resamples, seed=seed, level=level, progress=progress)

    @property
    def params(self) -> dict:
        return law_params(self.law)

    def to_dict(self) -> dict:
        return {"law": self.form, "params": self.params, "objective": self.objective, "n_points": self.n_points,
                "status": self.status, "message": self.message, "warnings": list(self.warnings),
                "delta": self.delta, "param_convention": getattr(self.law, "param_convention", None),
                "residual_rms": float(np.sqrt(np.mean(self.residuals**2))), "n_iter": self.n_iter,
                "n_starts": self.n_starts, "asymmetry": self.asymmetry,
                "identifiability": self.identifiability.to_dict()}


def build_problem(form, n_params, n_tokens, loss, flops, weights, fixed=None, bounds=None,
                  start_rows=None) -> _Problem:
    """One form on one data set; ``start_rows``: score the start grid on these rows only (`_subsample_rows`)."""
    if form not in FORMS:
        raise InputError(f"unknown law form {form!r}; choose one of {', '.join(FORMS)}")
    if (fixed or bounds) and form not in ("chinchilla", "chinchilla-tied"):
        raise InputError(f"fixed parameters and bounds are supported for the Chinchilla forms, not {form!r}")
    allowed = {"E", "A", "B", "alpha", "beta"}
    for key in list(fixed or {}) + list(bounds or {}):
        if key not in allowed:
            raise InputError(f"unknown parameter {key!r} to fix or bound; choose from {', '.join(sorted(allowed))}")
    fixed = fixed or {}
    if len(set(fixed) | ({"beta"} if form == "chinchilla-tied" else set())) == len(allowed):
        raise InputError("every parameter is fixed: nothing is left to fit (the law is already given: plan or "
                         "predict with it directly)")
    if "E" in fixed and fixed["E"] >= np.min(loss):
        raise InputError(f"fixed E = {fixed['E']:.4g} is not below the lowest loss, {np.min(loss):.4g} nats: the "
                         f"law's loss always exceeds E, so it cannot fit these runs; fix E below every loss or "
                         f"let it be fitted")
    if form == "loss-vs-compute":
        return _lvc_problem(np.log(flops), loss, weights, start_rows)
    if form == "kaplan":
        return _kaplan_problem(np.log(n_params), np.log(n_tokens), loss, weights, start_rows)
    return _chinchilla_problem(np.log(n_params), np.log(n_tokens), loss, weights, form == "chinchilla-tied",
                               fixed, bounds, start_rows)


def _evaluate(problem, theta, log_loss, weights, delta, asymmetry=0.5):
    r, _ = residual_jacobian(problem.model, theta, log_loss)
    return (side_weights(weights, r, asymmetry) * huber(r, delta)).sum(axis=-1), r


def _objectives(model, theta, log_loss, weights, delta):
    """Σ_i w_i·Huber_δ(r_i) for each row of θ (K, P), in row chunks: memory independent of K × n."""
    f = np.zeros(theta.shape[0])
    for rows in _row_chunks(model.n_points, theta.shape[0] * (model.n_terms + 2)):
        pred = model.take(rows).predict(theta)[0]
        f += (weights[rows] * huber(pred - log_loss[rows], delta)).sum(axis=1)
    return f


# Above this many rows the start search (scoring the grid, refining the best n_starts) runs on a fixed random
# subsample of this size — plenty to place each start in its basin — and only the start that is best on all
# rows is refined on all rows: the solver's cost is starts × rows per iteration, so a million-row fit takes
# seconds, not minutes.
_SUBSAMPLE_ROWS = 20_000


def _subsample_rows(n: int):
    """A fixed random subsample of ``_SUBSAMPLE_ROWS`` row indices (sorted), or None when n is no larger."""
    if n <= _SUBSAMPLE_ROWS:
        return None
    return np.sort(np.random.default_rng(0).choice(n, _SUBSAMPLE_ROWS, replace=False))


def _search_starts(problem, log_loss, weights, n_starts, delta):
    """The starting points to refine on all rows: the ``n_starts`` best grid points by their true objective
    (at most ``_SUBSAMPLE_ROWS`` rows), or on larger data the best of them after refinement on a subsample."""
    rows = _subsample_rows(log_loss.size)
    if rows is None:
        grid_obj = _objectives(problem.model, problem.starts, log_loss, weights, delta)
        order = np.argsort(np.where(np.isfinite(grid_obj), grid_obj, np.inf))
        return problem.starts[order[:n_starts]]
    model, sub_log_loss, sub_weights = problem.model.take(rows), log_loss[rows], weights[rows]
    grid_obj = _objectives(model, problem.starts, sub_log_loss, sub_weights, delta)
    order = np.argsort(np.where(np.isfinite(grid_obj), grid_obj, np.inf))
    sub = minimize_batch(model, sub_log_loss, sub_weights, problem.starts[order[:n_starts]], delta=delta,
                         lower=problem.lower, upper=problem.upper, free=problem.free)
    full = _objectives(problem.model, sub.theta, log_loss, weights, delta)  # ranked on every row
    return sub.theta[[int(np.argmin(np.where(np.isfinite(full), full, np.inf)))]]


def fit_arrays(loss, n_params=None, n_tokens=None, flops=None, *, form="chinchilla", delta=DEFAULT_DELTA,
               weights=None, fixed=None, bounds=None, n_starts=8, name="fit",
               param_convention="total", labels=None, asymmetry=0.5, max_iter=DEFAULT_MAX_ITER) -> FitResult:
    """Fit a law form to arrays of observations; see the module docstring for the method.

    ``delta``: Huber threshold on log residuals (``inf`` = plain least squares). ``weights``: per-point
    multiplicities (the objective is a weighted sum). ``fixed``: e.g. {"E": 1.69}; ``bounds``: e.g.
    {"alpha": (0.1, 1.0)} (Chinchilla forms). ``n_starts``: how many of the best grid points are refined.
    ``labels``: a name per point (run ids) for the outlier report. ``asymmetry`` τ ∈ (0, 1): the
    lower-envelope objective Σ w_i·2τ_i·h_δ(r_i) with τ_i = τ where the law lies above the point (r_i > 0)
    and 1 − τ below it — Huber's loss made asymmetric as expectile regression makes least squares asymmetric
    (Newey & Powell 1987, "Asymmetric least squares estimation and testing", Econometrica 55(4)); τ > 0.5
    pulls the law toward the lowest losses, i.e. the best-tuned runs at each scale (the envelope idea of
    Hoffmann et al. 2022's approach 1). It is minimised directly (`optimize.minimize_batch`: the loss stays
    continuously differentiable). ``max_iter``: the optimiser's iteration limit.
    A fit that stops at the limit warns with ``isoflop.errors.ConvergenceWarning``.
    """
    loss = np.asarray(loss, float)
    weights = np.ones_like(loss) if weights is None else np.asarray(weights, float)
    problem = build_problem(form, None if n_params is None else np.asarray(n_params, float),
                            None if n_tokens is None else np.asarray(n_tokens, float),
                            loss, None if flops is None else np.asarray(flops, float), weights, fixed, bounds,
                            start_rows=_subsample_rows(loss.size))
    if not 0 < asymmetry < 1:
        raise InputError(f"asymmetry must be in (0, 1) (0.5: symmetric Huber), got {asymmetry!r}")
    log_loss = np.log(loss)
    starts = _search_starts(problem, log_loss, weights, n_starts, delta)
    theta, converged, n_iter = _refine(problem, log_loss, weights, starts, delta, asymmetry, max_iter)
    objective, residuals = _evaluate(problem, theta[None], log_loss, weights, delta, asymmetry)
    result = _result(problem, form, theta, float(objective[0]), residuals[0], converged, n_iter, delta, name,
                     param_convention, labels)
    data = FitData(loss=loss, n_params=None if n_params is None else np.asarray(n_params, float),
                   n_tokens=None if n_tokens is None else np.asarray(n_tokens, float),
                   flops=None if flops is None else np.asarray(flops, float),
                   groups=np.arange(loss.size) if labels is None else np.asarray(labels), weights=weights)
    result = replace(result, n_iter=n_iter, n_starts=len(starts), asymmetry=float(asymmetry), data=data)
    if not converged:
        warn_at_caller(f"{form} fit: {result.message}; its constants are not an optimum (raise max_iter or check "
                       f"the data)", ConvergenceWarning)
    return result


# Relative objective change at which all starts stop together; only the best is then refined to full precision.
_ROUGH_FTOL = 1e-6


def _refine(problem, log_loss, weights, starts, delta, asymmetry, max_iter):
    """Refine the starts (K, P) together to a loose tolerance, then only the best of them to full precision.

    Starts that end in a worse basin are told apart long before they are polished (their objectives differ by
    far more than ``_ROUGH_FTOL``), so polishing one instead of all of them halves the iterations on Chinchilla
    forms and cuts Kaplan's (whose last digits converge slowly) by 3×. Returns (θ (P,), converged, iterations).
    """
    kw = dict(delta=delta, lower=problem.lower, upper=problem.upper, free=problem.free, asymmetry=asymmetry,
              max_iter=max_iter)
    n_iter = 0
    if len(starts) > 1:
        rough = minimize_batch(problem.model, log_loss, weights, starts, ftol=_ROUGH_FTOL, **kw)
        best = int(np.argmin(np.where(np.isfinite(rough.objective), rough.objective, np.inf)))
        n_iter, starts = rough.iterations, rough.theta[[best]]
        if not rough.converged[best]:  # the best start ran out of iterations before even the rough tolerance
            return starts[0], False, n_iter
    final = minimize_batch(problem.model, log_loss, weights, starts, **kw)  # each phase has max_iter iterations
    return final.theta[0], bool(final.converged[0]), n_iter + final.iterations


def _result(problem, form, theta, objective, residuals, converged, iterations, delta, name,
            param_convention, labels) -> FitResult:
    warnings = []
    span = problem.upper - problem.lower
    on_bound = problem.free & ((theta - problem.lower <= 1e-6 * span) | (problem.upper - theta <= 1e-6 * span))
    if on_bound.any():
        names = [problem.theta_names[i] for i in np.flatnonzero(on_bound)]
        warnings.append(f"optimum on a bound of {', '.join(names)}: the data do not pin these down")
    _, J = residual_jacobian(problem.model, theta[None], residuals * 0)  # Jacobian does not depend on data
    Jf = J[0][:, problem.free]
    cond = np.linalg.cond(Jf.T @ Jf)
    if not np.isfinite(cond) or cond > 1e12:
        warnings.append(f"ill-conditioned (condition number of JᵀJ {cond:.2g}): some constants are not pinned down "
                        f"(the identifiability verdict says which)")
    # Outliers are reported, never dropped: |residual| beyond 5 robust standard deviations (1.4826·MAD).
    scale = 1.4826 * np.median(np.abs(residuals - np.median(residuals)))
    outliers = np.flatnonzero(np.abs(residuals - np.median(residuals)) > 5 * scale) if scale > 0 else []
    if len(outliers):
        names = ", ".join(str(labels[i]) if labels is not None else f"point {i + 1}" for i in outliers[:10])
        warnings.append(f"{len(outliers)} outlier(s) beyond 5 robust SDs of the residuals ({names}"
                        f"{'…' if len(outliers) > 10 else ''}); kept")
    if not converged:
        status, message = "iteration limit", f"stopped after {iterations} iterations before converging"
    elif on_bound.any():
        status, message = "bound", "converged onto a parameter bound"
    else:
        status, message = "converged", "relative objective change below tolerance"
    law = _to_law(form, theta, name, param_convention)
    return FitResult(law=law, form=form, objective=objective, n_points=residuals.size, status=status,
                     message=message, residuals=residuals, warnings=tuple(warnings), delta=delta, theta_=theta,
                     problem_=problem)
