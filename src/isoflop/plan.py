"""Compute-optimal planning and diagnosis with a parametric (N, D) law.

Conventions: C = 6·N·D training FLOPs (Kaplan et al. 2020; Hoffmann et al. 2022); ``n_params`` counted as
the law's ``param_convention`` says; losses in nats per token.

- ``compute_optimal``: argmin_{N,D: 6ND=C} L(N, D), in closed form from the law (Hoffmann et al. 2022, eq. 4).
- ``optimal_for_params`` / ``optimal_for_tokens``: the budget for which a given N (or D) is compute-optimal,
  by inverting the power-law frontier N*(C) = N*(1)·C^a.
- ``min_flops_for_loss``: the cheapest run reaching a target loss. By Lagrange duality it lies on the same
  frontier, so it is the root of L*(C) = target, L*(C) strictly decreasing; solved by bisection in log C.
- ``diagnose``: where a given (N, D) sits against the frontier at its own compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .laws import FLOPS_PER_PARAM_TOKEN


def _plain(x):
    """NumPy values → Python floats/lists for JSON."""
    arr = np.asarray(x)
    return arr.item() if arr.ndim == 0 else arr.tolist()


@dataclass(frozen=True)
class Allocation:
    """A training allocation: ``flops`` = 6·``n_params``·``n_tokens``, and the ``loss`` the law predicts."""

    flops: float
    n_params: float
    n_tokens: float
    loss: float
    law: str = "custom"

    @property
    def tokens_per_param(self):
        return np.asarray(self.n_tokens) / np.asarray(self.n_params)

    def to_dict(self) -> dict:
        return {"flops": _plain(self.flops), "n_params": _plain(self.n_params), "n_tokens": _plain(self.n_tokens),
                "tokens_per_param": _plain(self.tokens_per_param), "loss": _plain(self.loss), "law": self.law}


def _check_positive(name, value):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise InputError(f"{name} must be positive and finite, got {value!r}")
    return arr


def _allocation(law, n_params, n_tokens) -> Allocation:
    flops = FLOPS_PER_PARAM_TOKEN * n_params * n_tokens
    return Allocation(flops=flops, n_params=n_params, n_tokens=n_tokens, loss=law.loss(n_params, n_tokens),
                      law=law.name)


def compute_optimal(law, flops) -> Allocation:
    """The loss-minimising (N, D) with 6·N·D = ``flops``. Vectorised over arrays of budgets."""
    flops = _check_positive("flops", flops)
    n_params, n_tokens = law.compute_optimal(flops)
    return _allocation(law, n_params, n_tokens)


def optimal_for_params(law, n_params) -> Allocation:
    """The budget (and token count) for which ``n_params`` is the compute-optimal size.

    N*(C) = N*(1)·C^a for every law here, so C = (N / N*(1))^(1/a).
    """
    n_params = _check_positive("n_params", n_params)
    flops = (n_params / law.compute_optimal(1.0)[0]) ** (1.0 / law.n_params_exponent)
    return _allocation(law, n_params, flops / (FLOPS_PER_PARAM_TOKEN * n_params))


def optimal_for_tokens(law, n_tokens) -> Allocation:
    """The budget (and model size) for which training on ``n_tokens`` is compute-optimal: C = (D/D*(1))^(1/b)."""
    n_tokens = _check_positive("n_tokens", n_tokens)
    flops = (n_tokens / law.compute_optimal(1.0)[1]) ** (1.0 / law.n_tokens_exponent)
    return _allocation(law, flops / (FLOPS_PER_PARAM_TOKEN * n_tokens), n_tokens)


_LOG10_FLOPS_RANGE = (0.0, 60.0)  # bisection bracket: 1 FLOP to 1e60 FLOPs


def min_flops_for_loss(law, target_loss) -> Allocation:
    """The cheapest (N, D) whose predicted loss equals ``target_loss`` (nats/token).

    Minimising C subject to L(N, D) ≤ target has the same optimality condition as minimising L at fixed C,
    so the answer is the frontier point where L*(C) = target. L*(C) strictly decreases, so 200 bisection
    steps in log10 C from [0, 60] pin C to machine precision; vectorised over targets.
    """
    target = np.asarray(target_loss, dtype=float)
    if not np.all(np.isfinite(target)):
        raise InputError(f"target loss must be finite, got {target_loss!r}")
    floor = law.irreducible_loss
    if np.any(target <= floor):
        raise InputError(f"target loss {target_loss} is at or below the law's irreducible loss E = {floor:.4f}: "
                         f"no finite compute reaches it; choose a target above E")

    def frontier_loss(log10_flops):
        return law.loss(*law.compute_optimal(10.0**log10_flops))

    lo_end, hi_end = _LOG10_FLOPS_RANGE
    if np.any(frontier_loss(hi_end) > target):
        raise InputError(f"target loss {target_loss} needs more than 1e{hi_end:.0f} FLOPs under {law.name}")
    if np.any(frontier_loss(lo_end) < target):
        raise InputError(f"target loss {target_loss} is above the loss of a 1-FLOP model: any run reaches it")
    lo = np.full(np.broadcast(target, frontier_loss(lo_end)).shape, lo_end)
    hi = np.full_like(lo, hi_end)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        above = frontier_loss(mid) > target  # still too little compute
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return compute_optimal(law, 10.0 ** (0.5 * (lo + hi)))


@dataclass(frozen=True)
class Diagnosis:
    """How a planned (N, D) compares with the compute-optimal run of the same FLOPs.

    regime: ``undertrained`` (too many parameters for its tokens: tokens/param below the optimum by more
    than the factor ``tolerance``), ``overtrained`` (capacity-limited: tokens/param above optimum × tolerance)
    or ``compute-optimal``. ``compute_equivalent_flops``: the compute a compute-optimal run needs to reach the
    same loss; ``wasted_fraction`` = 1 − that / flops. ``limiting``: the resource with the larger marginal
    loss decrease per FLOP; growing N by dN costs 6·D·dN FLOPs, so per FLOP the returns compare as
    −∂L/∂log N versus −∂L/∂log D (both divided by the same C).
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

    @property
    def tokens_per_param(self) -> float:
        return self.n_tokens / self.n_params

    def to_dict(self) -> dict:
        return {"law": self.law, "n_params": self.n_params, "n_tokens": self.n_tokens, "flops": self.flops,
                "regime": self.regime, "tokens_per_param": self.tokens_per_param,
                "tokens_per_param_ratio": self.tokens_per_param_ratio, "loss": self.loss,
                "optimal": self.optimal.to_dict(), "compute_equivalent_flops": self.compute_equivalent_flops,
                "wasted_fraction": self.wasted_fraction, "limiting": self.limiting, "tolerance": self.tolerance}


def diagnose(law, n_params: float, n_tokens: float, tolerance: float = 1.5) -> Diagnosis:
    """Diagnose one configuration. ``tolerance`` > 1: the factor by which tokens/param may differ from the
    compute-optimal tokens/param at the same compute and still count as compute-optimal."""
    n_params = float(_check_positive("n_params", n_params))
    n_tokens = float(_check_positive("n_tokens", n_tokens))
    if not tolerance > 1:
        raise InputError(f"tolerance must be a factor above 1, got {tolerance!r}")
    flops = FLOPS_PER_PARAM_TOKEN * n_params * n_tokens
    optimal = compute_optimal(law, flops)
    loss = float(law.loss(n_params, n_tokens))
    ratio = float((n_tokens / n_params) / optimal.tokens_per_param)
    regime = "undertrained" if ratio < 1 / tolerance else "overtrained" if ratio > tolerance else "compute-optimal"
    equivalent = float(min_flops_for_loss(law, loss).flops)
    gain_n = -float(law.dloss_dlog_n_params(n_params, n_tokens))
    gain_d = -float(law.dloss_dlog_n_tokens(n_params, n_tokens))
    return Diagnosis(n_params=n_params, n_tokens=n_tokens, flops=flops, loss=loss, regime=regime,
                     tokens_per_param_ratio=ratio, optimal=optimal, compute_equivalent_flops=equivalent,
                     wasted_fraction=max(0.0, 1.0 - equivalent / flops), limiting="params" if gain_n > gain_d else "tokens",
                     tolerance=tolerance, law=law.name)
