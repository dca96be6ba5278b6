"""Approach 2: IsoFLOP profiles (Hoffmann et al. 2022, section 3.2).

Runs are grouped by compute budget (log C within ``budget_rtol``). Within a budget, loss is fitted against
x = log N by a parabola L(x) = c0 + c1·x + c2·x² (as Hoffmann et al.), whose vertex x* = −c1/(2·c2) gives the
budget's loss-optimal N*. The valley is asymmetric far from its minimum, so by default only the runs within a
factor ``window`` = 3 in N of the budget's best run enter the parabola (``window=None``: all runs, as
Hoffmann et al.); on Porian et al.'s (2024) sweeps this recovers their exponents, the all-runs parabola
overshoots by up to 0.4 where sizes span three decades; or, with ``method="law"``, by the slice of a fitted Chinchilla law,
L(N) = c0 + c1·N^−α + c2·N^β at fixed C (D = C/6N, so B/D^β ∝ N^β), with (c0, c1, c2) re-fitted by least squares
per budget and N* its minimiser. Then log N* = a·log C + k and log D* = b·log C + k' are fitted by ordinary
least squares, with Student-t intervals for a and b.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..laws import FLOPS_PER_PARAM_TOKEN
from ..runs import RunTable


@dataclass(frozen=True)
class BudgetOptimum:
    flops: float
    n_params: float
    n_tokens: float
    loss: float
    n_runs: int
    interior: bool  # the vertex lies inside the sampled range of N

    def to_dict(self) -> dict:
        return dict(vars(self))


@dataclass(frozen=True)
class PowerLawFit:
    """y ∝ C^exponent fitted in log space; ``interval`` is the ``level`` Student-t interval of the exponent."""

    exponent: float
    coefficient: float
    interval: tuple[float, float]
    level: float

    def __call__(self, flops):
        return self.coefficient * np.asarray(flops, float) ** self.exponent

    def to_dict(self) -> dict:
        return {"exponent": self.exponent, "coefficient": self.coefficient, "interval": list(self.interval),
                "level": self.level}


@dataclass(frozen=True)
class IsoflopResult:
    optima: tuple[BudgetOptimum, ...]
    n_params_fit: PowerLawFit  # N*(C) ∝ C^a
    n_tokens_fit: PowerLawFit  # D*(C) ∝ C^b
    method: str
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"method": self.method, "a": self.n_params_fit.to_dict(), "b": self.n_tokens_fit.to_dict(),
                "optima": [o.to_dict() for o in self.optima], "warnings": list(self.warnings)}


def group_budgets(flops, rtol: float = 0.05) -> np.ndarray:
    """Budget label per run: sorted log C split wherever consecutive values differ by more than log(1+rtol)."""
    logc = np.log(np.asarray(flops, float))
    order = np.argsort(logc)
    labels = np.empty(logc.size, int)
    labels[order] = np.concatenate([[0], np.cumsum(np.diff(logc[order]) > np.log1p(rtol))])
    return labels


def power_law(flops, values, level: float = 0.95) -> PowerLawFit:
    """OLS of log values on log flops; Student-t interval for the slope (needs ≥ 3 points)."""
    from scipy import stats  # imported here: scipy.stats costs ~0.5 s of every command's start-up

    x, y = np.log(flops), np.log(values)
    slope, intercept, _, _, stderr = stats.linregress(x, y)
    half = stats.t.ppf(0.5 + level / 2, x.size - 2) * stderr if x.size > 2 else np.inf
    return PowerLawFit(float(slope), float(np.exp(intercept)), (float(slope - half), float(slope + half)), level)


def parabola_fit(x, loss, window):
    """Coefficients (c2, c1, c0) of L(x) = c0 + c1·x + c2·x², x = log N, fitted to the runs within a factor
    ``window`` of the best run's N (at least 3; all runs when ``window`` is None), and the x it used."""
    if window is not None:
        near = np.abs(x - x[np.argmin(loss)]) <= np.log(window)
        if near.sum() < 3:
            near = np.argsort(np.abs(x - x[np.argmin(loss)]))[:3]
        x, loss = x[near], loss[near]
    with warnings.catch_warnings():  # sizes close together: the least-squares answer stands, no NumPy text
        warnings.simplefilter("ignore", np.exceptions.RankWarning)
        return np.polyfit(x, loss, 2), x


def _parabola_vertex(x, loss, window):
    (c2, c1, c0), _ = parabola_fit(x, loss, window)
    if c2 <= 0:
        return None
    xv = -c1 / (2 * c2)
    return xv, c0 + c1 * xv + c2 * xv * xv


def _law_slice_vertex(x, loss, law):
    N = np.exp(x)
    basis = np.column_stack([np.ones_like(N), N ** -law.alpha, N ** law.beta])
    coef, *_ = np.linalg.lstsq(basis, loss, rcond=None)
    grid = np.linspace(x.min() - 1.5, x.max() + 1.5, 4001)
    G = np.exp(grid)
    curve = coef[0] + coef[1] * G ** -law.alpha + coef[2] * G ** law.beta
    i = int(np.argmin(curve))
    if i in (0, grid.size - 1):
        return None
    return grid[i], curve[i]


def fit_isoflop(table: RunTable, *, method: str = "parabola", law=None, window: float | None = 3.0,
                budget_rtol: float = 0.05, min_runs: int = 3, level: float = 0.95) -> IsoflopResult:
    """Approach 2 on a table of final losses; see the module docstring."""
    if method not in ("parabola", "law"):
        raise InputError(f"unknown approach-2 method {method!r}; choose 'parabola' or 'law'")
    if method == "law" and law is None:
        raise InputError("method='law' needs a fitted Chinchilla law for the per-budget slices")
    table = table.finals()
    labels = group_budgets(table.flops, budget_rtol)
    optima, notes = [], []
    for label in np.unique(labels):
        sel = labels == label
        x, loss, flops = np.log(table.n_params[sel]), table.loss[sel], float(np.exp(np.log(table.flops[sel]).mean()))
        n_sizes = np.unique(x).size  # a parabola in log N needs 3 model sizes, not 3 runs of one size
        if n_sizes < min_runs:
            notes.append(f"budget {flops:.3g}: {int(sel.sum())} run(s) of {n_sizes} model size(s), skipped (need "
                            f"{min_runs} sizes)")
            continue
        vertex = _parabola_vertex(x, loss, window) if method == "parabola" else _law_slice_vertex(x, loss, law)
        if vertex is None:
            notes.append(f"budget {flops:.3g}: loss has no interior minimum in N, skipped")
            continue
        xv, lv = vertex
        interior = bool(x.min() <= xv <= x.max())
        if not interior:
            notes.append(f"budget {flops:.3g}: the optimum N lies outside the sampled sizes (extrapolated)")
        n_opt = float(np.exp(xv))
        optima.append(BudgetOptimum(flops, n_opt, flops / (FLOPS_PER_PARAM_TOKEN * n_opt), float(lv),
                                    int(sel.sum()), interior))
    if len(optima) < 3:
        raise InputError(f"approach 2 needs at least 3 budgets with {min_runs}+ model sizes each and a minimum "
                         f"in N; got {len(optima)}")
    c = np.array([o.flops for o in optima])
    return IsoflopResult(tuple(optima), power_law(c, [o.n_params for o in optima], level),
                         power_law(c, [o.n_tokens for o in optima], level), method, tuple(notes))
