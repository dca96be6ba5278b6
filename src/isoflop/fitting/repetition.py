"""Fitted repetition laws: Muennighoff et al. 2023's R_D* and R_N* from the user's runs with ``unique_tokens``.

The form (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", eqs. 5–7; `laws.DataConstrainedLaw`):

    L(N, D, U_D) = E + A/N′^α + B/D′^β,   D′ = U_D + U_D·R_D*·(1 − e^(−R_D/R_D*)),   R_D = D/U_D − 1,
    N′ = U_N + U_N·R_N*·(1 − e^(−R_N/R_N*)),   U_N = min(N, N_opt(U_D)),   R_N = N/U_N − 1.

Their procedure fits the base law (E, A, B, α, β) on single-epoch runs first and then R_D*, R_N* on the
repeated runs, by the same Huber objective on log losses (δ = 1e-3) as Hoffmann et al. 2022, eq. 3. We do the
same: with ``base`` given (a preset name, a law or a FitResult) only log R_D* and log R_N* are fitted; with
``base=None`` all seven constants are fitted jointly, started from a Chinchilla fit of the runs as if D were
D′ (which needs runs of many sizes and budgets; a handful of repeated runs cannot pin a base law down).
With a fixed base, a base law fitted elsewhere is usually off in absolute level on the user's runs (the
published C4 base misses the datablations runs by ~5% in loss), which would be absorbed into R_D*, R_N*.
So when every (N, D) among the runs has a single-epoch run (U_D ≥ D), the fit is "anchored": it matches
the measured penalty of repetition, log L(N, D, U_D) − log L(N, D, single epoch), to the law's — the
comparison Muennighoff et al. make in their Figure 3 / return-allocation analysis — and the base's
level cancels. Minimised with scipy.optimize.least_squares (``loss="huber"``, ``f_scale=δ`` is exactly
Σ h_δ) from a small grid of starts; the bootstrap resamples runs and refits each resample from the full-data optimum.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..laws import ChinchillaLaw, DataConstrainedLaw, LawEnsemble
from ..runs import RunTable
from .bootstrap import BootstrapResult, few_resamples, resample_weights
from .identify import identify
from .parametric import DEFAULT_DELTA, FitData, FitResult

_LOG_R_BOUNDS = (np.log(0.05), np.log(1e4))
# Bounds of θ fitted jointly, (log A, log B, log E, α, β, log R_D*, log R_N*); with a fixed base θ is the last two.
_LOWER = np.r_[-50.0, -50.0, -50.0, 0.0, 0.0, np.full(2, _LOG_R_BOUNDS[0])]
_UPPER = np.r_[80.0, 80.0, 10.0, 5.0, 5.0, np.full(2, _LOG_R_BOUNDS[1])]
_R_STARTS = [(rd, rn) for rd in (3.0, 15.0, 60.0) for rn in (1.0, 5.0, 25.0)]


def _bounds(size: int) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) of a θ of ``size`` constants: 7 fitted jointly, 2 (R_D*, R_N*) on a fixed base."""
    return _LOWER[-size:].copy(), _UPPER[-size:].copy()


def names_on_bounds(theta) -> tuple[str, ...]:
    """The constants of a repetition fit's θ — (log R_D*, log R_N*) with a fixed base, or (log A, log B, log E,
    α, β, log R_D*, log R_N*) fitted jointly — that sit on the bounds `fit_repetition` gives them."""
    theta = np.asarray(theta, float)
    lower, upper = _bounds(theta.size)
    span = upper - lower
    on = (theta - lower <= 1e-6 * span) | (upper - theta <= 1e-6 * span)
    return tuple(name for name, hit in zip(("A", "B", "E", "α", "β", "R_D*", "R_N*")[-theta.size:], on) if hit)


def _base_law(base):
    from ..presets import get_law

    if isinstance(base, str):
        base = get_law(base)
    if isinstance(base, FitResult):
        base = base.law
    if isinstance(base, DataConstrainedLaw):
        base = base.base
    if not isinstance(base, ChinchillaLaw):
        raise InputError(f"the base of a data-constrained fit must be a Chinchilla-form law, got {base.kind!r}")
    return base


def _law(theta, base, name):
    """θ → DataConstrainedLaw: (log R_D*, log R_N*) on a fixed base, or (a, b, e, α, β, log R_D*, log R_N*)."""
    if base is None:
        a, b, e, alpha, beta = theta[:5]
        base = ChinchillaLaw(E=np.exp(e), A=np.exp(a), B=np.exp(b), alpha=alpha, beta=beta, name=name)
    return DataConstrainedLaw(base=base, rd_star=np.exp(theta[-2]), rn_star=np.exp(theta[-1]), name=name)


def _residuals(theta, fixed_base, n, d, u, log_loss, reference=None):
    """Log residuals; with ``reference`` (index of each run's single-epoch run) the residuals of the
    repetition penalty, law vs measured, so the base's level cancels."""
    predicted = np.log(_law(theta, fixed_base, "fit").loss(n, d, u))
    if reference is None:
        return predicted - log_loss
    return (predicted - predicted[reference]) - (log_loss - log_loss[reference])


def _solve(residual, starts, lower, upper, delta):
    from scipy.optimize import least_squares  # imported here: scipy.optimize costs ~0.3 s at CLI start-up

    best = None
    for start in starts:
        with np.errstate(all="ignore"):
            res = least_squares(residual, np.clip(start, lower + 1e-9, upper - 1e-9), bounds=(lower, upper),
                                loss="huber" if np.isfinite(delta) else "linear",
                                f_scale=delta if np.isfinite(delta) else 1.0, max_nfev=2000)
        if np.all(np.isfinite(res.fun)) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        raise InputError("the data-constrained fit found no start with finite losses; check the runs")
    return best


def single_epoch_reference(n, d, u):
    """Index of the single-epoch run (U_D ≥ D) with the same (N, D) for every run, or None if one is missing."""
    ref = np.full(n.size, -1)
    single = u >= d * (1 - 1e-9)
    for i in range(n.size):
        match = np.flatnonzero(single & np.isclose(n, n[i], rtol=1e-6) & np.isclose(d, d[i], rtol=1e-6))
        if match.size == 0:
            return None
        ref[i] = match[0]
    return ref


DEFAULT_BASE = "muennighoff2023"  # the base law a data-constrained fit holds fixed unless told otherwise


def fit_repetition(table: RunTable, base=DEFAULT_BASE, *, delta: float = DEFAULT_DELTA,
                   anchored: bool | None = None, name: str = "fit") -> FitResult:
    """Fit R_D* and R_N* (and the base law when ``base`` is None) to runs carrying ``unique_tokens``.

    ``base``: a preset name (default Muennighoff et al.'s C4 base law), a Chinchilla law or FitResult, or
    None to fit the base jointly. ``anchored``: fit the penalty relative to each (N, D)'s single-epoch run
    (default: whenever the base is fixed and every (N, D) has one). Returns a FitResult whose ``law`` is a
    DataConstrainedLaw (form ``data-constrained``), so the data-constrained and data-optimal planners take
    it as it is.
    """
    table = table.finals()
    if "unique_tokens" not in table.frame:
        raise InputError("a data-constrained fit needs a unique_tokens column (distinct tokens each run drew from)")
    n, d, u, loss = table.n_params, table.n_tokens, table.column("unique_tokens"), table.loss
    fixed_base = None if base is None else _base_law(base)
    n_free = 2 if fixed_base is not None else 7
    if len(table) <= n_free:
        raise InputError(f"{len(table)} runs cannot pin down {n_free} free parameters of data-constrained: "
                         f"need at least {n_free + 1}")
    log_loss = np.log(loss)
    reference = single_epoch_reference(n, d, u)
    if anchored is None:
        anchored = fixed_base is not None and reference is not None
    if anchored and (fixed_base is None or reference is None):
        raise InputError("an anchored repetition fit needs a fixed base and a single-epoch run (unique_tokens ≥ "
                         "n_tokens) for every (n_params, n_tokens) among the runs")
    if fixed_base is not None:
        starts = [np.log(s) for s in _R_STARTS]
        lower, upper = _bounds(2)
    else:
        from .parametric import fit_arrays

        seed = fit_arrays(loss, n, np.minimum(d, u), delta=delta).law  # base from the runs' unique tokens
        head = [np.log(seed.A), np.log(seed.B), np.log(seed.E), seed.alpha, seed.beta]
        starts = [np.r_[head, np.log(s)] for s in _R_STARTS]
        lower, upper = _bounds(7)

    def residual(theta):
        return _residuals(theta, fixed_base, n, d, u, log_loss, reference if anchored else None)

    res = _solve(residual, starts, lower, upper, delta)
    law = _law(res.x, fixed_base, name)
    residuals = residual(res.x)
    span = upper - lower
    on_bound = (res.x - lower <= 1e-6 * span) | (upper - res.x <= 1e-6 * span)
    warnings = ("optimum on a bound of R_D* or R_N*: the data do not pin it down",) if on_bound[-2:].any() else ()
    if res.status <= 0:
        status, message = "iteration limit", f"stopped after {res.nfev} evaluations before converging"
    elif on_bound.any():
        status, message = "bound", "converged onto a parameter bound"
    else:
        # scipy's own words name its options (`gtol` termination condition is satisfied.)
        status, message = "converged", {1: "gradient below tolerance", 2: "objective change below tolerance",
                                        3: "parameter change below tolerance"}.get(res.status, "converged")
    if anchored:
        message += "; anchored on each (N, D)'s single-epoch run"
    data = FitData(loss=loss, n_params=n, n_tokens=d, flops=table.flops, groups=table.run_ids,
                   weights=np.ones_like(loss), unique_tokens=u)
    objective = float(res.cost) if np.isfinite(delta) else float(0.5 * np.sum(residuals**2))
    return FitResult(law=law, form="data-constrained", objective=objective, n_points=len(table), status=status,
                     message=message, residuals=residuals, warnings=warnings, delta=delta, theta_=res.x,
                     problem_=None, n_iter=int(res.nfev), n_starts=len(starts), data=data)


def bootstrap_repetition(result: FitResult, n_resamples: int = 200, *, seed: int = 0, level: float = 0.95,
                         anchored: bool | None = None) -> BootstrapResult:
    """Percentile intervals of R_D* and R_N* (and the base, when fitted jointly) over resamples of runs,
    each refitted from the full-data optimum; only converged resamples count. ``anchored``: as the fit
    (default: the fit's default rule).

    An anchored resample keeps every run's single-epoch reference, whose own noise shifts the whole penalty
    of its (N, D) group; resampling runs never moves it, so those intervals covered the true R_D*, R_N* only
    80-88 % of the time at 95 % (synthetic Muennighoff data, 1 % noise). Each resample therefore also redraws
    the references' noise: a normal shift per reference with the SD of one run's noise, measured from the
    anchored residuals (each a difference of two runs' noise: SD √2·σ) as 1.4826·MAD/√2."""
    from scipy.optimize import least_squares

    from .calibrate import robust_sigma

    if result.form != "data-constrained" or result.data is None:
        raise InputError("bootstrap_repetition takes the result of fit_repetition")
    data = result.data
    fixed_base = result.law.base if result.theta_.size == 2 else None
    log_loss = np.log(data.loss)
    reference = single_epoch_reference(data.n_params, data.n_tokens, data.unique_tokens)
    if anchored is None:
        anchored = fixed_base is not None and reference is not None
    rng = np.random.default_rng(seed)
    weights = resample_weights(data.groups, n_resamples, rng)
    shifts = np.zeros((n_resamples, log_loss.size))
    if anchored:
        is_reference = np.zeros(log_loss.size, bool)
        is_reference[reference] = True
        sigma = robust_sigma(result.residuals[~is_reference]) / np.sqrt(2) if (~is_reference).any() else 0.0
        shifts[:, is_reference] = rng.normal(0.0, sigma, (n_resamples, int(is_reference.sum())))
    lower, upper = _bounds(result.theta_.size)  # the fit's own: 2 constants on a fixed base, else 7
    thetas, converged = [], 0
    for w, shift in zip(weights, shifts):
        rows = np.repeat(np.arange(w.size), w.astype(int))  # each run as many times as it was drawn

        def residual(theta, _observed=log_loss + shift):
            return _residuals(theta, fixed_base, data.n_params, data.n_tokens, data.unique_tokens, _observed,
                              reference if anchored else None)[rows]

        with np.errstate(all="ignore"):
            res = least_squares(residual, result.theta_, bounds=(lower, upper),
                                loss="huber" if np.isfinite(result.delta) else "linear",
                                f_scale=result.delta if np.isfinite(result.delta) else 1.0, max_nfev=500)
        if res.status > 0:
            thetas.append(res.x)
            converged += 1
    if converged < 2:
        raise InputError(f"only {converged} of {n_resamples} resamples converged: R_D*, R_N* are not identified")
    theta = np.array(thetas)
    member_base = fixed_base
    if fixed_base is not None:  # every member shares it, but on the member axis: planners read axis 0 as members
        member_base = replace(fixed_base, **{k: np.full((len(theta), 1), getattr(fixed_base, k))
                                             for k in ("E", "A", "B", "alpha", "beta")})
    members = _law(theta.T[..., None], member_base, result.law.name)
    samples = {"rd_star": np.ravel(members.rd_star), "rn_star": np.ravel(members.rn_star)}
    if fixed_base is None:
        samples.update(E=np.exp(theta[:, 2]), A=np.exp(theta[:, 0]), B=np.exp(theta[:, 1]), alpha=theta[:, 3],
                       beta=theta[:, 4])
    tail = 100 * (1 - level) / 2
    intervals = {k: (float(np.percentile(v, tail)), float(np.percentile(v, 100 - tail))) for k, v in samples.items()}
    boot = BootstrapResult(ensemble=LawEnsemble(point=result.law, members=members), samples=samples,
                           intervals=intervals, level=level, n_resamples=n_resamples, n_converged=converged,
                           seed=seed, fit=result, warnings=few_resamples(n_resamples, converged, level))
    return replace(boot, identifiability=identify(result, boot))

