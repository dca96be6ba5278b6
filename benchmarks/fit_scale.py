"""Fit at scale: peak memory and time of `isoflop.fitting.fit` on 1e5 and 1e6 synthetic rows.

Each size runs in a fresh subprocess so that its peak resident set size (``ru_maxrss``) is its own. The rows
are drawn from Besiroglu et al. (2024)'s Chinchilla law, L = 1.8172 + 482.01/N^0.3478 + 2085.43/D^0.3658,
with N log-uniform in [1e7, 1e10], D log-uniform in [1e9, 1e12] and 1% log-normal noise; the time covers the
RunTable build (validation) and the fit. Targets (issue 13): 1,000,000 rows in < 4 GiB and < 60 s on the
2-core machine.

Measured on the 2-core development machine while other jobs kept it loaded (load average 8-11, so wall
times are pessimistic), default Chinchilla form: 100,000 rows 0.23 GiB peak, 4.3 s; 1,000,000 rows 0.57 GiB
peak, 22 s (1.8 s of it building the RunTable). Kaplan's form at a million rows: 0.55 GiB, 46 s;
loss-vs-compute: 0.51 GiB, 12 s. Before the start grid was scored in row chunks: 100,000 rows took 2.33 GiB
and 50 s under similar load, and a million rows would have needed ~24 GB. On the quiet machine (2026-11-26,
after the starts were polished one at a time): 100,000 rows 1.3 s; 1,000,000 rows 8.5 s, Kaplan 18.2 s,
loss-vs-compute 4.7 s, memory unchanged. Once the start grid's coefficients were also solved on the 20,000-row
subsample (same day, quiet): 100,000 rows 1.1 s; 1,000,000 rows 5.1 s, Kaplan 16.8 s, loss-vs-compute 4.8 s.

Usage: python benchmarks/fit_scale.py [ROWS ...] [--form FORM]   (default: 100000 1000000,
chinchilla)
"""

import json
import resource
import subprocess
import sys
import time

import numpy as np

TRUE = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}


def one(n_rows: int, form: str = "chinchilla") -> dict:
    import pandas as pd

    from isoflop.fitting import fit
    from isoflop.runs import RunTable

    rng = np.random.default_rng(0)
    n = 10 ** rng.uniform(7, 10, n_rows)
    d = 10 ** rng.uniform(9, 12, n_rows)
    loss = (TRUE["E"] + TRUE["A"] / n ** TRUE["alpha"] + TRUE["B"] / d ** TRUE["beta"]) * np.exp(
        rng.normal(0, 0.01, n_rows))
    frame = pd.DataFrame({"n_params": n, "n_tokens": d, "loss": loss})
    base_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    table = RunTable.from_frame(frame)
    t1 = time.perf_counter()
    result = fit(table, form)
    t2 = time.perf_counter()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"rows": n_rows, "table_s": t1 - t0, "fit_s": t2 - t1, "total_s": t2 - t0, "peak_rss_mib": peak_mib,
            "rss_before_fit_mib": base_mib, "status": result.status, "objective": result.objective,
            "form": form, "params": {k: float(v) for k, v in result.params.items()}}


def main():
    args = sys.argv[1:]
    form = "chinchilla"
    if "--form" in args:
        i = args.index("--form")
        form = args[i + 1]
        del args[i:i + 2]
    if args and args[0] == "--one":
        print(json.dumps(one(int(float(args[1])), form)))
        return
    sizes = [int(float(s)) for s in args] or [100_000, 1_000_000]
    for n_rows in sizes:
        proc = subprocess.run([sys.executable, __file__, "--one", str(n_rows), "--form", form], capture_output=True,
                              text=True)
        if proc.returncode != 0:
            last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
            print(f"{n_rows:>9,} rows: failed ({last})")
            continue
        r = json.loads(proc.stdout)
        params = ", ".join(f"{k} {v:.4g}" for k, v in r["params"].items())
        print(f"{n_rows:>9,} rows, {form}: peak RSS {r['peak_rss_mib'] / 1024:.2f} GiB (data alone "
              f"{r['rss_before_fit_mib'] / 1024:.2f} GiB), time {r['total_s']:.1f} s (table {r['table_s']:.1f} s, "
              f"fit {r['fit_s']:.1f} s), {r['status']}; {params}")


if __name__ == "__main__":
    main()
