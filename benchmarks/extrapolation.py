"""Extrapolation benchmark: fit on the runs more than 1.5 decades of compute below the largest run, predict the
top decade, and score each way of fitting by its mean absolute relative error (MAE), the coverage of its 95%
intervals and their mean relative width ((high − low) / prediction).

Data sets: Epoch's 240 Chinchilla points (Besiroglu et al. 2024), each configuration of Porian et al. 2024's
IsoFLOP points, and synthetic IsoFLOP sweeps with realistic noise: from a Chinchilla law (Epoch's constants),
from the same law with a tail of badly-tuned runs, and from a different form (Kaplan's eq. 1.5 with an
irreducible loss) than most candidates fit.

Methods: "default" is `select_fit` (compute-ordered cross-validation on the training runs, the best that
can plan), then every candidate, each with intervals from a 200-resample bootstrap plus its backtest
calibration (`fit/calibrate.py`); "chinchilla, bootstrap only" is the plain Huber Chinchilla fit with the
bootstrap's intervals alone (the behaviour before calibration).

Usage: python benchmarks/extrapolation.py [--quick] [--csv ROWS.csv]
(--quick: Epoch and 3 Porian configurations only; --csv: also write every row, per data set and method)
"""

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from isoflop.fitting.predict import predict_loss
from isoflop.fitting.select import BASELINE, select_fit
from isoflop.laws import ChinchillaLaw, KaplanIrreducibleLaw
from isoflop.runs import RunTable, parse_column_map

DATA = Path(__file__).resolve().parents[2] / "shared/data"
GAP_DECADES, TOP_DECADES, N_BOOT = 1.5, 1.0, 200


def epoch():
    path = DATA / "chinchilla_epoch.csv"
    if path.exists():
        yield "epoch", RunTable.load(path, parse_column_map('n_params="Model Size",flops="Training FLOP"')).drop_highest_loss(5)


def porian(limit=None):
    path = DATA / "porian2024_isoflop_points.csv"
    if not path.exists():
        return
    df = pd.read_csv(path)
    keys = ["dataset", "hparams", "warmup", "decay", "param_count", "loss_split"]
    for i, (key, g) in enumerate(df.groupby(keys)):
        if limit is not None and i >= limit:
            break
        table = RunTable.from_frame(g.rename(columns={"n": "n_params", "t": "n_tokens"})[["n_params", "n_tokens", "loss"]])
        yield "porian " + "/".join(key), table


def sweep(law, seed, noise=0.007, bad_tail=0.0):
    """9 budgets over 4 decades, 8 sizes each from 1/8 to 8 times √(C/120), log-normal noise, and optionally a
    tail of badly tuned runs (an exponential excess of mean ``bad_tail`` on a third of them)."""
    rng = np.random.default_rng(seed)
    budgets = np.geomspace(1e17, 1e21, 9)
    n = np.concatenate([np.sqrt(c / 120) * np.geomspace(1 / 8, 8, 8) for c in budgets])
    c = np.repeat(budgets, 8)
    d = c / (6 * n)
    log_loss = np.log(law.loss(n, d)) + rng.normal(0, noise, n.size)
    if bad_tail:
        log_loss += rng.exponential(bad_tail, n.size) * (rng.random(n.size) < 1 / 3)
    return RunTable.from_frame(pd.DataFrame({"n_params": n, "n_tokens": d, "loss": np.exp(log_loss)}))


def synthetic(seeds=(0, 1)):
    chinchilla = ChinchillaLaw(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
    other = KaplanIrreducibleLaw(E=1.8, n_c=3e8, alpha_n=0.3, d_c=6e9, alpha_d=0.35)
    for s in seeds:
        yield f"synthetic chinchilla #{s}", sweep(chinchilla, s)
        yield f"synthetic chinchilla + badly tuned runs #{s}", sweep(chinchilla, s, bad_tail=0.02)
        yield f"synthetic kaplan+E form #{s}", sweep(other, s)


def split(table):
    log_c = np.log10(table.flops)
    top = log_c.max()
    return table.subset(log_c < top - GAP_DECADES), table.subset(log_c >= top - TOP_DECADES)


def score(prediction, test):
    lo, hi = prediction.interval if prediction.interval is not None else (np.nan, np.nan)
    return {"mae": float(np.mean(np.abs(prediction.loss / test.loss - 1))),
            "coverage": float(np.mean((test.loss >= lo) & (test.loss <= hi))),
            "width": float(np.mean((hi - lo) / prediction.loss))}


def run(name, table):
    train, test = split(table)
    selection = select_fit(train)
    rows = []
    for cand in selection.candidates:
        if cand.result is None:
            continue
        boot = cand.result.bootstrap(N_BOOT, seed=0) if cand.result.problem_ is not None else None
        pred = predict_loss(cand.result, test.n_params, test.n_tokens, bootstrap=boot, calibration=cand.calibration)
        row = {"data": name, "method": cand.choice.label, "cv": cand.cv_error, **score(pred, test)}
        rows.append(row)
        if cand is selection.best:
            rows.append({**row, "method": "DEFAULT (auto: " + cand.choice.label + ")"})
        if cand.choice == BASELINE:
            plain = predict_loss(cand.result, test.n_params, test.n_tokens, bootstrap=boot)
            rows.append({"data": name, "method": "chinchilla, bootstrap only", "cv": None, **score(plain, test)})
    return rows


def main():
    quick = "--quick" in sys.argv
    sets = list(epoch()) + list(porian(3 if quick else None)) + ([] if quick else list(synthetic()))
    rows = []
    t0 = time.perf_counter()
    for name, table in sets:
        t1 = time.perf_counter()
        rows += run(name, table)
        print(f"{name}: {time.perf_counter() - t1:.1f} s", file=sys.stderr)
    df = pd.DataFrame(rows)
    if "--csv" in sys.argv:
        df.to_csv(sys.argv[sys.argv.index("--csv") + 1], index=False)
    df["group"] = np.where(df.data.str.startswith("porian"), "porian (mean of configurations)",
                           np.where(df.data.str.startswith("synthetic"), df.data.str.replace(r" #\d+", " (mean)", regex=True), df.data))
    df["method"] = df.method.str.replace(r"DEFAULT \(auto: .*\)", "DEFAULT (auto)", regex=True)
    summary = df.groupby(["group", "method"], sort=False)[["mae", "coverage", "width"]].mean().reset_index()
    pd.set_option("display.width", 200)
    pd.set_option("display.max_rows", 500)
    print(f"fit on runs > {GAP_DECADES} decades below the top compute, predict the top {TOP_DECADES:g} decade; "
          f"95% intervals; {time.perf_counter() - t0:.0f} s")
    for group, g in summary.groupby("group", sort=False):
        print(f"\n{group}")
        print(g.drop(columns="group").to_string(index=False, formatters={
            "mae": "{:.2%}".format, "coverage": "{:.0%}".format, "width": "{:.2%}".format}))
    chosen = df[df.method == "DEFAULT (auto)"][["data"]].assign(choice=[r["method"] for r in rows if r["method"].startswith("DEFAULT")])
    print("\nchoices of the default:")
    print(chosen.to_string(index=False))


if __name__ == "__main__":
    main()
