"""Identifiability: do the runs pin the fitted law's constants down, and which runs would?

A least-squares (or Huber) optimum always exists; whether it means anything depends on the design. A law
with exponents is identified only when the runs vary the quantities the exponents act on over a wide enough
range, the optimum is interior (not on a bound) and curvature separates the parameters. We check, in order:

1. The optimiser's verdict: a fit stopped at its iteration limit is not an optimum.
2. The design: distinct model sizes, and the span of N, D and C in decades. One model size leaves α (and A)
   unestimable in L = E + A/N^α + B/D^β (Hoffmann et al. 2022, eq. 2); under one decade of compute an
   exponent is a local slope, useless to extrapolate with.
3. Points per free parameter.
4. Parameters on a bound (the optimum is not an interior stationary point, so the Hessian-based and the
   bootstrap's sampling theory do not apply: Self & Liang 1987, JASA 82(398)).
5. The condition number of JᵀJ at the optimum (the Gauss–Newton Hessian of the objective): a near-singular
   matrix means directions in parameter space the data cannot tell apart (Bates & Watts 1988, "Nonlinear
   Regression Analysis and Its Applications", ch. 2 and 7).
6. With a bootstrap (Efron & Tibshirani 1993): the fraction of resamples that converged, and how wide the
   exponents' percentile intervals are (a 95% interval of α spanning 0.16–3.56 says α is unknown); for a
   repetition fit also R_D* and R_N* (Muennighoff et al. 2023), whose wide intervals mark it weakly identified.
   Without one, the same width check on the curvature's approximate intervals, θ̂ ± 1.96·se with
   cov(θ̂) ≈ s²·(JᵀWJ)⁻¹ and s² the weighted residual variance on log loss (the Wald/Laplace approximation:
   Seber & Wild 1989, "Nonlinear Regression", §5.1; the delta method for exponents that are products of θ).
   It is cruder than the bootstrap (it assumes the fit is locally linear), so on its own it can mark a fit
   weakly identified but never unidentified, and the reason says a bootstrap gives the full check: a
   fit is never called identified only because nobody looked at how wide its exponents are.

Levels: ``identified``, ``weakly identified`` (usable, marked) and ``unidentified`` (planning refuses unless
overridden: `require_identified`). Suggestions name runs to add, as numbers: cheaper IsoFLOP budgets until
the design spans 2 decades of compute, and model sizes around each budget's rule-of-thumb optimum
N ≈ √(C/120) (≈ 20 tokens per parameter under C = 6·N·D; Hoffmann et al. 2022, Table 3).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..laws import FLOPS_PER_PARAM_TOKEN
from ..units import format_quantity, format_scientific
from .calibrate import COMPUTE_ONLY_KINDS
from .optimize import residual_jacobian
from .parametric import FitResult

LEVELS = ("identified", "weakly identified", "unidentified")
MIN_FLOPS_DECADES = 1.0  # below: unidentified (an exponent from less than a decade is a local slope)
GOOD_FLOPS_DECADES = 1.5  # below: weakly identified
TARGET_FLOPS_DECADES = 2.0  # what the suggestions aim for
MIN_N_PARAMS_DECADES = 0.5  # below: weakly identified
POINTS_PER_PARAMETER = 4  # fewer runs per free parameter: weakly identified
CONDITION_WEAK, CONDITION_BAD = 1e12, 1e15
CONVERGED_WEAK, CONVERGED_BAD = 0.95, 0.8  # bootstrap fraction converged
EXPONENT_RATIO_WEAK, EXPONENT_RATIO_BAD = 1.6, 3.0  # high/low of an exponent's interval
TOKENS_PER_PARAM_RULE = 20.0

# Internal θ name → the constant a user knows.
_NATURAL = {"a": "A", "b": "B", "e": "E", "alpha": "α", "beta": "β", "q": "N_c", "p": "α_N/α_D", "w": "D_c",
            "alpha_d": "α_D", "c": "C0", "gamma": "γ", "log_b": "b", "log_d1": "d1"}
_EXPONENTS = {"alpha": "α", "beta": "β", "alpha_n": "α_N", "alpha_d": "α_D", "gamma": "γ"}
_USES_N_D = ("chinchilla", "chinchilla-tied", "kaplan", "kaplan-irreducible", "data-constrained")


@dataclass(frozen=True)
class Identifiability:
    """The verdict on a fit: ``level`` (one of LEVELS), ``reasons`` in words, ``suggestions`` in words with the
    runs to add as numbers (``suggested_flops``, ``suggested_n_params``), and the evidence."""

    level: str
    reasons: tuple[str, ...]
    suggestions: tuple[str, ...]
    suggested_flops: tuple[float, ...]
    suggested_n_params: tuple[float, ...]
    span_decades: dict  # {"n_params": …, "n_tokens": …, "flops": …}
    n_points: int
    n_free: int
    condition_number: float | None
    fraction_converged: float | None = None
    # the fitted constants (by their keys in the fit's params) that sit on a bound or move no prediction: their
    # bootstrap intervals say nothing (every resample leaves them where it started, e.g. [1.55, 1.55])
    unpinned: tuple[str, ...] = ()

    @property
    def identified(self) -> bool:
        return self.level == "identified"

    def to_dict(self) -> dict:
        finite = self.condition_number is not None and np.isfinite(self.condition_number)
        return {"level": self.level, "reasons": list(self.reasons), "suggestions": list(self.suggestions),
                "suggested_flops": list(self.suggested_flops), "suggested_n_params": list(self.suggested_n_params),
                "span_decades": self.span_decades, "n_points": self.n_points, "n_free": self.n_free,
                "condition_number": float(self.condition_number) if finite else None,
                "fraction_converged": self.fraction_converged, "unpinned": list(self.unpinned)}

    def summary(self) -> str:
        """One line for a banner: the level and its first reason."""
        return self.level if not self.reasons else f"{self.level}: {self.reasons[0]}"


def _span(x) -> float:
    if x is None:
        return 0.0
    x = np.asarray(x, float)
    return float(np.log10(x.max() / x.min()))


def _log_loss_jacobian(fit) -> np.ndarray | None:
    """∂ log L̂ / ∂θ at the optimum over the free θ, one row per fitted point (None when the form has none)."""
    if fit.problem_ is None:
        return None
    problem = fit.problem_
    _, J = residual_jacobian(problem.model, fit.theta_[None], np.zeros(problem.model.n_points))
    return J[0][:, problem.free]


def _free_theta(fit) -> dict:
    """{θ name: value} of the free constants, in the Jacobian's column order."""
    names, free = fit.problem_.theta_names, fit.problem_.free
    return {name: float(value) for name, value, keep in zip(names, fit.theta_, free) if keep}


def _exponent_gradients(theta: dict) -> dict:
    """{exponent: (value, {θ name: ∂exponent/∂θ})} for the exponents among the free θ. α_N = p·α_D in the
    Kaplan forms (θ holds p = α_N/α_D); the others are θ entries themselves."""
    out = {key: (theta[key], {key: 1.0}) for key in ("alpha", "beta", "alpha_d", "gamma") if key in theta}
    if "p" in theta and "alpha_d" in theta:
        out["alpha_n"] = (theta["p"] * theta["alpha_d"], {"p": theta["alpha_d"], "alpha_d": theta["p"]})
    return out


NEGLIGIBLE_SENSITIVITY = 1e-6  # |∂ log L̂/∂θ| below this at every run: θ moves no prediction


# a free constant's name in θ (log A, …) or in a repetition fit's words → its key in the fit's params
_PARAM_KEY = {"a": "A", "b": "B", "e": "E", "q": "n_c", "p": "alpha_n", "w": "d_c", "c": "C0", "log_b": "b",
              "log_d1": "d1", "α": "alpha", "β": "beta", "R_D*": "rd_star", "R_N*": "rn_star"}


def _idle(fit, jacobian) -> list[str]:
    """The free constants (θ names) whose every ∂ log L̂/∂θ is negligible: they move no prediction."""
    return [name for name, column in zip(_free_theta(fit), jacobian.T)
            if np.max(np.abs(column)) < NEGLIGIBLE_SENSITIVITY]


def _singular_because(fit, jacobian) -> str:
    """Why JᵀJ is singular, in words: constants that move no prediction at all (typically E → 0 when the runs
    are far from the irreducible loss), else constants that trade off against each other."""
    theta = _free_theta(fit)
    idle = _idle(fit, jacobian)
    if not idle:
        return "parameters trade off against each other"
    words = f"{', '.join(_NATURAL.get(n, n) for n in idle)} {'moves' if len(idle) == 1 else 'move'} no prediction"
    if "e" in idle:
        words += (f" (E = {np.exp(theta['e']):.2g}: the runs show no irreducible loss, so it cannot "
                  f"be estimated; runs at more compute, where the loss flattens, would pin it down)")
    return words


def curvature_intervals(fit, jacobian=None, z: float = 1.96) -> dict:
    """Approximate 95% intervals {symbol: (low, high)} of the fit's exponents from the curvature at the
    optimum: cov ≈ s²·(JᵀWJ)⁻¹, s² = Σ w·r² / (Σ w − p) on log loss (see the module docstring, check 6).
    Empty when the form has no Jacobian or there are no residual degrees of freedom."""
    J = _log_loss_jacobian(fit) if jacobian is None else jacobian
    if J is None:
        return {}
    theta = _free_theta(fit)
    names = list(theta)
    w = np.ones(J.shape[0]) if fit.data is None or fit.data.weights is None else np.asarray(fit.data.weights, float)
    dof = float(np.sum(w)) - J.shape[1]
    if dof <= 0 or len(names) != J.shape[1]:
        return {}
    s2 = float(np.sum(w * np.square(fit.residuals))) / dof
    with np.errstate(all="ignore"):
        try:
            cov = s2 * np.linalg.inv(J.T @ (w[:, None] * J))
        except np.linalg.LinAlgError:  # singular: nothing is pinned down
            cov = np.full((len(names), len(names)), np.inf)
    out = {}
    for key, (value, gradient) in _exponent_gradients(theta).items():
        g = np.array([gradient.get(name, 0.0) for name in names])
        variance = float(g @ cov @ g) if np.all(np.isfinite(cov)) else np.inf
        se = np.sqrt(variance) if variance >= 0 else np.inf
        out[_EXPONENTS[key]] = (value - z * se, value + z * se)
    return out


def rule_of_thumb_n_params(flops) -> np.ndarray:
    """N with D = 20·N under C = 6·N·D: N = √(C / 120) (Hoffmann et al. 2022, Table 3's ~20 tokens/param)."""
    return np.sqrt(np.asarray(flops, float) / (FLOPS_PER_PARAM_TOKEN * TOKENS_PER_PARAM_RULE))


def _suggest(flops, n_params, span_c, needs_sizes):
    """Budgets below the cheapest run (half-decade steps) until the design spans TARGET_FLOPS_DECADES, and five
    model sizes from a third to three times the rule-of-thumb optimum at each budget that lacks them."""
    c_min, c_max = float(np.min(flops)), float(np.max(flops))
    budgets = []
    if span_c < TARGET_FLOPS_DECADES:
        steps = int(np.ceil((TARGET_FLOPS_DECADES - span_c) / 0.5))
        budgets = [c_min / 10 ** (0.5 * k) for k in range(1, steps + 1)]
    sizes = []
    if needs_sizes:
        for c in (c_max, min(budgets)) if budgets else (c_max, c_min):
            sizes += list(rule_of_thumb_n_params(c) * np.geomspace(1 / 3, 3, 5))
    have = np.unique(np.asarray(n_params, float)) if n_params is not None else np.array([])
    sizes = sorted({float(f"{s:.2g}") for s in sizes if not np.any(np.isclose(have, s, rtol=0.1))})
    words = []
    if budgets:
        words.append(f"add IsoFLOP budgets of {', '.join(format_scientific(b, 2) for b in budgets)} FLOPs (cheaper "
                     f"than the {format_scientific(c_min, 2)} already run) so the runs span "
                     f"{TARGET_FLOPS_DECADES:g} decades of compute")
    if sizes:
        words.append(f"train several model sizes at each budget, e.g. {', '.join(format_quantity(s, 2) for s in sizes)} "
                     f"params (a third to three times √(C/120), the ~20 tokens/param optimum)")
    return tuple(float(f"{b:.3g}") for b in budgets), tuple(sizes), tuple(words)


def identify(fit, bootstrap=None) -> Identifiability:
    """Classify ``fit`` (a FitResult; ``bootstrap``: its BootstrapResult, optional) — see the module docstring."""
    data = fit.data
    flops = data.compute if data is not None else None
    spans = {"n_params": _span(data.n_params) if data is not None else 0.0,
             "n_tokens": _span(data.n_tokens) if data is not None else 0.0,
             "flops": _span(flops) if flops is not None else 0.0}
    spans = {k: round(v, 3) for k, v in spans.items()}
    problem = fit.problem_
    n_free = int(problem.free.sum()) if problem is not None else int(np.size(fit.theta_))
    bad, weak = [], []

    if fit.status == "iteration limit":
        bad.append(f"the optimiser stopped at its iteration limit ({fit.n_iter} iterations): the constants are "
                   f"not an optimum")
    uses_nd = fit.form in _USES_N_D
    n_sizes = len(np.unique(data.n_params)) if data is not None and data.n_params is not None else 0
    if uses_nd and data is not None and data.n_params is not None:
        if n_sizes == 1:
            bad.append(f"all {fit.n_points} runs share one model size ({format_quantity(data.n_params[0], 2)} "
                       f"params): the exponent of N and its coefficient cannot be estimated")
        elif spans["n_params"] < MIN_N_PARAMS_DECADES:
            weak.append(f"model sizes span only {spans['n_params']:.2f} decades")
        if len(np.unique(data.n_tokens)) == 1:
            bad.append(f"all runs share one training length ({format_quantity(data.n_tokens[0], 2)} tokens): the "
                       f"exponent of D cannot be estimated")
    if fit.form in COMPUTE_ONLY_KINDS and n_sizes == 1:
        # L(C) describes the compute-optimal frontier, which moves to larger models as C grows; one size's
        # runs trace that model's own curve in D, which flattens at its capacity (E becomes its floor).
        bad.append(f"all {fit.n_points} runs share one model size ({format_quantity(data.n_params[0], 2)} "
                   f"params): their losses trace that model's curve, not the compute-optimal frontier L(C) "
                   f"that {fit.form} describes")
    if uses_nd and data is not None and data.n_params is not None:
        n_base = n_free - 2 if fit.form == "data-constrained" else n_free  # R_D*, R_N* vary with U, not (N, D)
        pairs = len({(a, b) for a, b in zip(data.n_params.tolist(), data.n_tokens.tolist())})
        if n_base > 0 and pairs <= n_base:
            bad.append(f"only {pairs} distinct (N, D) pairs for {n_base} constants of the (N, D) law: they cannot "
                       f"all be estimated")
    if fit.form == "data-constrained" and data is not None and data.unique_tokens is not None:
        epochs = data.n_tokens / data.unique_tokens
        if epochs.max() < 2:
            bad.append(f"no run repeats its data twice (most epochs {epochs.max():.2g}): R_D* cannot be estimated")
        elif np.unique(np.round(np.log2(np.maximum(epochs, 1)), 1)).size < 3:
            weak.append("fewer than three distinct numbers of epochs: R_D* rests on few points")
    if flops is not None and fit.form != "data-constrained":  # a repetition fit adds R_D*, R_N* to a base law
        if spans["flops"] < MIN_FLOPS_DECADES:
            bad.append(f"the runs span {spans['flops']:.2f} decades of compute (an exponent needs ≥ "
                       f"{MIN_FLOPS_DECADES:g}; extrapolation ≥ {GOOD_FLOPS_DECADES:g})")
        elif spans["flops"] < GOOD_FLOPS_DECADES:
            weak.append(f"the runs span {spans['flops']:.2f} decades of compute (≥ {GOOD_FLOPS_DECADES:g} "
                        f"recommended before extrapolating)")
    if fit.n_points < POINTS_PER_PARAMETER * n_free:
        weak.append(f"{fit.n_points} runs for {n_free} free parameters (≥ {POINTS_PER_PARAMETER * n_free} "
                    f"recommended)")

    condition = None
    jacobian = _log_loss_jacobian(fit)
    unpinned = []
    if problem is not None:
        span = problem.upper - problem.lower
        theta = fit.theta_
        on_bound = problem.free & ((theta - problem.lower <= 1e-6 * span) | (problem.upper - theta <= 1e-6 * span))
        for i in np.flatnonzero(on_bound):
            name = problem.theta_names[i]
            bad.append(f"{_NATURAL.get(name, name)} sits on its bound: the data do not pin it down")
            unpinned.append(name)
    elif fit.form == "data-constrained" and fit.theta_ is not None:  # scipy's solver: no _Problem, same rule
        from .repetition import names_on_bounds

        on_bounds = names_on_bounds(fit.theta_)
        bad += [f"{name} sits on its bound: the data do not pin it down" for name in on_bounds]
        unpinned += on_bounds
    if jacobian is not None:
        with np.errstate(all="ignore"):
            condition = float(np.linalg.cond(jacobian.T @ jacobian))
        if not np.isfinite(condition) or condition > CONDITION_BAD:
            bad.append(f"the curvature matrix JᵀJ is near-singular (condition number {condition:.2g}): "
                       f"{_singular_because(fit, jacobian)}")
            unpinned += _idle(fit, jacobian)
        elif condition > CONDITION_WEAK:
            weak.append(f"the curvature matrix JᵀJ is ill-conditioned (condition number {condition:.2g})")
    unpinned = [_PARAM_KEY.get(name, name) for name in dict.fromkeys(unpinned)]
    if fit.form == "chinchilla-tied" and "alpha" in unpinned:
        unpinned.append("beta")  # β is α there

    fraction = None
    if bootstrap is not None:
        fraction = bootstrap.n_converged / bootstrap.n_resamples
        text = f"{bootstrap.n_converged} of {bootstrap.n_resamples} bootstrap resamples converged"
        if fraction < CONVERGED_BAD:
            bad.append(text)
        elif fraction < CONVERGED_WEAK:
            weak.append(text)
        for key, symbol in _EXPONENTS.items():
            if key not in bootstrap.intervals:
                continue
            lo, hi = bootstrap.intervals[key]
            ratio = hi / lo if lo > 0 else np.inf
            text = f"{symbol}'s {bootstrap.level:.0%} interval spans {lo:.3g}–{hi:.3g}"
            if ratio > EXPONENT_RATIO_BAD:
                bad.append(text)
            elif ratio > EXPONENT_RATIO_WEAK:
                weak.append(text)
        for key, symbol in (("rd_star", "R_D*"), ("rn_star", "R_N*")):  # repetition half-lives (Muennighoff 2023)
            if key in bootstrap.intervals:
                lo, hi = bootstrap.intervals[key]
                if not (lo > 0 and hi / lo <= EXPONENT_RATIO_WEAK):
                    weak.append(f"{symbol}'s {bootstrap.level:.0%} interval spans {lo:.3g}–{hi:.3g}")
        if "E" in bootstrap.intervals:
            lo, hi = bootstrap.intervals["E"]
            if lo < 1e-3 * hi:
                bad.append(f"E's {bootstrap.level:.0%} interval spans {lo:.2g}–{hi:.3g}: the irreducible loss is "
                           f"not estimated")

    if bootstrap is None and jacobian is not None:
        for symbol, (lo, hi) in curvature_intervals(fit, jacobian).items():
            if not (lo > 0 and hi / lo <= EXPONENT_RATIO_WEAK):
                weak.append(f"{symbol}'s approximate 95% interval from the curvature spans {lo:.3g}–{hi:.3g} "
                            f"(a bootstrap, e.g. --bootstrap 200, gives the full check)")

    level = "unidentified" if bad else "weakly identified" if weak else "identified"
    budgets, sizes, words = (), (), ()
    if level != "identified" and flops is not None:
        needs_sizes = (uses_nd or fit.form in COMPUTE_ONLY_KINDS) and (
            n_sizes < 3 or spans["n_params"] < MIN_N_PARAMS_DECADES or fit.n_points < POINTS_PER_PARAMETER * n_free)
        budgets, sizes, words = _suggest(flops, data.n_params if data is not None else None, spans["flops"],
                                         needs_sizes)
        if fit.status == "iteration limit":
            words = ("refit with a higher iteration limit (max_iter)",) + words
    return Identifiability(level=level, reasons=tuple(bad + weak), suggestions=words, suggested_flops=budgets,
                           suggested_n_params=sizes, span_decades=spans, n_points=fit.n_points, n_free=n_free,
                           condition_number=condition, fraction_converged=fraction, unpinned=tuple(unpinned))


def unpinned_keys(report: dict) -> set[str]:
    """The rows of a fit report's table (``report["params"]`` keys, and "a") whose intervals say nothing: the
    unpinned constants, and the allocation exponent a = β/(α + β) when α or β is one of them."""
    keys = set((report.get("identifiability") or {}).get("unpinned") or ())
    return keys | {"a"} if keys & {"alpha", "beta"} else keys


def _with_bootstrap(fit, bootstrap) -> Identifiability:
    """The fit's verdict with ``bootstrap``'s evidence: the one the bootstrap computed when it ran (a
    BootstrapResult built by hand carries none, and gets it computed here)."""
    return bootstrap.identifiability if bootstrap.identifiability is not None else identify(fit, bootstrap)


def require_identified(fit_or_verdict, bootstrap=None, *, allow_unidentified: bool = False,
                       override: str = "pass --allow-unidentified"):
    """The fit's Identifiability, or InputError when it is unidentified and ``allow_unidentified`` is False.

    ``fit_or_verdict``: a FitResult, an Identifiability or a saved fit (`io.SavedFit`); anything else (a
    preset law or ensemble) has nothing to check and gives None. Planning code calls this before planning;
    with the override, mark every output with the returned verdict's ``summary()``.
    """
    from .io import SavedFit

    if isinstance(fit_or_verdict, Identifiability):
        verdict = fit_or_verdict
    elif isinstance(fit_or_verdict, SavedFit):
        verdict = fit_or_verdict.identifiability
        if verdict is None:  # a version-1 file: no verdict was saved
            return None
    elif isinstance(fit_or_verdict, FitResult):
        verdict = fit_or_verdict.identifiability if bootstrap is None else _with_bootstrap(fit_or_verdict, bootstrap)
    else:  # a law or ensemble (a preset or a loaded fit without its verdict): nothing to check
        return None
    if verdict.level == "unidentified" and not allow_unidentified:
        fix = "; ".join(verdict.suggestions) or "add runs"
        raise InputError(f"the fit is unidentified ({'; '.join(verdict.reasons)}), so a plan from it would be "
                         f"meaningless: {fix}; or {override} to plan anyway")
    return verdict
