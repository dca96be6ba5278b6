"""Coverage of bootstrap intervals: draw data sets from a known law with noise, count how often each 95 %
interval contains the truth.  Usage: python benchmarks/fit_coverage.py [TRIALS] [RESAMPLES]
"""

import sys
import time

import numpy as np

from isoflop.fitting import fit_arrays
from isoflop.fitting.bootstrap import bootstrap
from isoflop.laws import ChinchillaLaw


def main(trials=100, resamples=400, n_points=120, noise=0.01):
    truth = ChinchillaLaw(E=1.82, A=482.0, B=2085.0, alpha=0.348, beta=0.366)
    truths = {"E": truth.E, "A": truth.A, "B": truth.B, "alpha": truth.alpha, "beta": truth.beta,
              "a": truth.n_params_exponent}
    hits = {k: 0 for k in truths}
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(trials):
        n = 10 ** rng.uniform(7.5, 10.5, n_points)
        d = n * 10 ** rng.uniform(0.3, 2.3, n_points)
        loss = truth.loss(n, d) * np.exp(rng.normal(0, noise, n_points))
        result = fit_arrays(loss, n, d)
        boot = bootstrap(result, loss, np.arange(n_points), n_resamples=resamples, seed=int(rng.integers(1 << 31)))
        for k, v in truths.items():
            lo, hi = boot.intervals[k]
            hits[k] += lo <= v <= hi
    print(f"{trials} data sets × {resamples} resamples, {n_points} points, {noise:.0%} log-normal noise, "
          f"{time.perf_counter() - t0:.0f} s")
    for k, h in hits.items():
        print(f"  {k:6s} 95% interval coverage: {h / trials:.0%}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
