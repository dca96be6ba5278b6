"""``isoflop demo``: train a small IsoFLOP sweep on the CPU, then fit, backtest, plan and report it.

The sweep (``isoflop.sweep.demo``) trains byte-level GPTs on the Python standard library's own source (built
in: no download) with warmup-stable-decay cooldowns. The analysis is the one every front end uses
(`isoflop.analysis.analyse`): approach 3 with a bootstrap over points, identifiability, a self-backtest on
the top half-decade of compute, approaches 2 and 1, and a compute-optimal plan with intervals for a budget
100× the largest in the sweep. Written to the output folder: ``sweep/`` (the run
store), ``fit.json`` (usable with ``isoflop plan --fit``), ``report.html`` and ``summary.json``.
"""

from __future__ import annotations

import time
from pathlib import Path

DEMO_BOOTSTRAP = 200


def run_demo(out_dir: str | Path = "isoflop-demo", *, device: str = "auto", progress: bool = True,
             console=None) -> dict:
    """``isoflop demo --out OUT_DIR`` (``isoflop.run_demo``): train the demo sweep (``isoflop.sweep.demo``) into
    ``out_dir/sweep`` (resuming what is there: a second call trains nothing), analyse it and write fit.json,
    report.html and summary.json; returns the summary (JSON-ready; ``wall_seconds`` includes the training).

    The analysis: approach 3 with a 200-resample bootstrap, its identifiability, a self-backtest that fits the
    points below the top half-decade of compute and predicts the top, approaches 2 and 1, and the
    compute-optimal plan 100× beyond the largest budget with its interval."""
    from .fitting.io import save_fit_result
    from .io_utils import atomic_write_json, path_argument
    from .provenance import provenance
    from .reporting.html import build_report
    from .sweep import store
    from .sweep.demo import run_demo_sweep

    t0 = time.perf_counter()
    out_dir = Path(path_argument(out_dir, "run_demo"))
    sweep_dir, outcome = run_demo_sweep(out_dir, device=device, progress=progress, console=console)
    analysis = analyse_demo(store.read_runs(sweep_dir), store.read_runs(sweep_dir, curves=True))
    origin = provenance([sweep_dir])
    branches = store.export_branches(sweep_dir)
    report = build_report(analysis, source=str(sweep_dir), provenance=origin, branches=branches,
                          title="isoflop demo: a warmup-stable-decay IsoFLOP sweep on the Python standard library")
    fitted = dict(analysis.fit_dict(), verdict=analysis.verdict(), provenance=origin)
    plan = None if analysis.plans is None else analysis.plans.to_dict()
    fit_file = save_fit_result(out_dir / "fit.json", analysis.fit, analysis.bootstrap, analysis.calibration,
                               extra={"provenance": origin, "verdict": analysis.verdict()})
    summary = {"sweep_dir": str(sweep_dir), "design": _design_summary(store.load_design(sweep_dir)),
            "branches": branches.to_dict("records"),
            "runs": store.export_table(sweep_dir).to_dict("records"), "failed": outcome.ids("failed"),
            "verdict": analysis.verdict(), "refusal": analysis.refusal, "fit": fitted, "plan": plan,
            "backtest": [b.to_dict() for b in analysis.backtests],
            "isoflop": None if analysis.isoflop is None else analysis.isoflop.to_dict(),
            "notes": list(analysis.notes), "fit_file": str(fit_file),
            "report": str(report.write(out_dir / "report.html")), "provenance": origin}
    summary["wall_seconds"] = time.perf_counter() - t0
    atomic_write_json(out_dir / "summary.json", summary)
    return summary



def analyse_demo(runs, curves=None):
    """The demo's analysis of its points (an ``Analysis``): approach 3 with a 200-resample bootstrap and its
    identifiability, the self-backtest on the top half-decade of compute, approach 2 (and 1 from ``curves``),
    and the compute-optimal plan 100× beyond the largest budget."""
    from .analysis import FitOptions, analyse
    from .sweep.demo import BACKTEST_DECADES, PLAN_FACTOR

    top = float(runs.flops.max())
    return analyse(runs, FitOptions(n_bootstrap=DEMO_BOOTSTRAP), curves=curves, budgets=(PLAN_FACTOR * top,),
                   backtest_above=top / 10**BACKTEST_DECADES, isoflop=True)


def _design_summary(design) -> dict:
    """What the sweep trained and what sharing WSD trunks saved against separate runs of the same points."""
    return {"n_runs": len(design.runs), "n_points": len(design.points), "total_flops": design.total_flops,
            "grid_flops": design.grid_flops, "flops_saved": design.flops_saved}
