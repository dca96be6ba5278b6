"""Time compute_optimal on 10^6 budgets (target: well under a second on 2 cores)."""

import time

import numpy as np

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
