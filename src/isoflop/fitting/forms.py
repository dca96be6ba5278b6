"""Two further published forms, fitted for prediction and form selection (`select.py`):

- ``kaplan-irreducible``: E + [(N_c/N)^(α_N/α_D) + D_c/D]^α_D (Kaplan et al. 2020, eq. 1.5, with the
  irreducible term of Henighan et al. 2020): an interaction form in N and D.
- ``broken-power-law``: E + b·C^(−c0)·(1 + (C/d1)^(1/f1))^(−c1·f1) in compute (Caballero et al. 2022, eq. 1,
  one break).

Same objective as approach 3 (Huber δ on log residuals, Hoffmann et al. 2022, eq. 3), minimised by
scipy.optimize.least_squares with its Huber loss (``loss="huber"``, ``f_scale=δ`` gives exactly
Σ h_δ(r)), from starts derived from the nested forms' fits (generic starts for the first: E a fraction of the
lowest loss, both bracket terms equal at the median run; the loss-vs-compute fit for the second, a special
case with c1 = 0, so the richer fit starts where the simpler one ended). These forms carry no solver state
for the batched bootstrap; their intervals come from the backtest calibration of `calibrate.py`.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConvergenceWarning, InputError
from ..laws import BrokenPowerLaw, KaplanIrreducibleLaw
from .parametric import DEFAULT_DELTA, FitData, FitResult, fit_arrays

EXTRA_FORMS = ("kaplan-irreducible", "broken-power-law")
# θ of each form, in the solver's order (log L = LSE(...) in these; see the log-loss functions below)
THETA_NAMES = {"kaplan-irreducible": ("e", "q", "p", "w", "alpha_d"),
               "broken-power-law": ("e", "log_b", "c0", "c1", "log_d1", "f1")}
N_FREE_EXTRA = {form: len(names) for form, names in THETA_NAMES.items()}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _kaplan_irreducible_log_loss(theta, logn, logd):
    """log L and its Jacobian (n, 5) in θ = (e, q, p, w, α_D): log L = LSE(e, α_D·LSE(q − p log N, w − log D))."""
    e, q, p, w, alpha_d = theta
    u1, u2 = q - p * logn, w - logd
    h = np.logaddexp(u1, u2)
    g = alpha_d * h
    p_e, s1 = _sigmoid(e - g), _sigmoid(u1 - u2)
    p_g = 1.0 - p_e
    jac = np.column_stack([p_e, p_g * alpha_d * s1, -p_g * alpha_d * s1 * logn, p_g * alpha_d * (1 - s1), p_g * h])
    return np.logaddexp(e, g), jac


def _bnsl_log_loss(theta, logc):
    """log L and its Jacobian (n, 6) in θ = (e, log b, c0, c1, log d1, f1) (Caballero et al. 2022, eq. 1)."""
    e, log_b, c0, c1, log_d1, f1 = theta
    z = (logc - log_d1) / f1
    soft = np.logaddexp(0.0, z)
    g = log_b - c0 * logc - c1 * f1 * soft
    p_e = _sigmoid(e - g)
    p_g = 1.0 - p_e
    sig = _sigmoid(z)
    jac = np.column_stack([p_e, p_g, -logc * p_g, -f1 * soft * p_g, c1 * sig * p_g, -c1 * (soft - z * sig) * p_g])
    return np.logaddexp(e, g), jac


def log_loss_jacobian(fit: FitResult) -> np.ndarray:
    """∂ log L̂ / ∂θ (n, P) at ``fit``'s optimum, one row per fitted point (for `identify.py`'s curvature check)."""
    data = fit.data
    if fit.form == "kaplan-irreducible":
        return _kaplan_irreducible_log_loss(fit.theta_, np.log(data.n_params), np.log(data.n_tokens))[1]
    if fit.form == "broken-power-law":
        return _bnsl_log_loss(fit.theta_, np.log(data.flops))[1]
    raise InputError(f"unknown form {fit.form!r}; choose one of {', '.join(EXTRA_FORMS)}")


def _best_least_squares(residual, jac, starts, lower, upper, delta, max_nfev):
    from scipy.optimize import least_squares  # imported here: scipy.optimize costs ~0.3 s at CLI start-up

    loss_kind = "linear" if not np.isfinite(delta) else "huber"
    scale = 1.0 if not np.isfinite(delta) else delta
    best = None
    for start in starts:
        start = np.clip(start, lower + 1e-9, upper - 1e-9)
        with np.errstate(all="ignore"):
            res = least_squares(residual, start, jac=jac, bounds=(lower, upper), loss=loss_kind, f_scale=scale,
                                max_nfev=max_nfev, ftol=1e-7, xtol=1e-7)
        if np.all(np.isfinite(res.fun)) and (best is None or res.cost < best.cost):
            best = res
    if best is None:
        raise InputError("no start of the fit gave finite predictions; check the data for extreme values")
    return best


def fit_extra(form, loss, n_params=None, n_tokens=None, flops=None, *, delta=DEFAULT_DELTA, name="fit",
              param_convention="total", labels=None, max_nfev=1000) -> FitResult:
    """Fit one of EXTRA_FORMS to arrays of observations (one per run)."""
    if form not in EXTRA_FORMS:
        raise InputError(f"unknown form {form!r}; choose one of {', '.join(EXTRA_FORMS)}")
    loss = np.asarray(loss, float)
    log_loss = np.log(loss)
    floor = np.log(loss.min())
    if form == "kaplan-irreducible":
        logn, logd = np.log(n_params), np.log(n_tokens)
        # Generic starts: E at a fraction of the lowest loss; both bracket terms equal at the median run,
        # with their power matching the median excess loss there.
        starts = []
        for frac, alpha_d, p in ((0.85, 0.3, 1.0), (0.6, 0.5, 0.8)):
            excess = np.median(loss) - frac * loss.min()
            u = np.log(excess) / alpha_d - np.log(2.0)
            starts.append(np.array([floor + np.log(frac), u + p * np.median(logn), p, u + np.median(logd), alpha_d]))
        lower = np.array([-50.0, -200.0, 1e-3, -100.0, 1e-3])
        upper = np.array([floor, 500.0, 20.0, 200.0, 3.0])

        def model(theta):
            return _kaplan_irreducible_log_loss(theta, logn, logd)
    else:
        logc = np.log(flops)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            e, c, gamma = fit_arrays(loss, flops=flops, form="loss-vs-compute", delta=delta).theta_
        # One start: the loss-vs-compute optimum with a break at the median run that does not bend yet (c1 = 0).
        starts = [np.array([e, c, gamma, 0.0, np.median(logc), 1.0])]
        lower = np.array([-50.0, -200.0, 0.0, -3.0, logc.min() - 10, 0.05])
        upper = np.array([floor, 200.0, 3.0, 3.0, logc.max() + 10, 20.0])

        def model(theta):
            return _bnsl_log_loss(theta, logc)

    res = _best_least_squares(lambda th: model(th)[0] - log_loss, lambda th: model(th)[1], starts, lower, upper,
                              delta, max_nfev)
    theta = res.x
    residuals = model(theta)[0] - log_loss
    objective = float(res.cost) if np.isfinite(delta) else float(0.5 * np.sum(residuals**2))
    converged = res.status > 0
    with np.errstate(over="ignore"):  # a diverged fit's constants overflow to inf; its status says so
        if form == "kaplan-irreducible":
            e, q, p, w, alpha_d = theta
            law = KaplanIrreducibleLaw(E=np.exp(e), n_c=np.exp(q / p), alpha_n=p * alpha_d, d_c=np.exp(w),
                                       alpha_d=alpha_d, name=name, param_convention=param_convention)
        else:
            e, log_b, c0, c1, log_d1, f1 = theta
            law = BrokenPowerLaw(E=np.exp(e), b=np.exp(log_b), c0=c0, c1=c1, d1=np.exp(log_d1), f1=f1, name=name)
    data = FitData(loss=loss, n_params=None if n_params is None else np.asarray(n_params, float),
                   n_tokens=None if n_tokens is None else np.asarray(n_tokens, float),
                   flops=None if flops is None else np.asarray(flops, float),
                   groups=np.arange(loss.size) if labels is None else np.asarray(labels), weights=np.ones_like(loss))
    if not converged:
        warnings.warn(f"{form} fit: {res.message}", ConvergenceWarning, stacklevel=2)
    return FitResult(law=law, form=form, objective=objective, n_points=loss.size,
                     status="converged" if converged else "iteration limit", message=res.message,
                     residuals=residuals, warnings=(), delta=delta, theta_=theta, problem_=None,
                     n_iter=int(res.nfev), n_starts=len(starts), data=data)
