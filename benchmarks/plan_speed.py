"""Time compute_optimal on 10^6 budgets (target: well under a second on 2 cores), and the memory of a frontier
from a large bootstrap ensemble (members × budgets are evaluated in blocks: target well under 1 GB)."""

import time
import tracemalloc
from pathlib import Path

import numpy as np

import isoflop
from isoflop.planning import budgets as make_budgets
from isoflop.planning import compute_optimal
from isoflop.presets import get_law

if __name__ == "__main__":
    law = get_law("besiroglu2024")
    budgets = np.logspace(17, 27, 1_000_000)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        compute_optimal(law, budgets)
        best = min(best, time.perf_counter() - t0)
    print(f"compute_optimal on 1e6 budgets: {best * 1e3:.1f} ms (best of 5)")

    boot = isoflop.fit(Path(__file__).resolve().parents[1] / "examples" / "runs.csv").bootstrap(20_000)
    flops = make_budgets(1e18, 1e26, 1000)
    tracemalloc.start()
    t0 = time.perf_counter()
    isoflop.frontier(boot, flops)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"frontier of {flops.size:,} budgets from {boot.n_converged:,} bootstrap members: {seconds:.1f} s, "
          f"peak {peak / 2**30:.2f} GiB traced (7.6 GB as a command before blocks)")
