"""Cooldown losses of a WSD sweep against separate cosine runs at the same (N, D), at the demo's scale.

Hägele et al. 2024 ("Scaling Laws and Compute-Optimal Training Beyond Fixed Training Durations", §3, fig. 4-5)
find that a constant learning rate with a ~20% cooldown (1−sqrt best) matches or beats a cosine schedule
whose cycle is tuned to the run's length, so one trunk per model size can stand in for a whole grid of
cosine runs. This trains both at the demo's sizes, budgets, batch and peak learning rate (``DEMO_CONFIG``):

- WSD: the demo sweep (``isoflop.sweep.demo``): a trunk per size, a cooldown per budget;
- cosine: one run per point, warm-up + cosine to 10% over exactly the run (Hoffmann et al. 2022),

and prints, per point and overall, the relative difference (L_wsd − L_cos)/L_cos (negative: the cooldown is
better), and the FLOP ratio of the WSD sweep to the cosine grid.

    python benchmarks/wsd_vs_cosine.py --out /tmp/wsd-vs-cos            # the demo's full grid, 2 workers
    python benchmarks/wsd_vs_cosine.py --out /tmp/w --budgets 1.2e11,2.5e11 --json
    python benchmarks/wsd_vs_cosine.py --out /tmp/w --wsd-sweep isoflop-demo/sweep   # reuse a demo's cooldowns
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from isoflop.sweep import store
from isoflop.sweep.demo import DEMO_CONFIG, demo_design
from isoflop.sweep.executors import run_sweep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="folder for the two sweeps")
    ap.add_argument("--budgets", help="comma-separated subset of the demo's budgets (default: all)")
    ap.add_argument("--wsd-sweep", type=Path, help="a finished demo sweep folder whose cooldowns to reuse")
    ap.add_argument("--workers", type=int, default=2, help="CPU worker processes (one thread each)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    config = dict(DEMO_CONFIG)
    if args.budgets:
        config["budgets"] = [float(b) for b in args.budgets.split(",")]
    wsd, cosine = demo_design(config), demo_design(dict(config, schedule="cosine"))
    seconds = {}
    wsd_dir = args.wsd_sweep or args.out / "wsd"
    for name, design, folder in (("wsd", wsd, wsd_dir), ("cosine", cosine, args.out / "cosine")):
        if name == "wsd" and args.wsd_sweep is not None:
            seconds[name] = None
            continue
        store.init_sweep(folder, design)
        t0 = time.perf_counter()
        run_sweep(folder, device="cpu", compile=False, progress=not args.json, workers=args.workers)
        seconds[name] = time.perf_counter() - t0
    a = store.export_table(wsd_dir).set_index("run_id")
    b = store.export_table(args.out / "cosine").set_index("run_id")
    common = sorted(set(a.index) & set(b.index) & {r.run_id for r in wsd.points})
    rel = (a.loss[common] - b.loss[common]) / b.loss[common]
    out = {"n_points": len(common), "mean_rel_diff": float(rel.mean()), "median_rel_diff": float(rel.median()),
           "max_abs_rel_diff": float(rel.abs().max()), "share_wsd_better": float((rel < 0).mean()),
           "wsd_flops": wsd.total_flops, "cosine_flops": cosine.total_flops,
           "flop_ratio": wsd.total_flops / cosine.total_flops, "seconds": seconds,
           "demo_flop_ratio": demo_design().total_flops / demo_design().grid_flops,
           "points": [{"run_id": k, "n_params": int(a.n_params[k]), "n_tokens": int(a.n_tokens[k]),
                       "loss_wsd": float(a.loss[k]), "loss_cosine": float(b.loss[k]), "rel_diff": float(rel[k])}
                      for k in common]}
    if args.json:
        print(json.dumps(out))
        return
    for p in out["points"]:
        print(f"{p['run_id']:>18}  N={p['n_params']:>7,}  D={p['n_tokens']:>10,}  wsd {p['loss_wsd']:.4f}  "
              f"cosine {p['loss_cosine']:.4f}  {100 * p['rel_diff']:+.2f}%")
    print(f"{len(common)} points: mean relative difference (wsd − cosine)/cosine = {100 * out['mean_rel_diff']:+.2f}% "
          f"(median {100 * out['median_rel_diff']:+.2f}%, max |.| {100 * out['max_abs_rel_diff']:.2f}%, "
          f"wsd better at {100 * out['share_wsd_better']:.0f}% of points)")
    print(f"FLOPs: wsd {out['wsd_flops']:.3g}, cosine grid {out['cosine_flops']:.3g}, ratio {out['flop_ratio']:.2f} "
          f"(the whole demo: {out['demo_flop_ratio']:.2f})")
    if all(v is not None for v in seconds.values()):
        print(f"wall: wsd {seconds['wsd']:.0f} s, cosine {seconds['cosine']:.0f} s (2 shared CPU cores: noisy)")


if __name__ == "__main__":
    main()
