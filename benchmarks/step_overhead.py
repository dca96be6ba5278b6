"""What `sweep design`'s time estimate says against what the sweep takes: STEP_SECONDS, measured.

The estimate is FLOPs / DEVICE_FLOPS + steps · STEP_SECONDS (``isoflop.sweep.design``). This designs the small
sweep STEP_SECONDS["cpu"] was measured with (``sweep design --budgets 1e10,3e10 --head-dim 8 --data markov``:
8 cosine runs, 5,219 optimiser steps, 1.6e11 FLOPs), trains it with ``sweep run`` as a user would, and solves the
wall time for the seconds each step costs beyond its FLOPs. Per run it prints result.json's seconds, so the
one-off cost of a run (on CUDA: torch.compile) shows apart from the per-step cost; the wall time also holds
``sweep run``'s own start (imports, about a second).

    python benchmarks/step_overhead.py                         # CPU
    python benchmarks/step_overhead.py --device cuda           # as sweep run does on CUDA (these tiny runs: eager)
    python benchmarks/step_overhead.py --device cuda --compile # every run compiled
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DESIGN = ["--budgets", "1e10,3e10", "--head-dim", "8", "--data", "markov"]


def isoflop(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "isoflop", *args], check=True, capture_output=True,
                          text=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--compile", action="store_true", help="compile every run on CUDA (sweep run --compile)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = str(Path(tmp) / "sweep")
        design = json.loads(isoflop("sweep", "design", *DESIGN, "--device", args.device, "--out", folder, "--json"))
        start = time.perf_counter()
        isoflop("sweep", "run", folder, "--device", args.device, "--no-progress", "--json",
                *(["--compile"] if args.compile else []))
        wall = time.perf_counter() - start
        results = [json.loads(p.read_text()) for p in sorted(Path(folder, "runs").glob("*/result.json"))]
    steps = sum(r["cooldown_steps"] if r.get("kind") == "cooldown" else r["n_steps"] for r in results)
    for r in results:
        n = r["cooldown_steps"] if r.get("kind") == "cooldown" else r["n_steps"]
        print(f"{r['run_id']:>22} {r.get('kind', 'cosine'):>8}: {n:5d} steps, {r['seconds']:7.2f} s, "
              f"{1e3 * r['seconds'] / n:6.2f} ms/step")
    flops_seconds = design["estimated_seconds"] - steps * step_seconds_assumed(args.device)
    print(f"{len(results)} runs, {steps:,} steps: sweep run took {wall:.1f} s (design estimated "
          f"{design['estimated_seconds']:.1f} s, {flops_seconds:.1f} s of it FLOPs at "
          f"{design['device_flops']:.0e} FLOP/s); measured seconds per step beyond FLOPs: "
          f"{1e3 * (wall - flops_seconds) / steps:.2f} ms; per step in the runs themselves: "
          f"{1e3 * (sum(r['seconds'] for r in results) - flops_seconds) / steps:.2f} ms")


def step_seconds_assumed(device: str) -> float:
    from isoflop.sweep.design import STEP_SECONDS
    return STEP_SECONDS[device]


if __name__ == "__main__":
    main()
