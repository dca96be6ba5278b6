"""Time `sweep design` at the grid's limit: 10 budgets × up to 1,000 sizes each (MAX_GRID), one snap to a real
shape per target (``flops.propose_architecture``). Target: seconds, not minutes.

    python benchmarks/design_speed.py
"""

import time

import numpy as np

from isoflop.flops import propose_architecture
from isoflop.sweep.design import SweepConfig, design_sweep

if __name__ == "__main__":
    targets = np.geomspace(1e7, 1e11, 200)
    t0 = time.perf_counter()
    for target in targets:
        propose_architecture(float(target), vocab_size=50257, seq_len=1024)
    print(f"propose_architecture: {(time.perf_counter() - t0) / len(targets) * 1e3:.2f} ms a target "
          f"(GPT-2 vocabulary, 1e7-1e11 parameters)")
    budgets = [float(b) for b in np.geomspace(1e15, 5.12e17, 10)]
    for sizes in (10, 100, 1000):
        t0 = time.perf_counter()
        design = design_sweep(SweepConfig.from_dict({"budgets": budgets, "sizes_per_budget": sizes}))
        print(f"10 budgets × {sizes:,} sizes: {time.perf_counter() - t0:.2f} s ({len(design.runs):,} distinct runs)")
