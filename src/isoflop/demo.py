"""``isoflop demo``: train a small IsoFLOP sweep on the CPU, then fit, backtest, plan and report it.

The sweep trains byte-level GPTs on the Python standard library's own source (built in: no download). The
analysis is the one every front end uses (`isoflop.analysis.analyse`): approach 3 with a bootstrap over
runs, approaches 2 and 1, a backtest that holds out the largest budgets, and a compute-optimal plan with
intervals for a budget 100× the largest in the sweep. Written to the output folder: ``sweep/`` (the run
store), ``fit.json`` (usable with ``isoflop plan --fit``), ``report.html`` and ``summary.json``.
"""

from __future__ import annotations

from pathlib import Path

PLAN_FACTOR = 100.0  # plan this many times beyond the sweep's largest budget
DEMO_BOOTSTRAP = 200

# The demo's sweep: 3 budgets × 4 sizes of byte-level GPTs on the standard library, ~2-3 minutes on 2 CPU
# cores. centre 0.7: tiny byte-level models want fewer parameters per FLOP than Chinchilla-scale laws
# predict, and a centred grid shows the IsoFLOP valley on both sides. head_dim 8 lets the smallest shapes
# (~3-5K parameters) exist.
DEMO_CONFIG = dict(budgets=[1e11, 2.5e11, 5e11], sizes_per_budget=4, spread=2.5, center=0.7, head_dim=8,
                   seq_len=64, evals_per_run=10, checkpoints_per_run=4, eval_sequences=256,
                   data={"source": "stdlib"})


def run_demo(design, out_dir: str | Path, *, device: str = "auto", progress: bool = True) -> dict:
    """Train ``design`` into ``out_dir/sweep`` (resuming what is there), analyse it and write fit.json and
    report.html; returns the JSON-ready summary (the caller writes it as summary.json)."""
    from .analysis import FitOptions, analyse
    from .fitting.io import save_fit
    from .provenance import provenance
    from .reporting.html import build_report
    from .sweep import store
    from .sweep.executors import run_sweep

    out_dir = Path(out_dir)
    sweep_dir = out_dir / "sweep"
    store.init_sweep(sweep_dir, design)
    # torch.compile would spend longer compiling each tiny shape than training it
    outcome = run_sweep(sweep_dir, device=device, compile=False, progress=progress)
    runs = store.read_runs(sweep_dir)
    plan_flops = PLAN_FACTOR * float(runs.flops.max())
    analysis = analyse(runs, FitOptions(n_bootstrap=DEMO_BOOTSTRAP), curves=store.read_runs(sweep_dir, curves=True),
                       budgets=(plan_flops,), auto_backtest=True, isoflop=True)
    origin = provenance([sweep_dir])
    report = build_report(analysis, source=str(sweep_dir), provenance=origin,
                          title="isoflop demo: an IsoFLOP sweep on the Python standard library")
    fitted = dict(analysis.fit_dict(), provenance=origin)
    return {"sweep_dir": str(sweep_dir), "law_prior": design.law, "total_flops": design.total_flops,
            "runs": store.export_table(sweep_dir).to_dict("records"), "failed": outcome.ids("failed"),
            "fit": fitted, "plan": analysis.plans.to_dict(),
            "backtest": [b.to_dict() for b in analysis.backtests],
            "isoflop": None if analysis.isoflop is None else analysis.isoflop.to_dict(),
            "notes": list(analysis.notes),
            "fit_file": str(save_fit(out_dir / "fit.json", fitted, analysis.law)),
            "report": str(report.write(out_dir / "report.html")), "provenance": origin}
