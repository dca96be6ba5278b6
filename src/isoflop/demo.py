"""The fit, plan and report step of ``isoflop demo`` (the sweep itself is ``isoflop.sweep.cli.demo_cmd``).

From the demo's finished runs: approach 3 (the Chinchilla form, Huber on log residuals) with a bootstrap
over runs, approach 2 (IsoFLOP parabolas), a compute-optimal plan with intervals for a budget 100× the
largest in the sweep, the fit saved as ``fit.json`` (usable with ``isoflop plan --fit``) and the HTML report
``report.html``.
"""

from __future__ import annotations

from pathlib import Path

PLAN_FACTOR = 100.0  # plan this many times beyond the sweep's largest budget
DEMO_BOOTSTRAP = 200


def demo_fit(table, out_dir: Path, sweep_dir: Path | None = None) -> dict:
    """Fit, plan and report on the demo's runs; returns the JSON-able summary stored under "fit".

    table: the DataFrame of ``isoflop.sweep.store.export_table`` (one row per finished run).
    """
    from .errors import InputError
    from .fit import fit
    from .fit.bootstrap import bootstrap
    from .fit.io import save_fit
    from .fit.isoflop import fit_isoflop
    from .plan import compute_optimal
    from .runs import RunTable

    runs = RunTable.from_frame(table, source="demo sweep")
    result = fit(runs)
    boot = bootstrap(result, runs.loss, runs.run_ids, n_resamples=DEMO_BOOTSTRAP, seed=0)
    plan_flops = PLAN_FACTOR * float(runs.flops.max())
    summary = dict(result.to_dict(), intervals=boot.to_dict()["intervals"],
                   plan=compute_optimal(boot.ensemble, plan_flops).to_dict())
    try:
        summary["isoflop"] = fit_isoflop(runs).to_dict()
    except InputError as exc:  # a budget without a valley: say so rather than fail the demo
        summary["isoflop"] = {"error": str(exc)}
    summary["fit_file"] = str(save_fit(Path(out_dir) / "fit.json", result.to_dict(), boot))
    summary["report"] = str(_write_report(runs, Path(out_dir), sweep_dir, plan_flops))
    return summary


def _write_report(runs, out_dir: Path, sweep_dir: Path | None, plan_flops: float) -> Path:
    from .report import html as report_html

    curves = report_html.sweep_curves(sweep_dir) if sweep_dir is not None else None
    budgets = (plan_flops / 100, plan_flops / 10, plan_flops)
    report = report_html.build_report(runs, curves=curves, budgets=budgets, source=str(sweep_dir or out_dir),
                                      title="isoflop demo: an IsoFLOP sweep on the Python standard library")
    return report.write(out_dir / "report.html")
