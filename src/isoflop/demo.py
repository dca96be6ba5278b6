"""The fit, plan and report step of ``isoflop demo`` (the sweep itself is ``isoflop.sweep.cli.demo_cmd``).

From the demo's finished runs, the HTML report does the analysis once — approach 3 (the Chinchilla form,
Huber on log residuals) with a bootstrap over runs, approach 2 (IsoFLOP parabolas), approach 1 from the
curves — and this step adds a compute-optimal plan with intervals for a budget 100× the largest in the sweep
and saves the fit as ``fit.json`` (usable with ``isoflop plan --fit``) beside ``report.html``.
"""

from __future__ import annotations

from pathlib import Path

PLAN_FACTOR = 100.0  # plan this many times beyond the sweep's largest budget
DEMO_BOOTSTRAP = 200


def demo_fit(table, out_dir: Path, sweep_dir: Path | None = None) -> dict:
    """Report, fit and plan on the demo's runs; returns the JSON-able summary stored under "fit".

    table: the DataFrame of ``isoflop.sweep.store.export_table`` (one row per finished run).
    """
    from .fit.io import save_fit
    from .plan import compute_optimal
    from .report import html as report_html
    from .runs import RunTable

    out_dir = Path(out_dir)
    runs = RunTable.from_frame(table, source="demo sweep")
    plan_flops = PLAN_FACTOR * float(runs.flops.max())
    curves = report_html.sweep_curves(sweep_dir) if sweep_dir is not None else None
    report = report_html.build_report(runs, curves=curves, budgets=(plan_flops / 100, plan_flops / 10, plan_flops),
                                      n_bootstrap=DEMO_BOOTSTRAP, seed=0, source=str(sweep_dir or out_dir),
                                      title="isoflop demo: an IsoFLOP sweep on the Python standard library")
    fitted = report.summary["fit"]
    # Approach 2 needs a valley at three budgets; where it found none the report says why, and so does this.
    isoflop = report.summary.get("isoflop") or {
        "error": next((n for n in report.summary.get("notes", []) if n.startswith("approach 2")), "not fitted")}
    return dict(fitted, plan=compute_optimal(report.law, plan_flops).to_dict(), isoflop=isoflop,
                fit_file=str(save_fit(out_dir / "fit.json", fitted, report.law)),
                report=str(report.write(out_dir / "report.html")))
