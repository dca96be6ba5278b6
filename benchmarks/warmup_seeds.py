"""How much a tiny model's final loss depends on its seed, by warm-up length: the measurement behind the sweep
design's warm-up floor (``isoflop.sweep.design.MIN_WARMUP_STEPS``).

Each run is one of the demo's shapes (``DEMO_CONFIG``: byte-level GPT on the Python standard library, batch
2,048 tokens, peak LR 0.01), trained alone with a WSD schedule and a 20% cooldown for ``--tokens`` tokens, under
seeds 0..K-1 (the seed sets the initialisation and the batches). Printed per (width, warm-up steps): the final
losses and their spread (max/min − 1). A large spread means the outcome is chaotic: one run per size, as a sweep
trains, then measures the seed as much as the size.

    python benchmarks/warmup_seeds.py                                   # widths 32, 48; warm-up 17, 35, 100
    python benchmarks/warmup_seeds.py --widths 16,80 --warmups 6,100 --seeds 3 --json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from multiprocessing import get_context


def train_one(job: dict) -> dict:
    import torch

    torch.set_num_threads(1)  # one thread per worker process: measured faster on these tiny models (demo.py)
    from isoflop.sweep.demo import demo_design
    from isoflop.train.trainer import train

    trunk = next(r.train for r in demo_design().runs if r.kind == "trunk" and r.train.arch.d_model == job["width"])
    steps = int(job["tokens"] // (trunk.batch_size * trunk.arch.seq_len))
    spec = dataclasses.replace(trunk, n_steps=steps, cooldown_steps=steps // 5, keep_checkpoints=(), eval_every=steps,
                               checkpoint_every=steps, warmup_steps=job["warmup"], seed=job["seed"])
    start = time.perf_counter()
    result = train(spec, None, device="cpu", compile=False)
    return {**job, "n_params": spec.n_params, "loss": result.loss, "seconds": time.perf_counter() - start}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--widths", default="32,48", help="d_model of the demo's shapes (16, 32, 48, 64, 80)")
    ap.add_argument("--warmups", default="17,35,100", help="warm-up steps to compare")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per setting")
    ap.add_argument("--tokens", type=float, default=1.6e6, help="training tokens per run")
    ap.add_argument("--workers", type=int, default=2, help="worker processes")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    jobs = [dict(width=int(w), warmup=int(u), seed=s, tokens=args.tokens)
            for w in args.widths.split(",") for u in args.warmups.split(",") for s in range(args.seeds)]
    with get_context("spawn").Pool(args.workers) as pool:
        rows = pool.map(train_one, jobs)
    summary = []
    for width in sorted({r["width"] for r in rows}):
        for warmup in sorted({r["warmup"] for r in rows}):
            losses = [r["loss"] for r in rows if (r["width"], r["warmup"]) == (width, warmup)]
            n_params = next(r["n_params"] for r in rows if r["width"] == width)
            summary.append(dict(width=width, n_params=n_params, warmup_steps=warmup, losses=losses,
                                spread=max(losses) / min(losses) - 1))
    if args.json:
        print(json.dumps({"tokens": args.tokens, "settings": summary}))
        return
    print(f"final loss by seed, {args.tokens:.3g} tokens per run (spread = max/min - 1)")
    for s in summary:
        print(f"  d_model {s['width']:3d} ({s['n_params']:,} params), warm-up {s['warmup_steps']:4d} steps: "
              f"{'  '.join(f'{x:.4f}' for x in s['losses'])}  spread {100 * s['spread']:.2f}%")


if __name__ == "__main__":
    main()
