"""Approach 1: the training-curve envelope (Hoffmann et al. 2022, section 3.1).

Every checkpoint of every run is an observation (N, D(t), L(t)) at compute C(t) = 6·N·D(t). Hoffmann et al.
interpolate each run's loss curve, and at each of 1,500 log-spaced FLOP counts take the run with the lowest
loss: the lower envelope of all curves. The model size of the run on the envelope is the compute-optimal
N*(C) that the sweep can resolve, and D*(C) = C / (6·N*).

Here:
1. Each run's loss (optionally smoothed first: ``smooth``, a local linear fit over a window in log C, for
   noisy training losses) is interpolated linearly in log C between its logged points, and only inside its
   own range (no extrapolation). The envelope at grid point C is min over the runs covering C.
2. The envelope's N* is a staircase over the discrete model sizes. Its steps are where the fit is
   informative: where the winner changes from size N₁ to N₂ at compute C×, the optimum lies between them,
   so (C×, √(N₁·N₂)) is one observation of N*(C). Each step is determined by the data (unlike the first
   and last stair, whose extent is cut off by where the sweep starts and ends), and for a Chinchilla law
   the valley has the same shape in log N at every C, so the offset of √(N₁·N₂) from the exact N*(C×) is
   the same at every step and cancels out of the exponent. Back-and-forth switching between the same two
   sizes (noise near a crossover) counts as one step at the geometric mean of its crossings.
3. log N* = a·log C + k and log D* = b·log C + k' are fitted by OLS over the steps with Student-t
   intervals (`isoflop.fitting.isoflop.power_law`); the number of points is the number of steps, not the
   1,500 grid points, whose dependence would make the intervals falsely narrow.

Schedules. A loss logged halfway through a cosine schedule is higher than the final loss of a run whose
schedule ended there (Hoffmann et al. 2022, appendix B), so a curve is only fair where the run went the
full length it was scheduled for. Rule: a run whose table carries ``planned_tokens`` (its learning-rate
schedule length in tokens; `isoflop.ingest` fills it from ``--planned-steps`` or a trainer's ``max_steps``)
is *flagged* when its last logged n_tokens differs from planned_tokens by more than ``tolerance``
(default 5%, which absorbs a last logging step short of the end): stopped early, its whole curve sits
above what its schedule would have reached; run past its schedule, it trains on at the final learning
rate. Flagged runs are left out of the envelope by default and listed in the result. Runs without
planned_tokens cannot be checked and are said so in the warnings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..laws import FLOPS_PER_PARAM_TOKEN
from ..runs import RunTable
from ..units import is_number
from .isoflop import PowerLawFit, power_law

N_GRID = 1500  # Hoffmann et al. 2022, section 3.1: "1500 logarithmically spaced FLOP values"
PLANNED_TOLERANCE = 0.05


@dataclass(frozen=True)
class Step:
    """Where the envelope's winner changes from a model of ``n_params_below`` to one of ``n_params_above``."""

    flops: float
    n_params_below: float
    n_params_above: float

    @property
    def n_params(self) -> float:
        """The optimum between the two sizes: their geometric mean."""
        return float(np.sqrt(self.n_params_below * self.n_params_above))

    @property
    def n_tokens(self) -> float:
        return self.flops / (FLOPS_PER_PARAM_TOKEN * self.n_params)

    def to_dict(self) -> dict:
        return {"flops": self.flops, "n_params_below": self.n_params_below, "n_params_above": self.n_params_above,
                "n_params": self.n_params, "n_tokens": self.n_tokens}


@dataclass(frozen=True)
class EnvelopeResult:
    """The lower envelope of training curves on a log-spaced FLOP grid and the N*(C), D*(C) fitted to it.

    Per grid point: ``flops``, the envelope ``loss``, the ``run_id`` attaining it, its ``n_params`` and
    ``n_tokens`` = flops / (6·n_params). ``steps``: where the winning model size changes (the fitted
    points). ``flagged``: run id → why its schedule did not match its length (left out when
    ``excluded``).
    """

    flops: np.ndarray
    loss: np.ndarray
    run_id: np.ndarray
    n_params: np.ndarray
    n_tokens: np.ndarray
    steps: tuple[Step, ...]
    n_params_fit: PowerLawFit  # N*(C) ∝ C^a
    n_tokens_fit: PowerLawFit  # D*(C) ∝ C^b
    flagged: dict
    excluded: bool
    warnings: tuple[str, ...]

    @property
    def winners(self) -> list[str]:
        """Run ids that attain the envelope somewhere, in order of first appearance along C."""
        return list(dict.fromkeys(self.run_id.tolist()))

    def to_dict(self) -> dict:
        return {"a": self.n_params_fit.to_dict(), "b": self.n_tokens_fit.to_dict(),
                "steps": [s.to_dict() for s in self.steps], "winners": self.winners,
                "flagged": dict(self.flagged), "excluded_flagged": self.excluded, "n_grid": int(self.flops.size),
                "flops_range": [float(self.flops[0]), float(self.flops[-1])], "warnings": list(self.warnings)}


def schedule_flags(table: RunTable, tolerance: float = PLANNED_TOLERANCE) -> tuple[dict, list[str]]:
    """Runs whose length does not match their planned schedule (see the module docstring).

    Returns ({run_id: reason}, [run ids without a planned length]).
    """
    frame = table.frame
    last = frame.groupby("run_id", sort=False)["n_tokens"].max()
    if "planned_tokens" not in frame:
        return {}, list(last.index)
    planned = frame.groupby("run_id", sort=False)["planned_tokens"].max()  # NaN where a run has none
    flags = {}
    for run, tokens in last.items():
        plan = planned.get(run, np.nan)
        if not np.isfinite(plan):
            continue
        ratio = tokens / plan
        if ratio < 1 - tolerance:
            flags[run] = f"stopped at {ratio:.0%} of its schedule ({tokens:.3g} of {plan:.3g} tokens)"
        elif ratio > 1 + tolerance:
            flags[run] = f"ran {ratio:.0%} of its schedule ({tokens:.3g} of {plan:.3g} tokens)"
    unchecked = [run for run in last.index if not np.isfinite(planned.get(run, np.nan))]
    return flags, unchecked


def local_linear(x, y, half_width: float) -> np.ndarray:
    """Local linear regression with a boxcar window: at each x_i, the value at x_i of the least-squares line
    through the points with |x_j − x_i| ≤ half_width (their mean where the line is undetermined).

    Unlike a moving average it has no first-order bias at the ends of a sloped curve, where the envelope
    is decided (the last checkpoints of each run), and its window is in x = log C, not in points, so
    sparse early checkpoints are not averaged with far-away ones. O(n) by prefix sums; x sorted.
    """
    x = np.asarray(x, float) - np.mean(x)  # centred: keeps the sums of squares well conditioned
    y = np.asarray(y, float)
    lo = np.searchsorted(x, x - half_width, side="left")
    hi = np.searchsorted(x, x + half_width, side="right")
    sums = [np.concatenate([[0.0], np.cumsum(v)]) for v in (np.ones_like(x), x, x * x, y, x * y)]
    s0, s1, s2, sy, sxy = (c[hi] - c[lo] for c in sums)
    den = s0 * s2 - s1 * s1
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(den > 1e-12 * s0 * s0, (s0 * sxy - s1 * sy) / den, 0.0)
    return (sy - slope * s1) / s0 + slope * x


def _curves(table: RunTable, smooth: float):
    """run id → (log C sorted, loss, n_params) for runs with at least 2 distinct FLOP counts."""
    out = {}
    for run, rows in table.frame.groupby("run_id", sort=False):
        logc = np.log(rows["flops"].to_numpy(float))
        loss = rows["loss"].to_numpy(float)
        ulogc, inverse = np.unique(logc, return_inverse=True)  # repeated C (e.g. a re-logged step): mean loss
        if ulogc.size < 2:
            continue
        mean_loss = np.bincount(inverse, weights=loss) / np.bincount(inverse)
        if smooth > 0:
            mean_loss = local_linear(ulogc, mean_loss, smooth)
        out[run] = (ulogc, mean_loss, float(rows["n_params"].iloc[-1]))
    return out


def _steps(flops, n_params) -> list[Step]:
    """Changes of the winning size along the grid; repeated switching between one pair is one step."""
    change = np.flatnonzero(n_params[1:] != n_params[:-1])
    steps: list[tuple[frozenset, list[float], float, float]] = []
    for i in change:
        pair = frozenset((n_params[i], n_params[i + 1]))
        crossing = 0.5 * (np.log(flops[i]) + np.log(flops[i + 1]))
        if steps and steps[-1][0] == pair:
            steps[-1][1].append(crossing)
        else:
            steps.append((pair, [crossing], min(pair), max(pair)))
    return [Step(float(np.exp(np.mean(c))), lo, hi) for _, c, lo, hi in steps]


def check_smooth(smooth) -> None:
    if not is_number(smooth) or not 0 <= smooth < np.inf:
        raise InputError(f"--smooth: a half-width in log compute, finite and ≥ 0 (0: off; e.g. 0.1), got {smooth!r}")


def envelope(table: RunTable, *, n_grid: int = N_GRID, smooth: float = 0.0, tolerance: float = PLANNED_TOLERANCE,
             exclude_flagged: bool = True, level: float = 0.95) -> EnvelopeResult:
    """Approach 1 on training curves: a RunTable with several rows (checkpoints) per run.

    ``n_grid``: log-spaced FLOP counts from the first to the last point of any run. ``smooth``: half-width in
    log C of a local linear smoother (`local_linear`) applied to each curve first, for noisy training
    losses (Hoffmann et al. smooth too); e.g. 0.1 averages over ±10% in compute; 0 = off. ``tolerance``: how far
    a run's length may stray from its planned_tokens before it is flagged; ``exclude_flagged``: leave
    flagged runs out of the envelope. ``level``: of the Student-t intervals of the exponents.
    """
    check_smooth(smooth)
    flags, unchecked = schedule_flags(table, tolerance)
    warnings = []
    if unchecked:
        warnings.append(f"{len(unchecked)} of {table.frame['run_id'].nunique()} runs have no planned_tokens: "
                        f"whether their schedule matched their length is not checked")
    if exclude_flagged and flags:
        table = table.subset(~table.frame["run_id"].isin(list(flags)).to_numpy())
        warnings.append(f"left out {len(flags)} run(s) whose schedule did not match their length: "
                        f"{', '.join(sorted(map(str, flags)))}")
    curves = _curves(table, smooth)
    if len(curves) < 2:
        raise InputError(f"approach 1 needs training curves (several checkpoints per run) from at least 2 runs; "
                         f"got {len(curves)} — give a table with a step column, e.g. from `isoflop ingest`")
    lo = min(c[0][0] for c in curves.values())
    hi = max(c[0][-1] for c in curves.values())
    log_grid = np.linspace(lo, hi, n_grid)
    runs = list(curves)
    # (R, G): each run's interpolated loss where it has data, +inf elsewhere (never extrapolated).
    losses = np.array([np.interp(log_grid, x, y, left=np.inf, right=np.inf) for x, y, _ in curves.values()])
    covered = np.isfinite(losses).any(axis=0)
    if not covered.all():
        warnings.append(f"{int((~covered).sum())} of {n_grid} grid points lie in gaps no run covers")
    log_grid, losses = log_grid[covered], losses[:, covered]
    best = np.argmin(losses, axis=0)
    flops = np.exp(log_grid)
    sizes = np.array([curves[r][2] for r in runs])
    n_params = sizes[best]
    steps = _steps(flops, n_params)
    if len(steps) < 3:
        raise InputError(f"approach 1 needs at least 3 changes of the best model size along the envelope to fit "
                         f"N*(C); got {len(steps)} — train more model sizes, or each for longer, so that curves cross")
    c = np.array([s.flops for s in steps])
    return EnvelopeResult(
        flops=flops, loss=losses[best, np.arange(best.size)], run_id=np.array(runs, dtype=object)[best],
        n_params=n_params, n_tokens=flops / (FLOPS_PER_PARAM_TOKEN * n_params), steps=tuple(steps),
        n_params_fit=power_law(c, [s.n_params for s in steps], level),
        n_tokens_fit=power_law(c, [s.n_tokens for s in steps], level),
        flagged=flags, excluded=exclude_flagged, warnings=tuple(warnings))
