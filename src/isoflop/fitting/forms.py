"""Two further published forms, fitted for prediction and form selection (`select.py`):

- ``kaplan-irreducible``: E + [(N_c/N)^(α_N/α_D) + D_c/D]^α_D (Kaplan et al. 2020, eq. 1.5, with the
  irreducible term of Henighan et al. 2020): an interaction form in N and D.
- ``broken-power-law``: E + b·C^(−c0)·(1 + (C/d1)^(1/f1))^(−c1·f1) in compute (Caballero et al. 2022, eq. 1,
  one break).

Same objective as approach 3 (Huber δ on log residuals, Hoffmann et al. 2022, eq. 3) and the same batched
solver (`optimize.minimize_batch`, through `parametric._refine`): each form is a `BatchModel` with an analytic
Jacobian, so its bootstrap, like the other forms', refits every resample in one batch. Starts are derived
from the nested forms' fits (generic starts for the first: E a fraction of the lowest loss, both bracket terms
equal at the median run; the loss-vs-compute fit for the second, a special case with c1 = 0, so the richer
fit starts where the simpler one ended).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConvergenceWarning, InputError, warn_at_caller
from .parametric import DEFAULT_DELTA, DEFAULT_MAX_ITER, FitData, _evaluate, _Problem, _refine, _result, fit_arrays

EXTRA_FORMS = ("kaplan-irreducible", "broken-power-law")
# θ of each form, in the solver's order (log L = LSE(...) in these; see the models below)
THETA_NAMES = {"kaplan-irreducible": ("e", "q", "p", "w", "alpha_d"),
               "broken-power-law": ("e", "log_b", "c0", "c1", "log_d1", "f1")}
N_FREE_EXTRA = {form: len(names) for form, names in THETA_NAMES.items()}


def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass(frozen=True)
class KaplanIrreducibleModel:
    """log L̂ = LSE(e, α_D·LSE(q − p log N, w − log D)) for θ = (e, q, p, w, α_D) (a `BatchModel`)."""

    logn: np.ndarray
    logd: np.ndarray

    @property
    def n_points(self) -> int:
        return self.logn.size

    def take(self, rows) -> "KaplanIrreducibleModel":
        return KaplanIrreducibleModel(self.logn[rows], self.logd[rows])

    def predict(self, theta):
        e, q, p, w, alpha_d = (theta[:, i:i + 1] for i in range(5))
        u1, u2 = q - p * self.logn, w - self.logd
        h = np.logaddexp(u1, u2)
        g = alpha_d * h
        p_e, s1 = _sigmoid(e - g), _sigmoid(u1 - u2)
        p_g = 1.0 - p_e
        jac = np.stack([p_e, p_g * alpha_d * s1, -p_g * alpha_d * s1 * self.logn, p_g * alpha_d * (1 - s1),
                        p_g * h], axis=-1)
        return np.logaddexp(e, g), (jac,)

    def jacobian(self, theta, cache):
        return cache[0]


@dataclass(frozen=True)
class BrokenPowerLawModel:
    """log L̂ = LSE(e, log b − c0 log C − c1·f1·softplus((log C − log d1)/f1)) for θ = (e, log b, c0, c1,
    log d1, f1) (Caballero et al. 2022, eq. 1, one break; a `BatchModel`)."""

    logc: np.ndarray

    @property
    def n_points(self) -> int:
        return self.logc.size

    def take(self, rows) -> "BrokenPowerLawModel":
        return BrokenPowerLawModel(self.logc[rows])

    def predict(self, theta):
        e, log_b, c0, c1, log_d1, f1 = (theta[:, i:i + 1] for i in range(6))
        logc = self.logc
        z = (logc - log_d1) / f1
        soft = np.logaddexp(0.0, z)
        g = log_b - c0 * logc - c1 * f1 * soft
        p_e = _sigmoid(e - g)
        p_g = 1.0 - p_e
        sig = _sigmoid(z)
        jac = np.stack([p_e, p_g, -logc * p_g, -f1 * soft * p_g, c1 * sig * p_g, -c1 * (soft - z * sig) * p_g],
                       axis=-1)
        return np.logaddexp(e, g), (jac,)

    def jacobian(self, theta, cache):
        return cache[0]


def _problem(form, loss, n_params, n_tokens, flops, delta) -> _Problem:
    floor = np.log(loss.min())
    if form == "kaplan-irreducible":
        logn, logd = np.log(n_params), np.log(n_tokens)
        # Generic starts: E at a fraction of the lowest loss; both bracket terms equal at the median run,
        # with their power matching the median excess loss there.
        starts = []
        for frac, alpha_d, p in ((0.85, 0.3, 1.0), (0.6, 0.5, 0.8)):
            excess = np.median(loss) - frac * loss.min()
            u = np.log(excess) / alpha_d - np.log(2.0)
            starts.append([floor + np.log(frac), u + p * np.median(logn), p, u + np.median(logd), alpha_d])
        lower = np.array([-50.0, -200.0, 1e-3, -100.0, 1e-3])
        upper = np.array([floor, 500.0, 20.0, 200.0, 3.0])
        model = KaplanIrreducibleModel(logn, logd)
    else:
        logc = np.log(flops)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            e, c, gamma = fit_arrays(loss, flops=flops, form="loss-vs-compute", delta=delta).theta_
        # One start: the loss-vs-compute optimum with a break at the median run that does not bend yet (c1 = 0).
        starts = [[e, c, gamma, 0.0, np.median(logc), 1.0]]
        lower = np.array([-50.0, -200.0, 0.0, -3.0, logc.min() - 10, 0.05])
        upper = np.array([floor, 200.0, 3.0, 3.0, logc.max() + 10, 20.0])
        model = BrokenPowerLawModel(logc)
    # Starts just inside the box: a start on a bound would be pinned there by the active set at once.
    starts = np.clip(np.array(starts, float), lower + 1e-9, upper - 1e-9)
    return _Problem(model, THETA_NAMES[form], lower, upper, np.ones(len(lower), bool), starts)


def fit_extra(form, loss, n_params=None, n_tokens=None, flops=None, *, delta=DEFAULT_DELTA, name="fit",
              param_convention="total", labels=None, max_iter=DEFAULT_MAX_ITER):
    """Fit one of EXTRA_FORMS to arrays of observations (one per run); a FitResult like `fit_arrays`'."""
    if form not in EXTRA_FORMS:
        raise InputError(f"unknown form {form!r}; choose one of {', '.join(EXTRA_FORMS)}")
    loss = np.asarray(loss, float)
    n_params = None if n_params is None else np.asarray(n_params, float)
    n_tokens = None if n_tokens is None else np.asarray(n_tokens, float)
    flops = None if flops is None else np.asarray(flops, float)
    log_loss, weights = np.log(loss), np.ones_like(loss)
    problem = _problem(form, loss, n_params, n_tokens, flops, delta)
    with np.errstate(all="ignore"):  # a start that overflows is rejected by its objective, not reported
        theta, converged, n_iter = _refine(problem, log_loss, weights, problem.starts, delta, 0.5, max_iter)
        objective, residuals = _evaluate(problem, theta[None], log_loss, weights, delta)
    if not np.all(np.isfinite(residuals)):
        raise InputError("no start of the fit gave finite predictions; check the data for extreme values")
    result = _result(problem, form, theta, float(objective[0]), residuals[0], converged, n_iter, delta, name,
                     param_convention, labels)
    data = FitData(loss=loss, n_params=n_params, n_tokens=n_tokens, flops=flops,
                   groups=np.arange(loss.size) if labels is None else np.asarray(labels), weights=weights)
    if not converged:
        warn_at_caller(f"{form} fit: {result.message}", ConvergenceWarning)
    return replace(result, n_iter=n_iter, n_starts=len(problem.starts), data=data)
