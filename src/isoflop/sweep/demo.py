"""The demo's sweep: byte-level GPTs on the Python standard library, trained with warmup-stable-decay cooldowns,
and the checks that say whether the law fitted to them is identified.

``DEMO_CONFIG`` is a WSD sweep (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed
Training Durations"): one constant-learning-rate trunk per model size and a 20% cooldown branching off it
for each compute budget, so every size yields one (N, D, loss) point per budget for the price of its longest
run plus the cooldowns (``design.py``). ``run_demo_sweep`` designs it, creates the store and trains it, on CPU
with ``DEMO_WORKERS`` single-thread worker processes (measured faster than one process with as many threads
on these tiny, overhead-bound models, and it degrades in proportion when another process takes a core; see
``benchmarks/demo_under_load.py``).

The analysis of the trained points is ``isoflop.demo.analyse_demo`` (the one orchestrator, ``analyse``).
"""

from __future__ import annotations

from pathlib import Path


from . import store
from .design import SweepConfig, SweepDesign, design_sweep
from .executors import SweepReport, run_sweep

# Five sizes of one shape family, 2 layers of width 16-80 (1.19 decades of parameters): tiny models of
# mixed depths and widths are not equally efficient per parameter (measured: a 3×16 model 4% worse and a
# 1×32 one 3% better than one law predicts), which no L(N, D) law can fit; hence exact sizes and a 2% snap
# tolerance. Eleven budgets a factor √2 apart span 1.5 decades of compute (the top half-decade is what the
# self-backtest predicts). A point needs ≥ 0.7M tokens (~340 steps of 2048 tokens: shorter runs are limited
# by optimisation, not data) and ≤ 300 tokens per parameter (beyond, the smallest model saturates in a way
# the law's B/D^β does not follow; measured: including its D/N 400-600 points moves the backtest error from
# 1.8% to 4.5%). One batch and learning rate for all sizes, so all trunks share one recipe. Warm-up is at least
# 100 steps (``design.MIN_WARMUP_STEPS``, capped at a quarter of the first branch): with the rule's N tokens
# alone (6-89 steps) the middle sizes' losses moved by up to 6% with the seed, and the law fitted to these same
# points was only weakly identified (α in [0.20, 0.59]; now [0.42, 0.61], N* at 100× a factor 1.7 wide).
DEMO_CONFIG = dict(
    schedule="wsd", sizes=[11712, 35712, 72000, 120576, 181440],
    budgets=[8.5e10, 1.2e11, 1.7e11, 2.4e11, 3.4e11, 4.8e11, 6.8e11, 9.6e11, 1.36e12, 1.92e12, 2.7e12],
    cooldown_fraction=0.2, cooldown_shape="1-sqrt", batch_tokens=2048, peak_lr=0.01, head_dim=16, seq_len=64,
    aspect_ratio=32.0, snap_tolerance=0.02, min_n_tokens=7e5, max_tokens_per_param=300, evals_per_run=10,
    checkpoints_per_run=4, eval_sequences=256, data={"source": "stdlib"})
# Worker processes on CPU, one torch thread each. Measured on the 2-core machine (shared, load 3.6): 2×300
# steps of a 72K model took 21.6-21.8 s as two 1-thread processes and 118-182 s as one 2-thread process;
# the whole demo took 210 s on the quiet machine, and the sweep 301 s beside one busy-looping process
# (benchmarks/demo_under_load.py; README's benchmarks).
DEMO_WORKERS = 2
PLAN_FACTOR = 100.0  # the plan is made this many times beyond the largest budget of the sweep
BACKTEST_DECADES = 0.5  # the self-backtest predicts the points in the top half-decade of compute


def demo_design(config: dict | None = None) -> SweepDesign:
    """The demo's design (``DEMO_CONFIG`` unless ``config`` is given)."""
    return design_sweep(SweepConfig.from_dict(dict(config or DEMO_CONFIG), source="demo"))


def run_demo_sweep(out_dir: str | Path, *, device: str = "auto", progress: bool = True, config: dict | None = None,
                   workers: int | None = None, console=None) -> tuple[Path, SweepReport]:
    """Design, store and train the demo sweep under ``out_dir``/sweep; resumes a sweep killed part-way.

    device: 'cpu', 'cuda' or 'auto'. workers: CPU worker processes (default ``DEMO_WORKERS``; one on CUDA).
    Returns (the sweep folder, the executor's report).
    """
    design = demo_design(config)
    sweep_dir = Path(out_dir) / "sweep"
    store.init_sweep(sweep_dir, design)
    from ..train.trainer import resolve_device  # torch: only now that training is asked for

    device = resolve_device(device)
    if workers is None:
        workers = DEMO_WORKERS if device == "cpu" else 1
    # torch.compile would spend longer compiling each tiny shape than training it
    report = run_sweep(sweep_dir, device=device, compile=False, progress=progress, workers=workers,
                       threads_per_worker=1, console=console)
    return sweep_dir, report
