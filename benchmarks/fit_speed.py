"""Fit speed on Epoch's 240 Chinchilla points: isoflop against the classic 4,500-start L-BFGS-B grid.

Prints (1) isoflop's default fit in-process (imports excluded, best of 5), (2) a 1,000-resample bootstrap,
(3) `isoflop fit` as a command (process start included, best of 3), and (4) the straightforward procedure of
Hoffmann et al. / Besiroglu et al.: scipy L-BFGS-B with analytic gradients from each point of the grid
α, β ∈ {0, .5, 1, 1.5, 2}, e ∈ {−1, −.5, 0, .5, 1}, a, b ∈ {0, 5, …, 25} (4,500 starts), timed on a random
sample of starts and scaled to 4,500; then the ratios.  Usage: python benchmarks/fit_speed.py [DATA.csv]
"""

import itertools
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

from isoflop.fitting import fit
from isoflop.fitting.bootstrap import bootstrap
from isoflop.runs import RunTable, parse_column_map

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared/data/chinchilla_epoch.csv"
COLUMNS = 'n_params="Model Size",flops="Training FLOP"'


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def objective_and_grad(theta, logn, logd, logl, delta=1e-3):
    a, b, e, alpha, beta = theta
    u = np.stack([a - alpha * logn, b - beta * logd, np.full_like(logn, e)])
    lse = logsumexp(u, axis=0)
    p = np.exp(u - lse)
    r = lse - logl
    g = np.clip(r, -delta, delta)
    grad = np.array([g @ p[0], g @ p[1], g @ p[2], -(g * logn) @ p[0], -(g * logd) @ p[1]])
    return huber(delta, r).sum(), grad


def main():
    if not DATA.exists():
        sys.exit(f"{DATA} not found: pass the path of chinchilla_epoch.csv")
    table = RunTable.load(DATA, parse_column_map(COLUMNS)).drop_highest_loss(5)
    fit_s, result = best_of(lambda: fit(table), 5)
    boot_s, boot = best_of(lambda: bootstrap(result, table.loss, table.run_ids, n_resamples=1000, seed=0), 1)
    cmd = ["isoflop", "fit", str(DATA), "--columns", COLUMNS, "--drop-highest", "5", "--json"]
    cli_s, _ = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True), 3)

    logn, logd, logl = np.log(table.n_params), np.log(table.n_tokens), np.log(table.loss)
    grid = list(itertools.product(range(0, 30, 5), range(0, 30, 5), [-1, -.5, 0, .5, 1], [0, .5, 1, 1.5, 2],
                                  [0, .5, 1, 1.5, 2]))
    sample = np.random.default_rng(0).choice(len(grid), 60, replace=False)
    t0 = time.perf_counter()
    best = np.inf
    for i in sample:
        res = minimize(objective_and_grad, grid[i], args=(logn, logd, logl), jac=True, method="L-BFGS-B")
        best = min(best, res.fun)
    per_start = (time.perf_counter() - t0) / len(sample)
    grid_s = per_start * len(grid)

    print(f"data: {len(table)} points from {DATA.name}")
    print(f"isoflop fit (in-process, best of 5): {fit_s * 1e3:.1f} ms, objective {result.objective:.10f}, "
          f"status {result.status}")
    print(f"isoflop bootstrap, 1000 resamples:   {boot_s:.2f} s ({boot.n_converged} converged); 95% intervals "
          + ", ".join(f"{k} [{boot.intervals[k][0]:.3f}, {boot.intervals[k][1]:.3f}]" for k in ("E", "alpha", "beta")))
    print(f"`isoflop fit` command (process start included, best of 3): {cli_s:.2f} s")
    print(f"scipy L-BFGS-B grid, analytic gradients: {per_start * 1e3:.1f} ms/start × {len(grid)} = {grid_s:.1f} s "
          f"(best objective in the {len(sample)}-start sample {best:.10f})")
    print(f"speed-up: in-process {grid_s / fit_s:.0f}×, command {grid_s / cli_s:.0f}×")


if __name__ == "__main__":
    main()
