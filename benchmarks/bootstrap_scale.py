"""Bootstrap at scale: time of `FitResult.bootstrap` against rows, for the solver's chunk size.

The resamples are solved together in chunks of ``bootstrap.CHUNK_CELLS`` resamples × rows (`bootstrap.py`).
A chunk's arrays are re-read on every solver iteration, so a chunk that fits the CPU's cache is faster than a
larger one, though it is more Python calls; the chunking does not change the result (one generator draws every
resample, and each resample is solved to its own optimum): this script checks that the α samples are equal.

Rows are drawn from Besiroglu et al. (2024)'s law with 1 % log-normal noise, budgets log-uniform in
[1e17, 1e21] FLOPs and N within a factor 10 of √(C/120).

Measured on the 2-core development machine (L2 2 MiB per core), 2026-11-27, old chunk (4,000,000 cells) →
new (131,072): 240 rows × 1,000 resamples 1.07 → 0.84 s; 2,400 × 1,000 8.27 → 3.86 s; 10,000 × 400
11.73 → 5.30 s; 100,000 × 40 9.50 → 5.77 s; every α sample equal.

Usage: python benchmarks/bootstrap_scale.py [--cells OLD,NEW]
"""

import sys
import time
import warnings

import numpy as np
import pandas as pd

from isoflop.fitting import bootstrap as boot_module
from isoflop.fitting import fit
from isoflop.runs import RunTable

CASES = ((240, 1000), (2_400, 1000), (10_000, 400), (100_000, 40))  # (rows, resamples)


def runs(n_rows: int) -> RunTable:
    rng = np.random.default_rng(0)
    c = 10 ** rng.uniform(17, 21, n_rows)
    n = np.sqrt(c / 120) * 10 ** rng.uniform(-1, 1, n_rows)
    d = c / (6 * n)
    loss = (1.8172 + 482.01 / n**0.3478 + 2085.43 / d**0.3658) * np.exp(rng.normal(0, 0.01, n_rows))
    return RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss}))


def main():
    cells = [4_000_000, boot_module.CHUNK_CELLS]
    if "--cells" in sys.argv:
        cells = [int(float(x)) for x in sys.argv[sys.argv.index("--cells") + 1].split(",")]
    warnings.simplefilter("ignore")  # a few resamples of the small cases stop at the iteration limit
    for n_rows, n_resamples in CASES:
        result = fit(runs(n_rows))
        seconds, alphas = [], []
        for chunk in cells:
            boot_module.CHUNK_CELLS = chunk
            t0 = time.perf_counter()
            boot = result.bootstrap(n_resamples, seed=0)
            seconds.append(time.perf_counter() - t0)
            alphas.append(boot.samples["alpha"])
        same = all(np.array_equal(alphas[0], a) for a in alphas[1:])
        print(f"{n_rows:>7,} rows × {n_resamples:>5,} resamples: "
              + ", ".join(f"chunk {c:,} cells {s:.2f} s" for c, s in zip(cells, seconds))
              + f"; α samples {'equal' if same else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    main()
