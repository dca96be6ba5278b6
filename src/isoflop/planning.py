"""Planning with a parametric (N, D) law: compute-, data- and inference-optimal allocations, diagnosis, frontiers.

Conventions: C = 6·N·D training FLOPs (Kaplan et al. 2020; Hoffmann et al. 2022); ``n_params`` counted as
the law's ``param_convention`` says; losses in nats per token; ``unique_tokens`` is the size of the unique
data pool, ``epochs`` = n_tokens / unique_tokens.

- ``compute_optimal``: argmin_{N,D: 6ND=C} L(N, D), in closed form from the law (Hoffmann et al. 2022, eq. 4).
- ``optimal_for_params`` / ``optimal_for_tokens``: the budget for which a given N (or D) is compute-optimal,
  by inverting the power-law frontier N*(C) = N*(1)·C^a.
- ``min_flops_for_loss``: the cheapest run reaching a target loss. By Lagrange duality it lies on the same
  frontier, so it is the root of L*(C) = target, L*(C) strictly decreasing; solved by bisection in log C.
- ``constrained_optimal``: argmin over N at fixed C and unique data U_D under the data-constrained law
  (Muennighoff et al. 2023), by bisection on the sign of the analytic dL/dlog N along 6ND = C.
- ``data_optimal``: for fixed U_D and unlimited compute, the best reachable loss and the budget past which a
  doubling of compute improves the loss by less than a stated fraction.
- ``tokens_for_loss``: the data a given model size needs to reach a target loss (closed form).
- ``inference_optimal``: argmin 6·N·D + 2·N·T_inf subject to L(N, D) = ℓ (Sardana et al. 2024), optionally
  with different $/FLOP for training and inference.
- ``diagnose``: where a given (N, D) sits against the frontier at its own compute.
- ``frontier``: compute-optimal, data-constrained and inference-aware allocations over a range of budgets.

Every planner takes a single law or a ``LawEnsemble``; with an ensemble the result is the point law's, plus
``intervals`` {field: (low, high)}: percentiles (2.5/97.5 by default) over the members, which are solved all
at once because their constants have shape (k, 1) (see ``_ensemble``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields as dataclass_fields, replace

import numpy as np

from .errors import InputError
from .io_utils import strict_json as _plain  # NumPy values → plain JSON; non-finite → None
from .laws import FLOPS_PER_PARAM_TOKEN, LawEnsemble, point_law, require_nd_law, with_repetition
from .presets import convention_warnings, repetition_warnings, warnings_for
from .units import (as_count, as_positive, check_broadcast, format_bytes, format_flops, format_percent,
                    format_quantity, is_number)

DEFAULT_PERCENTILES = (2.5, 97.5)

# The smallest budget a planner accepts: one optimiser step (a batch of 16 sequences of 64 tokens) of the
# smallest sensible language model (1,000 parameters — the byte-level models of a CPU sweep such as
# `isoflop demo` start at a few thousand), 6·1e3·1,024 ≈ 6.1e6 FLOPs. Below that there is no run.
MIN_N_PARAMS = 1e3
MIN_STEP_TOKENS = 1_024
MIN_FLOPS = FLOPS_PER_PARAM_TOKEN * MIN_N_PARAMS * MIN_STEP_TOKENS
MAX_FLOPS = 1e60  # the planners' bisection bracket (1 to 1e60 FLOPs): no budget beyond it can be planned

# Bisection steps for roots in log space: 64 halvings of a bracket at most ~140 wide (e-folds) leave it below
# 1e-17, i.e. the answer is exact to double precision.
_BISECTION_STEPS = 64


def _plain_intervals(intervals) -> dict:
    return {name: [_plain(low), _plain(high)] for name, (low, high) in intervals.items()}


# ---------------------------------------------------------------------------------------------- ensembles

def _check_percentiles(percentiles):
    """(low, high) in percent, e.g. (2.5, 97.5) for a 95% interval. Two fractions such as (0.025, 0.975) are
    refused: read as percent they would silently give a 0.95%-wide interval."""
    try:
        low, high = (float(p) for p in percentiles)
    except (TypeError, ValueError):
        raise InputError(f"percentiles: give two numbers in percent, e.g. (2.5, 97.5), got {percentiles!r}") from None
    if not 0 <= low < high <= 100:
        raise InputError(f"percentiles must be two numbers 0 ≤ low < high ≤ 100, got {percentiles!r}")
    if high <= 1:
        raise InputError(f"percentiles are in percent: (2.5, 97.5) for a 95% interval, not {percentiles!r}")
    return low, high


ENSEMBLE_CELLS = 2_000_000  # members × configurations evaluated at once (~16 MB per field)


def _ensemble(solve, law, fields, percentiles, *args, **kwargs):
    """``solve(law, *args, **kwargs)`` for a single law. For a LawEnsemble: the point law's result, with
    ``intervals`` {field: (low, high)} holding the ``percentiles`` of each field over the members.

    The members are one law whose constants have shape (k, 1), so ``solve`` runs once for all of them and
    each field comes back with shape (k, *point_shape) — no loop over members.
    """
    require_nd_law(law)
    if not isinstance(law, LawEnsemble):
        return _plain_numbers(solve(law, *args, **kwargs))
    percentiles = _check_percentiles(percentiles)
    point = solve(law.point, *args, **kwargs)
    # Members × configurations in blocks of configurations, so memory stays bounded (a frontier of 8,000
    # budgets from 20,000 members held 7.6 GB): the percentiles of each configuration are its own.
    n = max([np.size(a) for a in args if isinstance(a, np.ndarray)] or [1])
    block = n if np.ndim(getattr(point, fields[0])) != 1 else max(1, ENSEMBLE_CELLS // max(law.n_members, 1))
    bounds = {name: ([], []) for name in fields}
    for start in range(0, n, block):
        part = [a[start:start + block] if isinstance(a, np.ndarray) and a.ndim == 1 and a.size == n else a
                for a in args]
        members = solve(law.members, *part, **kwargs)
        for name in fields:
            shape = np.shape(getattr(point, name))
            values = np.asarray(getattr(members, name), float)
            values = values.reshape((values.shape[0],) + (shape if block == n else (-1,)))
            low, high = np.percentile(values, percentiles, axis=0)
            bounds[name][0].append(low)
            bounds[name][1].append(high)
    intervals = {}
    for name, (lows, highs) in bounds.items():
        low, high = (lows[0], highs[0]) if len(lows) == 1 else (np.concatenate(lows), np.concatenate(highs))
        intervals[name] = (low.item() if low.ndim == 0 else low, high.item() if high.ndim == 0 else high)
    return _plain_numbers(replace(point, intervals=intervals))


def _plain_numbers(result):
    """``result`` with its 0-d arrays and NumPy scalars as Python floats: one number asked, plain numbers back
    (a notebook showed Allocation(flops=array(1.e+22), n_params=np.float64(…)) for the fields typed float)."""
    plain = {}
    for f in dataclass_fields(result):
        value = getattr(result, f.name)
        if isinstance(value, (np.ndarray, np.floating)) and np.ndim(value) == 0:
            plain[f.name] = float(value)
        elif isinstance(value, Allocation):  # an inference plan's compute-optimal reference
            plain[f.name] = _plain_numbers(value)
    return replace(result, **plain) if plain else result


# -------------------------------------------------------------------------------------- compute-optimal

@dataclass(frozen=True)
class Allocation:
    """A training allocation: ``flops`` = 6·``n_params``·``n_tokens``, and the ``loss`` the law predicts (nats per
    token, as every loss in isoflop: the cross-entropy the runs report).

    ``unique_tokens`` is set for data-constrained plans (then ``epochs`` = n_tokens / unique_tokens);
    ``intervals`` for plans made with a law ensemble.
    """

    flops: float
    n_params: float
    n_tokens: float
    loss: float
    law: str = "custom"
    unique_tokens: float | None = None
    intervals: dict | None = None

    @property
    def tokens_per_param(self):
        return np.asarray(self.n_tokens) / np.asarray(self.n_params)

    @property
    def epochs(self):
        return None if self.unique_tokens is None else np.asarray(self.n_tokens) / np.asarray(self.unique_tokens)

    def to_dict(self) -> dict:
        out = {"flops": _plain(self.flops), "n_params": _plain(self.n_params), "n_tokens": _plain(self.n_tokens),
               "tokens_per_param": _plain(self.tokens_per_param), "loss": _plain(self.loss), "law": self.law}
        if self.unique_tokens is not None:
            out.update(unique_tokens=_plain(self.unique_tokens), epochs=_plain(self.epochs))
        if self.intervals:
            out["intervals"] = _plain_intervals(self.intervals)
        return out


def check_n_params(n_params) -> np.ndarray:
    """Model sizes a run could have: positive, finite and at least MIN_N_PARAMS (the floor every planner and
    `predict_loss`'s questions share; 1e-300 parameters predicted a loss of 1e113)."""
    n_params = as_positive("n_params", n_params)
    if np.any(n_params < MIN_N_PARAMS):
        raise InputError(f"n_params {_describe(n_params)} is below {MIN_N_PARAMS:,.0f}, the smallest sensible model; "
                         f"check the units")
    return n_params


def check_flops(flops, name: str = "flops"):
    """A training budget: positive, finite, at least MIN_FLOPS (one step of the smallest sensible model) and
    at most MAX_FLOPS (the planners' own bracket; 1e300 overflowed into inf and NumPy warnings)."""
    arr = as_positive(name, flops)
    if np.any(arr > MAX_FLOPS):
        raise InputError(f"{name} {np.max(arr):.3g} is above {MAX_FLOPS:.0e} FLOPs, the largest budget isoflop plans "
                         f"(today's largest runs use ~1e26); check the units")
    if np.any(arr < MIN_FLOPS):
        raise InputError(f"{name} {np.min(arr):.3g} is below {MIN_FLOPS:.3g} FLOPs, one optimiser step "
                         f"({MIN_STEP_TOKENS:,} tokens) of the smallest sensible model ({MIN_N_PARAMS:.0e} "
                         f"params); give a larger budget")
    return arr


def _allocation(law, n_params, n_tokens, unique_tokens=None) -> Allocation:
    flops = FLOPS_PER_PARAM_TOKEN * n_params * n_tokens
    if unique_tokens is None:
        loss = law.loss(n_params, n_tokens)
    else:
        loss = with_repetition(law).loss(n_params, n_tokens, unique_tokens)
    return Allocation(flops=flops, n_params=n_params, n_tokens=n_tokens, loss=loss, law=law.name,
                      unique_tokens=unique_tokens)


def _compute_optimal(law, flops) -> Allocation:
    # the budget as given, not 6·N·D recomputed (which would print 2.21e19 as 2.2100000000000053e19)
    return replace(_allocation(law, *law.compute_optimal(flops)), flops=flops)


def compute_optimal(law, flops, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The loss-minimising (N, D) with 6·N·D = ``flops`` (approach 3: Hoffmann et al. 2022, §3.3 and eq. 4;
    each law's ``compute_optimal`` cites its closed form). Vectorised over arrays of budgets.

    A law with an exponent of 0 (a fit on its bound) has no optimum: N* is 0 or unbounded. It is refused (it
    planned n_params 0 on n_tokens inf, with a NumPy division warning)."""
    flops = check_flops(flops)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        result = _ensemble(_compute_optimal, law, ("n_params", "n_tokens", "loss"), percentiles, flops)
    n_params = np.asarray(result.n_params, float)
    if not np.all(np.isfinite(n_params) & (n_params > 0) & np.isfinite(np.asarray(result.n_tokens, float))):
        raise InputError(f"{law.name}: its compute-optimal size is 0 or unbounded (an exponent of 0, a fit on its "
                         f"bound: the runs cannot say how loss falls with parameters or tokens); it cannot plan")
    return result


def _sensible_size(result, law, question: str):
    """``result``, unless its model is below MIN_N_PARAMS: check_flops lets through any budget of one step of
    a 1,000-parameter model, but a law's optimum there can be far smaller (Besiroglu et al. 2024's at 6.2e6
    FLOPs has 145 parameters), a size `plan --params` and `loss` refuse. Refused, saying where the law's
    optimum reaches the floor. `plan` asks it of every plan; the planners themselves draw curves (a report's
    frontier below the runs) and do not."""
    n_params = np.asarray(result.n_params, dtype=float)
    if not np.any(n_params < MIN_N_PARAMS):
        return result
    reach = float(np.ravel(_optimal_for_params(point_law(law), MIN_N_PARAMS).flops)[0])
    raise InputError(f"{question}: the optimal model has {np.min(n_params):.3g} params, below {MIN_N_PARAMS:,.0f}, "
                     f"the smallest sensible model; under {law.name} the compute-optimal model reaches that size "
                     f"at {reach:.3g} FLOPs")


def _optimal_for_params(law, n_params) -> Allocation:
    flops = (n_params / law.compute_optimal(1.0)[0]) ** (1.0 / law.n_params_exponent)
    return _allocation(law, n_params, flops / (FLOPS_PER_PARAM_TOKEN * n_params))


def optimal_for_params(law, n_params, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The budget (and token count) for which ``n_params`` is the compute-optimal size.

    N*(C) = N*(1)·C^a for every law here, so C = (N / N*(1))^(1/a).
    """
    n_params = check_n_params(n_params)
    with np.errstate(all="ignore"):  # a size far outside the law: check_flops names it below, NumPy need not
        result = _ensemble(_optimal_for_params, law, ("flops", "n_tokens", "loss"), percentiles, n_params)
    check_flops(result.flops, f"the budget at which n_params {_describe(n_params)} is compute-optimal,")
    return result


def _optimal_for_tokens(law, n_tokens) -> Allocation:
    flops = (n_tokens / law.compute_optimal(1.0)[1]) ** (1.0 / law.n_tokens_exponent)
    return _allocation(law, flops / (FLOPS_PER_PARAM_TOKEN * n_tokens), n_tokens)


def optimal_for_tokens(law, n_tokens, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The budget (and model size) for which training on ``n_tokens`` is compute-optimal: C = (D/D*(1))^(1/b)."""
    n_tokens = as_positive("n_tokens", n_tokens)
    with np.errstate(all="ignore"):  # as optimal_for_params: check_flops names a dataset outside the law
        result = _ensemble(_optimal_for_tokens, law, ("flops", "n_params", "loss"), percentiles, n_tokens)
    check_flops(result.flops, f"the budget at which n_tokens {_describe(n_tokens)} is compute-optimal,")
    return result


_LOG10_FLOPS_RANGE = (0.0, np.log10(MAX_FLOPS))  # bisection bracket: 1 FLOP to MAX_FLOPS


def _describe(values, what: str = "ensemble members") -> str:
    """One number, or the range of many (an ensemble's members, or budgets): an error line never dumps an array."""
    values = np.ravel(values)
    if values.size == 1:
        return f"{values[0]:.4g}"
    return f"{np.min(values):.4g}–{np.max(values):.4g} (over {values.size} {what})"


def _min_flops_for_loss(law, target) -> Allocation:
    floor = np.max(law.irreducible_loss)
    if np.any(target <= law.irreducible_loss):
        raise InputError(f"target loss {_describe(target)} is at or below the law's irreducible loss E = {floor:.4f}: "
                         f"no finite compute reaches it; choose a target above E")

    def frontier_loss(log10_flops):
        return law.loss(*law.compute_optimal(10.0**log10_flops))

    lo_end, hi_end = _LOG10_FLOPS_RANGE
    if np.any(frontier_loss(hi_end) > target):
        raise InputError(f"target loss {_describe(target)} needs more than 1e{hi_end:.0f} FLOPs under {law.name}")
    if np.any(frontier_loss(lo_end) < target):
        raise InputError(f"target loss {_describe(target)} is above the loss of a 1-FLOP model: any run reaches it")
    lo = np.full(np.broadcast(target, frontier_loss(lo_end)).shape, lo_end)
    hi = np.full_like(lo, hi_end)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = frontier_loss(mid) > target  # still too little compute
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return _compute_optimal(law, 10.0 ** (0.5 * (lo + hi)))


def min_flops_for_loss(law, target_loss, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The cheapest (N, D) whose predicted loss equals ``target_loss`` (nats/token).

    Minimising C subject to L(N, D) ≤ target has the same optimality condition as minimising L at fixed C,
    so the answer is the frontier point where L*(C) = target. L*(C) strictly decreases, so 200 bisection
    steps in log10 C from [0, 60] pin C to machine precision; vectorised over targets.
    """
    target = as_positive("target_loss (--target-loss)", target_loss)
    return _ensemble(_min_flops_for_loss, law, ("flops", "n_params", "n_tokens"), percentiles, target)


# -------------------------------------------------------------------------------------- data-constrained

def _constrained_optimal(law, flops, unique_tokens) -> Allocation:
    """Bisection on log N ∈ [0, log(C/6)] (N from 1 to C/6, so D from C/6 to 1) for the zero of
    dL/dlog N along 6ND = C, which is (∂L/∂log N − ∂L/∂log D): raising log N by δ lowers log D by δ.
    The sign is read from the law's log-space marginal gains, so it stays exact deep into repetition."""
    law = with_repetition(law)
    c6 = np.asarray(flops, float) / FLOPS_PER_PARAM_TOKEN
    shape = np.broadcast_shapes(c6.shape, np.shape(unique_tokens), np.shape(law.loss(1.0, 1.0)))
    lo = np.zeros(shape)
    hi = np.broadcast_to(np.log(c6), shape).copy()
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        n = np.exp(mid)
        gain_n, gain_d = law.log_marginal_gains(n, c6 / n, unique_tokens)
        too_big = gain_d > gain_n  # tokens lower the loss faster than parameters: shrink N
        lo, hi = np.where(too_big, lo, mid), np.where(too_big, mid, hi)
    n = np.exp(0.5 * (lo + hi))
    # the budget as given (broadcast as the plan is), as _compute_optimal: 6·N·D read 1e21 as 9.999999999999999e20
    budget = np.broadcast_to(np.asarray(flops, float), shape).copy()
    return replace(_allocation(law, n, c6 / n, unique_tokens), flops=budget if budget.ndim else float(budget))


def constrained_optimal(law, flops, unique_tokens, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The loss-minimising (N, D) with 6·N·D = ``flops`` when only ``unique_tokens`` distinct tokens exist
    (Muennighoff et al. 2023): D beyond U_D repeats data, whose value decays (``DataConstrainedLaw``).

    A law without a repetition model is wrapped with ``with_repetition`` (Muennighoff's C4 constants, said in
    the result's ``law``). With plentiful unique data it is exactly ``compute_optimal``. Vectorised over
    budgets (and unique-token counts); evaluated on an array of budgets it is the loss-vs-compute curve along
    the best (N, epochs) path.
    """
    flops = check_flops(flops)
    unique_tokens = as_count("unique_tokens (--unique-tokens)", unique_tokens)
    check_broadcast(flops=flops, unique_tokens=unique_tokens)
    return _ensemble(_constrained_optimal, law, ("n_params", "n_tokens", "epochs", "loss"), percentiles,
                     flops, unique_tokens)


@dataclass(frozen=True)
class DataOptimalPlan:
    """What a fixed pool of unique data can buy with unlimited compute (Muennighoff et al. 2023's law).

    ``best_loss``: the infimum over all budgets, base.loss(N_opt(U_D)·(1 + R_N*), U_D·(1 + R_D*)).
    The allocation fields (``flops``, ``n_params``, ``n_tokens``, ``loss``) are the data-constrained optimum at
    the smallest budget past which one more doubling of compute improves the loss by less than
    ``rel_improvement`` (relative to the loss).
    """

    unique_tokens: float
    rel_improvement: float
    best_loss: float
    flops: float
    n_params: float
    n_tokens: float
    loss: float
    law: str
    intervals: dict | None = None

    @property
    def epochs(self):
        return np.asarray(self.n_tokens) / np.asarray(self.unique_tokens)

    @property
    def tokens_per_param(self):
        return np.asarray(self.n_tokens) / np.asarray(self.n_params)

    def to_dict(self) -> dict:
        out = {"flops": _plain(self.flops), "n_params": _plain(self.n_params), "n_tokens": _plain(self.n_tokens),
               "tokens_per_param": _plain(self.tokens_per_param), "loss": _plain(self.loss), "law": self.law,
               "unique_tokens": _plain(self.unique_tokens), "epochs": _plain(self.epochs),
               "best_loss": _plain(self.best_loss), "rel_improvement": self.rel_improvement}
        if self.intervals:
            out["intervals"] = _plain_intervals(self.intervals)
        return out


def _doubling_gain(law, flops, unique_tokens):
    """(L(C) − L(2C)) / L(C) along the data-constrained optimum: the relative gain of doubling compute, isoflop's
    own stopping rule for "data-optimal" (Muennighoff et al. 2023 give the curve, not a point on it)."""
    loss = _constrained_optimal(law, np.stack([flops, 2.0 * flops]), unique_tokens).loss
    return (loss[0] - loss[1]) / loss[0]


def _past_data_optimal(law, flops, unique_tokens) -> tuple[str, ...]:
    """A line when a data-constrained budget is past the data-optimal point (doubling it gains less than
    DEFAULT_REL_IMPROVEMENT of the loss): the loss is nearly flat in N there, so the N printed is loosely
    determined (1e21 FLOPs on 1e8 unique tokens: 360× the budget where doubling stops paying, and a brute-force
    search found an N 74 % away with the same loss to 1e-15)."""
    gain = np.asarray(_doubling_gain(with_repetition(point_law(law)), np.asarray(flops, float), unique_tokens))
    if not np.any(gain < DEFAULT_REL_IMPROVEMENT):
        return ()
    return (f"the budget is past the data-optimal point of {format_quantity(np.min(unique_tokens))} unique tokens: "
            f"doubling it gains {format_percent(max(float(np.min(gain)), 0.0))} of the loss (under "
            f"{format_percent(DEFAULT_REL_IMPROVEMENT)}); the loss is nearly flat in N there, so N and D are loosely "
            f"determined, and far less compute reaches nearly the same loss (`plan --unique-tokens` alone gives "
            f"where doubling stops paying)",)


def _data_optimal(law, unique_tokens, rel_improvement) -> DataOptimalPlan:
    law = with_repetition(law)
    one_epoch = FLOPS_PER_PARAM_TOKEN * law.n_params_for_unique_tokens(unique_tokens) * unique_tokens
    shape = np.broadcast_shapes(np.shape(one_epoch), np.shape(unique_tokens))
    lo = np.full(shape, np.log(MIN_FLOPS))
    hi = np.log(np.maximum(one_epoch, MIN_FLOPS)) + np.log(1e30)  # ~1e12× more epochs: the gain is ~0 there
    if np.any(_doubling_gain(law, np.exp(lo), unique_tokens) <= rel_improvement):
        raise InputError(f"unique tokens {_describe(unique_tokens)}: with so little data, doubling compute gains less "
                         f"than rel_improvement (--rel-improvement) {rel_improvement:g} of the loss already at "
                         f"{MIN_FLOPS:.3g} FLOPs, the smallest budget planned; give more unique tokens or a smaller "
                         f"rel_improvement")
    if np.any(_doubling_gain(law, np.exp(hi), unique_tokens) > rel_improvement):
        raise InputError(f"rel_improvement (--rel-improvement) {rel_improvement:g} is too small to reach within 1e30× "
                         f"the one-epoch budget; give a larger one")
    for _ in range(_BISECTION_STEPS):  # the gain per doubling falls as compute grows
        mid = 0.5 * (lo + hi)
        above = _doubling_gain(law, np.exp(mid), unique_tokens) > rel_improvement
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    knee = _constrained_optimal(law, np.exp(hi), unique_tokens)
    return DataOptimalPlan(unique_tokens=unique_tokens, rel_improvement=rel_improvement,
                           best_loss=law.saturated_loss(unique_tokens), flops=knee.flops, n_params=knee.n_params,
                           n_tokens=knee.n_tokens, loss=knee.loss, law=law.name)


DEFAULT_REL_IMPROVEMENT = 0.005  # the data-optimal plan stops where doubling compute gains less than 0.5 %


def data_optimal(law, unique_tokens, rel_improvement: float = DEFAULT_REL_IMPROVEMENT,
                 percentiles=DEFAULT_PERCENTILES) -> DataOptimalPlan:
    """The best loss ``unique_tokens`` can reach (C → ∞) and the budget where a doubling of compute stops
    paying ``rel_improvement`` (default 0.5 %) of the loss, with the optimal N, D and epochs there.

    The budget is found by bisection in log C on the gain per doubling, each gain from two
    ``constrained_optimal`` solves. For the loss-vs-compute curve itself, call ``constrained_optimal`` on an
    array of budgets (``isoflop frontier --unique-tokens`` prints it).
    """
    unique_tokens = as_count("unique_tokens (--unique-tokens)", unique_tokens)
    if not (is_number(rel_improvement) and 0 < rel_improvement < 1):
        raise InputError(f"rel_improvement (--rel-improvement) must be a fraction in (0, 1), got {rel_improvement!r}")
    fields = ("best_loss", "flops", "n_params", "n_tokens", "epochs", "loss")
    return _ensemble(_data_optimal, law, fields, percentiles, unique_tokens, rel_improvement)


def _tokens_for_loss(law, n_params, target, unique_tokens) -> Allocation:
    if unique_tokens is None:
        n_tokens, best = law.n_tokens_for_loss(n_params, target), law.loss(n_params, np.inf)
        how = "even unlimited data"
    else:
        law = with_repetition(law)
        n_tokens = law.n_tokens_for_loss(n_params, target, unique_tokens)
        best = law.saturated_loss(unique_tokens, n_params)
        how = f"repeating {np.max(unique_tokens):.3g} unique tokens without end"
    if not np.all(np.isfinite(n_tokens)):
        raise InputError(f"target loss {_plain(target)} is out of reach for {np.max(n_params):.3g} params: {how} "
                         f"gives {np.max(best):.4f} at best; choose a larger model or a higher target")
    return _allocation(law, n_params, n_tokens, unique_tokens)


def tokens_for_loss(law, n_params, target_loss, unique_tokens=None, percentiles=DEFAULT_PERCENTILES) -> Allocation:
    """The training tokens a model of ``n_params`` needs to reach ``target_loss``.

    Base law, closed form (Hoffmann et al. 2022, eq. 2 solved for D): D = (B / (L − E − A/N^α))^(1/β).
    With ``unique_tokens`` the data-constrained law is inverted the same way through D′ (see
    ``DataConstrainedLaw.n_tokens_for_loss``), so D may span several epochs. InputError when unreachable.
    """
    n_params = as_positive("n_params", n_params)
    target = as_positive("target_loss (--target-loss)", target_loss)
    if unique_tokens is not None:
        unique_tokens = as_count("unique_tokens (--unique-tokens)", unique_tokens)
    check_broadcast(n_params=n_params, target_loss=target, unique_tokens=unique_tokens)
    fields = ("flops", "n_tokens") + (() if unique_tokens is None else ("epochs",))
    if not isinstance(law, LawEnsemble):
        return _tokens_for_loss(law, n_params, target, unique_tokens)
    point = _tokens_for_loss(law.point, n_params, target, unique_tokens)  # the fitted law's own refusal first
    try:
        return _ensemble(_tokens_for_loss, law, fields, percentiles, n_params, target, unique_tokens)
    except InputError as exc:  # the law reaches it, some members do not: the interval has no upper end
        member_said = str(exc).split("; choose")[0]
        raise InputError(f"target loss {_plain(target)}: the fitted law reaches it with "
                         f"{format_quantity(np.max(point.n_tokens))} tokens, but some of its bootstrap members "
                         f"cannot ({member_said}), so the interval has no upper end; choose a higher target or a "
                         f"larger model") from None


# -------------------------------------------------------------------------------------- inference-aware

# Sardana et al. 2024 trained 47 models up to ~10,000 tokens per parameter and found the loss still falling
# there; their fitted law is validated that far and no further.
MAX_VALIDATED_TOKENS_PER_PARAM = 1e4


@dataclass(frozen=True)
class InferencePlan:
    """The (N, D) of least lifetime cost for a loss, serving ``inference_tokens`` (Sardana et al. 2024).

    ``flops`` = 6·N·D is the TRAINING compute of this plan, ``inference_flops`` = 2·N·T_inf, ``total_flops``
    their sum. The quality target is the loss of ``compute_optimal``: the Chinchilla-optimal run that was
    asked for (by ``match_flops``, its training budget; by ``n_params``, its size; or the cheapest run
    reaching ``target_loss``); ``compute_optimal_total_flops`` is its training plus the same inference.
    With prices (``usd_per_training_flop``, ``usd_per_inference_flop``) the plan minimised dollars instead
    of FLOPs, and the ``*_usd`` properties report them. ``warnings``: lines to show the user (e.g. tokens
    per parameter past what Sardana et al. validated).
    """

    inference_tokens: float
    flops: float
    n_params: float
    n_tokens: float
    loss: float
    inference_flops: float
    compute_optimal: Allocation
    law: str
    usd_per_training_flop: float | None = None
    usd_per_inference_flop: float | None = None
    intervals: dict | None = None
    warnings: tuple[str, ...] = ()

    @property
    def tokens_per_param(self):
        return np.asarray(self.n_tokens) / np.asarray(self.n_params)

    @property
    def total_flops(self):
        return self.flops + self.inference_flops

    @property
    def compute_optimal_total_flops(self):
        return self.compute_optimal.flops + 2.0 * self.compute_optimal.n_params * self.inference_tokens

    @property
    def saved_fraction(self):
        """1 − lifetime FLOPs of this plan / those of the compute-optimal model of the same loss (lifetime FLOPs
        6·N·D + 2·N·T_inf, Sardana et al. 2024's cost of training plus serving)."""
        return 1.0 - self.total_flops / self.compute_optimal_total_flops

    @property
    def total_usd(self):
        if self.usd_per_training_flop is None:
            return None
        return self.flops * self.usd_per_training_flop + self.inference_flops * self.usd_per_inference_flop

    @property
    def compute_optimal_total_usd(self):
        if self.usd_per_training_flop is None:
            return None
        co = self.compute_optimal
        return (co.flops * self.usd_per_training_flop
                + 2.0 * co.n_params * self.inference_tokens * self.usd_per_inference_flop)

    def to_dict(self) -> dict:
        out = {"flops": _plain(self.flops), "n_params": _plain(self.n_params), "n_tokens": _plain(self.n_tokens),
               "tokens_per_param": _plain(self.tokens_per_param), "loss": _plain(self.loss), "law": self.law,
               "inference_tokens": _plain(self.inference_tokens), "inference_flops": _plain(self.inference_flops),
               "total_flops": _plain(self.total_flops),
               "compute_optimal_total_flops": _plain(self.compute_optimal_total_flops),
               "saved_fraction": _plain(self.saved_fraction)}
        if self.usd_per_training_flop is not None:
            out.update(training_usd=_plain(self.flops * self.usd_per_training_flop),
                       inference_usd=_plain(self.inference_flops * self.usd_per_inference_flop),
                       total_usd=_plain(self.total_usd),
                       compute_optimal_total_usd=_plain(self.compute_optimal_total_usd),
                       # dollars saved, beside saved_fraction (lifetime FLOPs saved): the two differ when serving
                       # costs more per FLOP than training
                       saved_usd_fraction=_plain(1.0 - self.total_usd / self.compute_optimal_total_usd))
        out["compute_optimal"] = self.compute_optimal.to_dict()
        out["warnings"] = list(self.warnings)
        if self.intervals:
            out["intervals"] = _plain_intervals(self.intervals)
        return out


def _tokens_per_param_warnings(tokens_per_param) -> tuple[str, ...]:
    most = float(np.max(tokens_per_param))
    if most <= MAX_VALIDATED_TOKENS_PER_PARAM:
        return ()
    return (f"the plan trains {format_quantity(most)} tokens per parameter, past the ~{MAX_VALIDATED_TOKENS_PER_PARAM:,.0f} "
            f"that Sardana et al. 2024 validated; the law is extrapolated there",)


def _inference_optimal(law, inference_tokens, match_flops, target_loss, n_params, usd_per_training_flop,
                       usd_per_inference_flop) -> InferencePlan:
    """Along the iso-loss curve D(N) (closed form, ``law.n_tokens_for_loss``) the cost
    f(N) = 6·N·D(N) + 2·w·N·T (w = inference/training price per FLOP) has
    df/dlog N = N·[6·D·(1 − g_N/g_D) + 2·w·T], with g = −∂L/∂log(·) and dlog D/dlog N = −g_N/g_D.
    That bracket is negative for small N (D → ∞) and positive at and above the compute-optimal N (g_N ≤ g_D
    there); in between it increases (for the Chinchilla form, with r = g_N/g_D ≥ 1, its log N derivative is
    6·D·r·((1 + β)·r − (1 − α)) > 0), so its one zero is found by bisection in log N, from 1e-12 to 2 times
    the compute-optimal N. Where a size cannot reach ℓ at all (D = ∞) the bracket moves up."""
    if match_flops is not None:
        reference = _compute_optimal(law, match_flops)
    elif n_params is not None:
        reference = _optimal_for_params(law, n_params)
    else:
        reference = _min_flops_for_loss(law, target_loss)
    target = reference.loss
    weight = 1.0 if usd_per_training_flop is None else usd_per_inference_flop / usd_per_training_flop
    effective_tokens = weight * inference_tokens
    lo = np.log(reference.n_params) - np.log(1e12)
    hi = np.log(reference.n_params) + np.log(2.0)
    lo, hi = np.broadcast_arrays(lo, hi, effective_tokens)[:2]
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(_BISECTION_STEPS):
            mid = 0.5 * (lo + hi)
            n = np.exp(mid)
            d = law.n_tokens_for_loss(n, target)
            ratio = law.dloss_dlog_n_params(n, d) / law.dloss_dlog_n_tokens(n, d)
            grow = ~np.isfinite(d) | (6.0 * d * (1.0 - ratio) + 2.0 * effective_tokens < 0)
            lo, hi = np.where(grow, mid, lo), np.where(grow, hi, mid)
    n = np.exp(0.5 * (lo + hi))
    d = law.n_tokens_for_loss(n, target)
    # Where inference is negligible the optimum is the reference itself, and inverting the loss for D there
    # amplifies rounding: the bisection's point cost up to 7e-12 more than the reference. Keep the cheaper one.
    def cost(n_params, n_tokens):
        return FLOPS_PER_PARAM_TOKEN * n_params * n_tokens + 2.0 * effective_tokens * n_params

    with np.errstate(invalid="ignore"):
        keep = ~(cost(n, d) <= cost(reference.n_params, reference.n_tokens))
    flops = np.where(keep, reference.flops, FLOPS_PER_PARAM_TOKEN * n * d)
    n, d = np.where(keep, reference.n_params, n), np.where(keep, reference.n_tokens, d)
    return InferencePlan(inference_tokens=inference_tokens, flops=flops, n_params=n,
                         n_tokens=d, loss=law.loss(n, d), inference_flops=2.0 * n * inference_tokens,
                         compute_optimal=reference, law=law.name, usd_per_training_flop=usd_per_training_flop,
                         usd_per_inference_flop=usd_per_inference_flop, warnings=_tokens_per_param_warnings(d / n))


def inference_optimal(law, inference_tokens, *, match_flops=None, target_loss=None, n_params=None,
                      usd_per_training_flop=None, usd_per_inference_flop=None,
                      percentiles=DEFAULT_PERCENTILES) -> InferencePlan:
    """Minimise lifetime compute 6·N·D + 2·N·T_inf subject to L(N, D) = ℓ (Sardana et al. 2024, "Beyond
    Chinchilla-Optimal: Accounting for Inference in Language Model Scaling Laws"). 2·N FLOPs per
    inference token is the forward pass (Kaplan et al. 2020, Table 1).

    The quality target ℓ — give exactly one:
    - ``match_flops``: the loss of the compute-optimal model for that TRAINING budget. It is not this plan's
      budget: the plan trains longer (its ``flops``) and serves cheaper;
    - ``n_params``: the loss of the compute-optimal model of that size (Sardana et al.'s "13B
      Chinchilla-quality model");
    - ``target_loss``: a loss in nats per token.

    Cost-weighted variant (Sardana et al.'s real-world cost): give both ``usd_per_training_flop`` and
    ``usd_per_inference_flop`` (e.g. ``Cluster.usd_per_flop`` with the MFU of each phase) to minimise
    dollars; only their ratio moves the optimum. With ``inference_tokens`` = 0 the plan is compute-optimal;
    more inference tokens never give a larger model. Past 10,000 tokens per parameter the result carries a
    warning (Sardana et al. validated their law up to there). Vectorised over targets and inference tokens.
    """
    if sum(x is not None for x in (match_flops, target_loss, n_params)) != 1:
        raise InputError("give exactly one quality target for an inference-aware plan: match_flops (the loss of "
                         "the compute-optimal run at that budget), n_params (of the compute-optimal model of that "
                         "size) or target_loss")
    inference_tokens = as_positive("inference_tokens (--inference-tokens)", inference_tokens, allow_zero=True)
    if (usd_per_training_flop is None) != (usd_per_inference_flop is None):
        raise InputError("give both usd_per_training_flop and usd_per_inference_flop, or neither")
    if usd_per_training_flop is not None:
        as_positive("usd per training FLOP", usd_per_training_flop)
        if not (np.isfinite(usd_per_inference_flop) and usd_per_inference_flop >= 0):  # 0: free serving
            raise InputError(f"usd per inference FLOP must be finite and ≥ 0, got {usd_per_inference_flop!r}")
    if match_flops is not None:
        match_flops = check_flops(match_flops, "match_flops")
    elif n_params is not None:
        n_params = check_n_params(n_params)
    else:
        target_loss = as_positive("target_loss (--target-loss)", target_loss)
    check_broadcast(inference_tokens=inference_tokens, match_flops=match_flops, n_params=n_params,
                    target_loss=target_loss)
    fields = ("n_params", "n_tokens", "loss", "flops", "total_flops")
    return _ensemble(_inference_optimal, law, fields, percentiles, inference_tokens, match_flops, target_loss,
                     n_params, usd_per_training_flop, usd_per_inference_flop)


# ---------------------------------------------------------------------------------------------- diagnosis

@dataclass(frozen=True)
class Diagnosis:
    """How a planned (N, D) compares with the compute-optimal run of the same FLOPs (losses in nats per token).

    regime: ``undertrained`` (too many parameters for its tokens: tokens/param below the optimum by more
    than the factor ``tolerance``), ``overtrained`` (capacity-limited: tokens/param above optimum × tolerance)
    or ``compute-optimal``. ``compute_equivalent_flops``: the compute a compute-optimal run needs to reach the
    same loss; ``wasted_fraction`` = 1 − that / flops. ``limiting``: the resource with the larger marginal
    loss decrease per FLOP; growing N by dN costs 6·D·dN FLOPs, so per FLOP the returns compare as
    −∂L/∂log N versus −∂L/∂log D (both divided by the same C). The regimes, the waste and the tolerance are
    isoflop's own definitions on top of the law's optimum (Hoffmann et al. 2022, §3.3, whose argument that Gopher
    was too large for its tokens they quantify).
    """

    n_params: float
    n_tokens: float
    flops: float
    loss: float
    regime: str
    tokens_per_param_ratio: float
    optimal: Allocation
    compute_equivalent_flops: float
    wasted_fraction: float
    limiting: str
    tolerance: float
    law: str
    intervals: dict | None = None
    warnings: tuple[str, ...] = ()  # from a fit: how far the configuration lies from the runs (`answers.py`)
    extrapolation_decades: float | None = None  # log10(C / largest fitted run's C), from a fit
    model: str | None = None  # the published model diagnosed (`isoflop.diagnose(model=…)`)

    @property
    def tokens_per_param(self) -> float:
        return self.n_tokens / self.n_params

    def to_dict(self) -> dict:
        out = {"law": self.law, "n_params": self.n_params, "n_tokens": self.n_tokens, "flops": self.flops,
               "regime": self.regime, "tokens_per_param": self.tokens_per_param,
               "tokens_per_param_ratio": _plain(self.tokens_per_param_ratio), "loss": _plain(self.loss),
               "optimal": self.optimal.to_dict(), "compute_equivalent_flops": _plain(self.compute_equivalent_flops),
               "wasted_fraction": _plain(self.wasted_fraction), "limiting": self.limiting,
               "tolerance": self.tolerance}
        if self.intervals:
            out["intervals"] = _plain_intervals(self.intervals)
        if self.extrapolation_decades is not None:
            out["extrapolation_decades"] = _plain(self.extrapolation_decades)
        if self.model is not None:
            out["model"] = self.model
        out["warnings"] = list(self.warnings)
        return out


def _diagnose(law, n_params, n_tokens, tolerance) -> Diagnosis:
    flops = FLOPS_PER_PARAM_TOKEN * n_params * n_tokens
    optimal = _compute_optimal(law, flops)
    loss = law.loss(n_params, n_tokens)
    ratio = (n_tokens / n_params) / optimal.tokens_per_param
    regime = np.where(ratio < 1 / tolerance, "undertrained", np.where(ratio > tolerance, "overtrained",
                                                                      "compute-optimal"))
    try:
        equivalent = _min_flops_for_loss(law, loss).flops
    except InputError:  # its loss lies beyond the frontier's 1–1e60 FLOPs: no run could have this shape
        raise InputError(f"n_params {n_params:.4g} on n_tokens {n_tokens:.4g} ({flops:.3g} FLOPs): {law.name} predicts "
                         f"a loss of {_describe(loss)} there, which no compute-optimal run between 1 and 1e60 FLOPs "
                         f"has; diagnose a configuration a real run could have") from None
    gain_n = -law.dloss_dlog_n_params(n_params, n_tokens)
    gain_d = -law.dloss_dlog_n_tokens(n_params, n_tokens)
    limiting = np.where(gain_n > gain_d, "params", "tokens")
    return Diagnosis(n_params=n_params, n_tokens=n_tokens, flops=flops, loss=_plain(loss), regime=_plain(regime),
                     tokens_per_param_ratio=_plain(ratio), optimal=optimal,
                     compute_equivalent_flops=_plain(equivalent),
                     wasted_fraction=_plain(np.maximum(0.0, 1.0 - equivalent / flops)), limiting=_plain(limiting),
                     tolerance=tolerance, law=law.name)


def diagnose(law, n_params: float, n_tokens: float, tolerance: float = 1.5,
             percentiles=DEFAULT_PERCENTILES) -> Diagnosis:
    """Diagnose one configuration. ``tolerance`` > 1: the factor by which tokens/param may differ from the
    compute-optimal tokens/param at the same compute and still count as compute-optimal."""
    n_params, n_tokens = as_positive("n_params", n_params), as_positive("n_tokens", n_tokens)
    if n_params.size != 1 or n_tokens.size != 1:
        raise InputError(f"diagnose takes one configuration, got {n_params.size} n_params and {n_tokens.size} "
                         f"n_tokens; call it once per configuration")
    n_params, n_tokens = float(n_params.item()), float(n_tokens.item())
    with np.errstate(over="ignore"):  # 1e300 × 1e300 is inf, which check_flops names
        check_flops(FLOPS_PER_PARAM_TOKEN * n_params * n_tokens, f"the compute of n_params {n_params:.3g} on "
                                                                 f"n_tokens {n_tokens:.3g} (6·N·D):")
    if not is_number(tolerance) or not 1 < tolerance < np.inf:
        raise InputError(f"tolerance (--tolerance): a finite factor above 1 (e.g. 1.5), got {tolerance!r}")
    fields = ("loss", "tokens_per_param_ratio", "compute_equivalent_flops", "wasted_fraction")
    result = _ensemble(_diagnose, law, fields, percentiles, n_params, n_tokens, tolerance)
    return replace(result, warnings=(*result.warnings, *warnings_for(law, flops=result.flops, n_params=n_params,
                                                                       n_tokens=n_tokens), *convention_warnings(law)))


# ---------------------------------------------------------------------------------------------- frontier

@dataclass(frozen=True)
class Frontier:
    """Allocations side by side over budgets: compute-optimal, and where asked data-constrained (with
    ``unique_tokens``) and inference-aware (serving ``inference_tokens`` at the compute-optimal loss).
    ``law`` names the law; the data-constrained plans carry their own name (``+muennighoff2023-repetition``
    where the repetition constants were borrowed).

    Row keys (``rows()``; ``LABELS`` gives each a truthful column title): ``flops`` is the budget of the
    compute-optimal and data-constrained plans; the inference-aware plan does NOT spend it: it matches the
    loss of the compute-optimal run at ``flops`` and trains with ``inference_training_flops``, serving for
    ``inference_serving_flops``, ``inference_total_flops`` in all."""

    flops: np.ndarray
    compute_optimal: Allocation
    data_constrained: Allocation | None
    inference_aware: InferencePlan | None
    law: str
    warnings: tuple[str, ...] = ()  # from a fit: how far the budgets lie from the runs (`answers.py`)
    extrapolation_decades: np.ndarray | None = None  # from a fit: log10(budget / largest run's compute)

    def rows(self) -> list[dict]:
        """One flat dict per budget (CSV- and table-ready); intervals as ``<column>_low`` / ``<column>_high``."""
        columns = {"optimal": (self.compute_optimal, ("n_params", "n_tokens", "tokens_per_param", "loss"))}
        if self.data_constrained is not None:
            columns["constrained"] = (self.data_constrained, ("n_params", "n_tokens", "epochs", "loss"))
        if self.inference_aware is not None:
            columns["inference"] = (self.inference_aware, ("n_params", "n_tokens", "loss", "flops", "inference_flops",
                                                           "total_flops", "saved_fraction"))
        table = {"flops": np.asarray(self.flops)}
        for prefix, (plan, names) in columns.items():
            for name in names:
                column = f"{prefix}_{_RENAMED.get(name, name)}"
                table[column] = np.broadcast_to(getattr(plan, name), self.flops.shape)
                if plan.intervals and name in plan.intervals:
                    table[f"{column}_low"], table[f"{column}_high"] = plan.intervals[name]
        if self.extrapolation_decades is not None:
            table["extrapolation_decades"] = np.broadcast_to(self.extrapolation_decades, self.flops.shape)
        return [{key: float(values[i]) for key, values in table.items()} for i in range(len(self.flops))]

    def to_dict(self) -> dict:
        out = {"law": self.law, "rows": self.rows()}
        if self.data_constrained is not None:
            out.update(unique_tokens=_plain(self.data_constrained.unique_tokens),
                       constrained_law=self.data_constrained.law)
        if self.inference_aware is not None:
            out["inference_tokens"] = _plain(self.inference_aware.inference_tokens)
        out["warnings"] = list(self.warnings)
        return out


# Plan fields whose bare name would mislead in a frontier row.
_RENAMED = {"flops": "training_flops", "inference_flops": "serving_flops"}

LABELS = {
    "flops": "budget FLOPs (compute-optimal)",
    "optimal_n_params": "params", "optimal_n_tokens": "tokens", "optimal_tokens_per_param": "tokens/param",
    "optimal_loss": "loss",
    "constrained_n_params": "params", "constrained_n_tokens": "tokens", "constrained_epochs": "epochs",
    "constrained_loss": "loss",
    "inference_n_params": "params", "inference_n_tokens": "tokens", "inference_loss": "loss (= compute-optimal)",
    "inference_training_flops": "training FLOPs", "inference_serving_flops": "serving FLOPs",
    "inference_total_flops": "lifetime FLOPs", "inference_saved_fraction": "saved vs compute-optimal",
}
"""Column titles for ``Frontier.rows()`` keys. In the inference-aware table the ``flops`` column is the
budget whose compute-optimal loss is matched, so a front end should title it e.g. "matches loss at FLOPs"."""


MAX_BUDGETS = 100_000  # a frontier longer than this is no longer a table (and per_decade=1e12 would exhaust memory)


def budgets(flops_from: float, flops_to: float, per_decade: int = 2) -> np.ndarray:
    """Budgets from ``flops_from`` to ``flops_to`` (both included), ``per_decade`` per factor of 10."""
    lo, hi = float(check_flops(flops_from, "flops_from (--from)")), float(check_flops(flops_to, "flops_to (--to)"))
    if hi < lo:
        raise InputError(f"flops_to (--to) {hi:.3g} is below flops_from (--from) {lo:.3g}; swap them")
    if not isinstance(per_decade, (int, np.integer)) or isinstance(per_decade, bool) or per_decade < 1:
        raise InputError(f"per_decade (--per-decade) must be a whole number ≥ 1, got {per_decade!r}")
    count = int(round(np.log10(hi / lo) * per_decade)) + 1
    if count > MAX_BUDGETS:
        raise InputError(f"{per_decade} budgets per decade from {lo:.3g} to {hi:.3g} FLOPs make {count:,} budgets, more "
                         f"than {MAX_BUDGETS:,}; give fewer per decade or a narrower range")
    return np.logspace(np.log10(lo), np.log10(hi), count)


def frontier(law, flops, unique_tokens=None, inference_tokens=None,
             percentiles=DEFAULT_PERCENTILES) -> Frontier:
    """Compute-optimal (and data-constrained / inference-aware) allocations for an array of budgets."""
    flops = np.atleast_1d(check_flops(flops))
    if flops.ndim > 1:  # rows() and to_dict() read one budget per row
        raise InputError(f"flops: a frontier takes a list of budgets, got an array of shape {flops.shape}")
    optimal = compute_optimal(law, flops, percentiles)
    constrained = None if unique_tokens is None else constrained_optimal(law, flops, unique_tokens, percentiles)
    inference = (None if inference_tokens is None
                 else inference_optimal(law, inference_tokens, match_flops=flops, percentiles=percentiles))
    notes = warnings_for(law, flops=flops, n_params=optimal.n_params, n_tokens=optimal.n_tokens,
                         unique_tokens=unique_tokens)
    notes += convention_warnings(law)
    if constrained is not None:
        notes += repetition_warnings(law, constrained.n_tokens, unique_tokens)
    tiny = np.asarray(optimal.n_params) < MIN_N_PARAMS
    if tiny.any():  # drawn, not refused (a report's frontier runs below the data), but never silently
        notes += (f"{int(tiny.sum())} budget(s) up to {format_flops(flops[tiny].max())} give optimal models below "
                  f"{MIN_N_PARAMS:,.0f} params (the smallest sensible model, which `plan` refuses to go below): "
                  f"{np.min(optimal.n_params):.3g} params at {format_flops(flops[tiny].min())}",)
    if constrained is not None and inference is not None:  # side by side, not combined: say which limit each obeys
        notes += ("the inference-aware columns assume unlimited unique data: they are the inference-aware plans of "
                  "the unconstrained law, beside the data-constrained ones, not both limits at once",)
    return Frontier(flops=flops, compute_optimal=optimal, data_constrained=constrained, inference_aware=inference,
                    law=optimal.law, warnings=notes)


# ---------------------------------------------------------------------------------------------- dispatcher

@dataclass(frozen=True)
class Plan:
    """What ``plan()`` answers: which question it solved (``kind``), the planner's result (``result``: an
    ``Allocation``, ``DataOptimalPlan`` or ``InferencePlan``; each has flops, n_params, n_tokens, loss, law and
    ``intervals`` {field: (low, high)} with an ensemble), and with a cluster its cost, memory check and
    hardware (``serving``: the cluster as priced for inference, in a cost-weighted inference-aware plan).
    ``to_dict()`` is one flat, strict-JSON object: the result's fields, then ``cost`` (of training),
    ``memory``, ``hardware``, ``serving`` and ``warnings``."""

    kind: str
    result: Allocation | DataOptimalPlan | InferencePlan
    cost: object | None = None  # hardware.ComputeCost
    memory: object | None = None  # hardware.MemoryCheck
    cluster: object | None = None  # hardware.Cluster
    serving: object | None = None  # hardware.Cluster
    warnings: tuple[str, ...] = ()
    extrapolation_decades: float | None = None  # from a fit: log10(C / largest fitted run's C) (`answers.py`)
    loss_interval_calibrated: bool = False  # the loss interval is a fit's calibrated prediction interval

    @property
    def n_params(self):
        return self.result.n_params

    @property
    def n_tokens(self):
        return self.result.n_tokens

    @property
    def flops(self):
        return self.result.flops

    @property
    def loss(self):
        return self.result.loss

    @property
    def intervals(self) -> dict | None:
        return self.result.intervals

    def to_dict(self) -> dict:
        out = {"kind": self.kind, **self.result.to_dict()}
        if self.cluster is not None:
            out["cost"] = self.cost.to_dict()
            out["memory"] = self.memory.to_dict()
            out["hardware"] = self.cluster.to_dict()
        if self.serving is not None:
            out["serving"] = {"mfu": self.serving.mfu, "usd_per_gpu_hour": self.serving.usd_per_gpu_hour}
        if self.extrapolation_decades is not None:
            out["extrapolation_decades"] = _plain(self.extrapolation_decades)
        if self.loss_interval_calibrated:
            out["loss_interval_calibrated"] = True
        out["warnings"] = list(self.warnings) + list(out.pop("warnings", []))
        return out


def plan(law, *, flops=None, n_params=None, n_tokens=None, target_loss=None, unique_tokens=None,
         inference_tokens=None, match_flops=None, cluster=None, days=None, inference_mfu=None,
         inference_usd_per_gpu_hour=None, rel_improvement: float | None = None,
         percentiles=DEFAULT_PERCENTILES) -> Plan:
    """Plan from whatever is given; the question follows from the arguments:

    ==========================================  ======================================================
    given                                       answer (planner)
    ==========================================  ======================================================
    ``flops`` (or ``cluster`` + ``days``)       compute-optimal N, D (``compute_optimal``)
    ``n_params``                                the budget for which N is optimal (``optimal_for_params``)
    ``n_tokens``                                the budget for which D is optimal (``optimal_for_tokens``)
    ``target_loss``                             the cheapest run reaching it (``min_flops_for_loss``)
    ``n_params`` + ``target_loss``              tokens that size needs (``tokens_for_loss``)
    a budget + ``unique_tokens``                data-constrained N, D, epochs (``constrained_optimal``)
    ``unique_tokens`` alone                     best reachable loss, useful budget (``data_optimal``)
    ``inference_tokens`` + a quality:           the model of least lifetime cost at that quality
    ``match_flops``, ``n_params`` or            (``inference_optimal``): the loss of the compute-optimal
    ``target_loss``                             run at that budget / of that size, or a loss
    ==========================================  ======================================================

    ``law``: any ``NDLaw`` (a preset, a fitted law, or a ``LawEnsemble`` for intervals). With a ``cluster``
    (``hardware.Cluster``) the plan carries GPU-hours, days, dollars and a memory check; ``inference_mfu`` /
    ``inference_usd_per_gpu_hour`` price serving differently from training (a cost-weighted inference plan).
    Every option that would do nothing is an InputError, so nothing given is silently ignored.
    """
    require_nd_law(law)
    from .hardware import Cluster

    if cluster is not None and not isinstance(cluster, Cluster):
        raise InputError(f"cluster must be an isoflop.Cluster, got {type(cluster).__name__} {cluster!r:.40}; e.g. "
                         f"isoflop.Cluster(isoflop.get_accelerator('h100-sxm'), n_gpus=1024)")
    if flops is not None and days is not None:
        raise InputError("give a budget in FLOPs or in days (with a cluster), not both")
    if days is not None:
        if cluster is None:
            raise InputError("days (--days) need a cluster (cluster=, or --gpu and --gpus) to turn wall-clock time "
                             "into FLOPs")
        days = as_positive("days (--days)", days)
        if days.size != 1:
            raise InputError(f"days: one wall-clock time per plan, got {days.size}; plan each separately")
        flops = float(cluster.flops_for_days(float(days)))
    if inference_tokens is None:
        for name, value in (("match_flops (--match-flops)", match_flops),
                            ("inference_mfu (--inference-mfu)", inference_mfu),
                            ("inference_usd_per_gpu_hour (--inference-usd-per-gpu-hour)", inference_usd_per_gpu_hour)):
            if value is not None:
                raise InputError(f"{name} applies to inference-aware plans only: give inference_tokens "
                                 f"(--inference-tokens) too")
    if cluster is None and (inference_mfu is not None or inference_usd_per_gpu_hour is not None):
        raise InputError("inference_mfu and inference_usd_per_gpu_hour (--inference-mfu, --inference-usd-per-gpu-hour) "
                         "price serving on a cluster: give a cluster with a price (--gpu and --usd-per-gpu-hour) too")
    if inference_tokens is not None:
        result, serving = _inference_plan(law, inference_tokens, flops, n_params, n_tokens, target_loss,
                                          unique_tokens, match_flops, cluster, inference_mfu,
                                          inference_usd_per_gpu_hour, percentiles)
        # the model of least lifetime cost is smaller than the compute-optimal one of the same quality: a
        # 1e8-FLOP match planned a 90-parameter model
        asked = f"the inference-aware plan for {_describe(np.asarray(inference_tokens, float), 'token counts')} " \
                f"inference tokens"
        return _with_cluster("inference-aware", _sensible_size(result, law, asked), cluster, law, serving)
    given = [name for name, v in (("a budget", flops), ("n_params (--params)", n_params),
                                  ("n_tokens (--tokens)", n_tokens), ("target_loss (--target-loss)", target_loss))
             if v is not None]
    if n_params is not None and target_loss is not None and len(given) == 2:
        kind, result = "tokens-for-loss", tokens_for_loss(law, n_params, target_loss, unique_tokens, percentiles)
    elif not given and unique_tokens is not None:
        kind, result = "data-optimal", data_optimal(law, unique_tokens, DEFAULT_REL_IMPROVEMENT if rel_improvement is None
                                                    else rel_improvement, percentiles)
    elif len(given) != 1:
        raise InputError("give exactly one of --flops, --params, --tokens, --target-loss (or --gpu, --gpus and "
                         "--days for a budget; --params with --target-loss; --unique-tokens alone); in Python "
                         "flops=, n_params=, n_tokens=, target_loss= (cluster= and days=)"
                         + (f" (got {', '.join(given)})" if given else "")
                         # both sizes given: the user has a run in mind, which diagnose judges
                         + ("; to judge a run of given params and tokens, use `isoflop diagnose --params … --tokens "
                            "…` (isoflop.diagnose)" if n_params is not None and n_tokens is not None else ""))
    elif unique_tokens is not None:
        if flops is None:
            raise InputError("unique_tokens (--unique-tokens) plans a budget (flops=, --flops or --days), or alone the "
                             "data-optimal plan")
        kind, result = "data-constrained", constrained_optimal(law, flops, unique_tokens, percentiles)
    elif flops is not None:
        kind, result = "compute-optimal", compute_optimal(law, flops, percentiles)
    elif n_params is not None:
        kind, result = "for-params", optimal_for_params(law, n_params, percentiles)
    elif n_tokens is not None:
        kind, result = "for-tokens", optimal_for_tokens(law, n_tokens, percentiles)
    else:
        kind, result = "target-loss", min_flops_for_loss(law, target_loss, percentiles)
    if rel_improvement is not None and kind != "data-optimal":  # it would be silently ignored
        raise InputError(f"--rel-improvement (rel_improvement) applies to the data-optimal plan (--unique-tokens "
                         f"alone), not to a {kind} plan")
    asked = f"the {kind} plan at {_describe(np.asarray(result.flops, float), 'budgets')} FLOPs"
    return _with_cluster(kind, _sensible_size(result, law, asked), cluster, law)


def _inference_plan(law, inference_tokens, flops, n_params, n_tokens, target_loss, unique_tokens, match_flops,
                    cluster, inference_mfu, inference_usd_per_gpu_hour, percentiles):
    """``plan``'s inference-aware branch: checks what was given, prices serving, calls ``inference_optimal``;
    returns (its InferencePlan, the serving cluster or None)."""
    if unique_tokens is not None:
        raise InputError("unique_tokens and inference_tokens (--unique-tokens, --inference-tokens) cannot be combined "
                         "yet; plan them separately")
    if flops is not None:
        raise InputError("an inference-aware plan trains past its compute-optimal budget, so flops (--flops or "
                         "--days) cannot be its budget: give the quality to match, match_flops (--match-flops: the "
                         "loss of the compute-optimal run at that budget), n_params (--params) or target_loss "
                         "(--target-loss)")
    if n_tokens is not None:
        raise InputError("n_tokens (--tokens) does not apply to an inference-aware plan (it chooses the tokens)")
    targets = [name for name, v in (("match_flops (--match-flops)", match_flops), ("n_params (--params)", n_params),
                                    ("target_loss (--target-loss)", target_loss)) if v is not None]
    if len(targets) != 1:
        raise InputError("inference_tokens (--inference-tokens) needs exactly one quality to match: match_flops "
                         "(--match-flops), n_params (--params) or target_loss (--target-loss)"
                         + (f" (got {', '.join(targets)})" if targets else ""))
    prices, serving = {}, None
    if inference_mfu is not None or inference_usd_per_gpu_hour is not None:
        if cluster.usd_per_gpu_hour is None:
            raise InputError("a cost-weighted inference plan needs the cluster's training price (usd_per_gpu_hour, "
                             "--usd-per-gpu-hour)")
        if inference_mfu is not None and not (is_number(inference_mfu) and 0 < inference_mfu <= 1):
            raise InputError(f"--inference-mfu (inference_mfu): a fraction in (0, 1], got {inference_mfu!r}")
        if inference_usd_per_gpu_hour is not None and not (is_number(inference_usd_per_gpu_hour)
                                                           and 0 <= inference_usd_per_gpu_hour < np.inf):
            raise InputError(f"--inference-usd-per-gpu-hour (inference_usd_per_gpu_hour): a finite price ≥ 0, got "
                             f"{inference_usd_per_gpu_hour!r}")
        serving = replace(cluster, mfu=cluster.mfu if inference_mfu is None else inference_mfu,
                          usd_per_gpu_hour=(cluster.usd_per_gpu_hour if inference_usd_per_gpu_hour is None
                                            else inference_usd_per_gpu_hour))
        prices = {"usd_per_training_flop": cluster.usd_per_flop, "usd_per_inference_flop": serving.usd_per_flop}
    return inference_optimal(law, inference_tokens, match_flops=match_flops, n_params=n_params,
                             target_loss=target_loss, percentiles=percentiles, **prices), serving


def _with_cluster(kind, result, cluster, law, serving=None) -> Plan:
    """The Plan, priced on ``cluster`` if given, with a published law's range warnings and, for a law that
    does not count every parameter (Kaplan et al.'s non-embedding N), a line saying so."""
    unique_tokens = getattr(result, "unique_tokens", None)
    notes = (*warnings_for(law, flops=result.flops, n_params=result.n_params, n_tokens=result.n_tokens,
                           unique_tokens=unique_tokens),
             *repetition_warnings(law, result.n_tokens, unique_tokens), *convention_warnings(law))
    if kind == "data-constrained":
        notes += _past_data_optimal(law, result.flops, unique_tokens)
    if cluster is None:
        return Plan(kind, result, warnings=notes)
    memory = cluster.memory(float(np.max(result.n_params)))
    if memory.fits is False:  # printed as "fits False" alone, in a table of numbers
        notes += (f"the model's weights, gradients and Adam states ({format_bytes(memory.required_bytes)}) need at "
                  f"least {memory.min_gpus:,} GPUs of {format_bytes(memory.bytes_per_gpu)}, fully sharded, before "
                  f"activations; the cluster has {memory.n_gpus:,}",)
    return Plan(kind, result, cost=cluster.cost(result.flops), memory=memory, cluster=cluster, serving=serving,
                warnings=notes)
