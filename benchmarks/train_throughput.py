"""Training throughput of isoflop's GPT through the real trainer: tokens/s, achieved FLOP/s and MFU.

FLOPs per token are Architecture.flops_per_token("palm") = 6·N_matmul + 12·n_layer·n_head·head_dim·seq_len
(Chowdhery et al. 2022, "PaLM", appendix B; nanoGPT's ``estimate_mfu``): the matmul parameters plus
attention's score and value products, forward + backward. MFU = achieved FLOP/s / the device's dense bf16
peak (``isoflop.hardware``; CUDA only — a CPU has no single meaningful peak, so CPU rows report tokens/s
and achieved FLOP/s).

Each size trains ``--warmup`` + ``--steps`` optimiser steps with ``isoflop.train.trainer.train`` on uniform
random tokens (no data loading cost beyond the trainer's own host→device copy); the clock starts after the
warm-up steps (which include torch.compile on CUDA; their seconds, from the start of ``train``, are printed as the
one-off cost) and stops after a final device synchronise.

    python benchmarks/train_throughput.py                       # CPU: tiny, 1m, 20m
    python benchmarks/train_throughput.py --device cuda         # GPU: tiny, 20m, 124m (GPT-2 small)
    python benchmarks/train_throughput.py --sizes 124m --batch 16 --steps 50 --json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from isoflop.flops import Architecture
from isoflop.train.spec import DataSpec, TrainSpec
from isoflop.train.trainer import resolve_device, train

SIZES = {
    # byte-level models like the demo's and the CPU sweeps'
    "tiny": Architecture(n_layer=2, d_model=64, n_head=4, vocab_size=256, seq_len=256),
    "1m": Architecture(n_layer=4, d_model=128, n_head=4, vocab_size=256, seq_len=256),
    # between 1M (compiling never pays) and 20M (it does): where train.spec.compile_pays draws its line
    "3m": Architecture(n_layer=4, d_model=256, n_head=4, vocab_size=256, seq_len=256),
    "10m": Architecture(n_layer=8, d_model=320, n_head=5, vocab_size=256, seq_len=256),
    # GPT-2 vocabulary and context: ~20M parameters (12.9M of them in the tied embedding) and GPT-2 small
    "20m": Architecture(n_layer=8, d_model=256, n_head=4, vocab_size=50257, seq_len=1024),
    "124m": Architecture(n_layer=12, d_model=768, n_head=12, vocab_size=50257, seq_len=1024),
}
DEFAULT_SIZES = {"cpu": "tiny,1m,20m", "cuda": "tiny,20m,124m"}
# sequences per step: enough to fill the device, small enough for one H100 (124M: nanoGPT runs 12 on 40 GB)
DEFAULT_BATCH = {"cpu": {"tiny": 16, "1m": 8, "3m": 4, "10m": 2, "20m": 1, "124m": 1},
                 "cuda": {"tiny": 256, "1m": 128, "3m": 128, "10m": 128, "20m": 32, "124m": 16}}


class UniformTokens:
    """Uniform random tokens, as a trainer data source (same interface as isoflop.train.data sources)."""

    def __init__(self, vocab_size: int):
        self.vocab_size = vocab_size

    def train_batch(self, step, batch_size, seq_len, seed):
        return np.random.default_rng([seed, step]).integers(0, self.vocab_size, (batch_size, seq_len + 1))

    def val_batch(self, n_seqs, seq_len):
        return np.random.default_rng(1).integers(0, self.vocab_size, (n_seqs, seq_len + 1))


def device_peak_flops(device: str) -> tuple[str, float | None]:
    """(device name, dense bf16 peak FLOP/s) from isoflop.hardware's catalog; (name, None) when unknown."""
    if not device.startswith("cuda"):
        return "cpu", None
    name = torch.cuda.get_device_name()
    # First match wins. The H100 NVL (94 GB, its own clocks) is not in the catalog: no peak rather than the SXM
    # one, so its MFU needs --peak-flops from its datasheet.
    keys = [("H200", "h200"), ("H100 PCIe", "h100-pcie"), ("H100 NVL", None), ("H100", "h100-sxm"),
            ("A100", "a100"), ("B200", "b200"), ("MI300X", "mi300x")]
    try:
        from isoflop.hardware import get_accelerator
    except ImportError:
        return name, None
    for marker, key in keys:
        if marker in name:
            if key is None:
                return name, None
            try:
                return name, get_accelerator(key).peak_flops_per_second("bf16")
            except Exception:
                return name, None
    return name, None


def measure(arch: Architecture, *, device: str, batch: int, steps: int, warmup: int, compile: bool | None):
    spec = TrainSpec(arch=arch, n_steps=warmup + steps, batch_size=batch, peak_lr=1e-4, warmup_steps=1,
                     # the spec's data entry is a label: the tokens come from `source` below
                     data=DataSpec(source="tokens", paths=("synthetic:uniform",), vocab_size=arch.vocab_size),
                     flop_convention="palm", eval_every=warmup + steps, eval_sequences=1,
                     checkpoint_every=warmup + steps)
    clock = {"begin": time.perf_counter()}

    def on_step(done, n_steps, row):
        if done == warmup:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            clock["start"] = time.perf_counter()
            clock["warmup"] = clock["start"] - clock["begin"]

    train(spec, device=device, compile=compile, source=UniformTokens(arch.vocab_size), on_step=on_step)
    seconds = time.perf_counter() - clock["start"]  # train() synchronises the device before returning
    tokens = steps * batch * arch.seq_len
    return {"n_params": arch.n_params, "seq_len": arch.seq_len, "batch": batch, "steps": steps,
            "flops_per_token": arch.flops_per_token("palm"), "seconds": seconds,
            "step_ms": 1e3 * seconds / steps, "warmup_seconds": clock["warmup"], "tokens_per_second": tokens / seconds,
            "flops_per_second": tokens / seconds * arch.flops_per_token("palm")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto")
    parser.add_argument("--sizes", default=None, help=f"comma-separated from {', '.join(SIZES)}")
    parser.add_argument("--batch", type=int, default=None, help="sequences per step (default per size)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default cpu 5, cuda 30)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default cpu 2, cuda 5)")
    parser.add_argument("--no-compile", action="store_true", help="no torch.compile on CUDA")
    parser.add_argument("--peak-flops", type=float, default=None, help="dense peak FLOP/s for MFU")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()

    device = resolve_device(args.device)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    steps = args.steps or (30 if kind == "cuda" else 5)
    warmup = args.warmup if args.warmup is not None else (5 if kind == "cuda" else 2)
    name, peak = device_peak_flops(device)
    peak = args.peak_flops or peak
    rows = {}
    for size in (args.sizes or DEFAULT_SIZES[kind]).split(","):
        arch = SIZES[size]
        batch = args.batch or DEFAULT_BATCH[kind][size]
        row = measure(arch, device=device, batch=batch, steps=steps, warmup=warmup,
                      # compile_pays would leave these few steps eager: this benchmark measures compiled steps
                      compile=kind == "cuda" and not args.no_compile)
        row["mfu"] = row["flops_per_second"] / peak if peak else None
        rows[size] = row
        if not args.json:
            mfu = f"  MFU {row['mfu']:.1%}" if row["mfu"] is not None else ""
            print(f"{size:>5}: {row['n_params'] / 1e6:7.2f}M params, {batch}×{arch.seq_len} tokens/step, "
                  f"{row['step_ms']:9.1f} ms/step, {row['tokens_per_second']:10,.0f} tokens/s, "
                  f"{row['flops_per_second'] / 1e9:8.1f} GFLOP/s{mfu}; first {warmup} steps (compile) "
                  f"{row['warmup_seconds']:.1f} s", flush=True)
    if args.json:
        print(json.dumps({"device": name, "peak_flops_per_second": peak, "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "sizes": rows}))
    else:
        unknown = ", peak not in isoflop's catalog: pass --peak-flops for MFU" if kind == "cuda" else ""
        print(f"device: {name}" + (f", dense bf16 peak {peak / 1e12:.0f} TFLOP/s" if peak else unknown)
              + f", torch {torch.__version__}, {torch.get_num_threads()} CPU threads")


if __name__ == "__main__":
    main()
