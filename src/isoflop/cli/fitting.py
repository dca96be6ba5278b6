"""`isoflop fit | ingest | report`: parse, call the API (`isoflop.analyse`), render."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ..analysis import ANALYSIS_FORMS, FitOptions, analyse
from ..errors import CorruptLogWarning, InputError
from ..fitting.identify import unpinned_keys
from ..fitting.parametric import DEFAULT_DELTA
from ..fitting.repetition import DEFAULT_BASE
from ..io_utils import check_writable
from ..provenance import provenance
from ..runs import CONVENTIONS, parse_column_map
from . import parse
from .output import (JSON_HELP, emit, fitted_constants, interval, print_json, print_warnings, show_progress, sig,
                     stderr, stdout, typed, user_errors, value)

FORM_HELP = (f"Law form to fit: {', '.join(ANALYSIS_FORMS)} (auto: chosen by compute-ordered cross-validation; "
             f"data-constrained: Muennighoff's R_D*, R_N* from runs with unique_tokens).")
COLUMNS_HELP = 'Map fields to columns: n_params="Model Size",flops="Training FLOP".'
CONVENTION_HELP = f"How n_params was counted: {', '.join(CONVENTIONS)}."


def read_source(runs: Path, columns: Optional[str], param_convention: str, curves: bool = False):
    """A runs file or sweep folder as a RunTable (the public ``isoflop.read_runs``)."""
    from .. import read_runs

    return read_runs(runs, parse_column_map(columns), param_convention, curves=curves)


def fit_options(form, delta, fix, drop_highest, bootstrap, seed, base=DEFAULT_BASE,
                allow_unidentified=False) -> FitOptions:
    return FitOptions(form=form, delta=delta, fixed=parse.fixed(fix) or None, drop_highest=drop_highest,
                      n_bootstrap=parse.whole(bootstrap, "--bootstrap"), seed=seed, base=base,
                      allow_unidentified=allow_unidentified)


ALLOW_HELP = "Plan even from a fit the data cannot pin down (every output is then marked)."
BASE_HELP = "--form data-constrained: the base law held fixed (a preset), or 'fit' to fit it jointly."


LONG_FIT_ROWS = 20_000  # from here a fit and its backtests take seconds: show their progress


def fit_progress(show: bool, form: str, n_rows: int, n_resamples: int):
    """One transient progress display on stderr for the long steps of a fit — --form auto's cross-validation of
    its candidates or, from LONG_FIT_ROWS runs, the fit and its backtest fits; a bootstrap of 250 resamples or
    more — and the callbacks that advance them: (bar, bootstrap's callback(done), the fit's callback(done, total))."""
    long_fit, long_bootstrap = form == "auto" or n_rows >= LONG_FIT_ROWS, n_resamples >= 250
    bar = Progress(console=stderr, transient=True, disable=not show or not (long_fit or long_bootstrap))
    fits = bar.add_task("--form auto (candidates cross-validated)" if form == "auto" else "fit and backtest fits",
                        total=None, visible=long_fit)
    resamples = bar.add_task("bootstrap (resamples converged)", total=max(n_resamples, 1), visible=long_bootstrap)
    return (bar, (lambda done: bar.update(resamples, completed=done)),
            (lambda done, total: bar.update(fits, completed=done, total=total)))


def fit_cmd(
    runs: Path = typer.Argument(..., parser=parse.path,
                                metavar="RUNS", help="Runs: CSV, JSONL, JSON or Parquet file, or a sweep folder."),
    form: str = typer.Option("chinchilla", metavar="FORM", help=FORM_HELP),
    columns: Optional[str] = typer.Option(None, metavar="MAP", help=COLUMNS_HELP),
    param_convention: str = typer.Option("total", metavar="NAME", help=CONVENTION_HELP),
    drop_highest: int = typer.Option(0, metavar="K", help="Drop the K highest-loss runs first (Epoch dropped 5 of "
                                     "Chinchilla's)."),
    delta: float = typer.Option(DEFAULT_DELTA, metavar="DELTA", help="Huber threshold on log residuals (inf: least "
                                "squares)."),
    fix: Optional[str] = typer.Option(None, metavar="NAME=VALUE", help="Fix parameters, e.g. E=1.69 (Chinchilla "
                                      "forms)."),
    bootstrap: str = typer.Option("0", metavar="K", help="Bootstrap resamples of runs for intervals (e.g. 1000)."),
    seed: int = typer.Option(0, metavar="SEED", help="Seed of the bootstrap."),
    plan: Optional[str] = typer.Option(None, metavar="FLOPS", help="Also plan the compute-optimal allocation at "
                                       "these FLOPs (comma-separated for several)."),
    backtest_above: Optional[str] = typer.Option(None, metavar="FLOPS", help="Fit below these FLOPs, score the runs "
                                                 "above."),
    isoflop_profiles: bool = typer.Option(False, "--isoflop", help="Also fit approach 2 (IsoFLOP profiles)."),
    save: Optional[Path] = typer.Option(None, parser=parse.path,
                                        metavar="FIT.json", help="Save the fit (and its bootstrap ensemble) "
                                        "for plan/loss/diagnose/frontier --fit."),
    base: str = typer.Option(DEFAULT_BASE, metavar="NAME|fit", help=BASE_HELP),
    allow_unidentified: bool = typer.Option(False, "--allow-unidentified", help=ALLOW_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Fit a scaling law to training runs (approach 3, Huber on log residuals), with optional bootstrap; say
    whether the data identify it, and plan with it."""
    with user_errors():
        options = fit_options(form, delta, fix, drop_highest, bootstrap, seed, base, allow_unidentified)
        budgets = parse.numbers(plan, "--plan") if plan is not None else ()
        threshold = parse.number(backtest_above, "--backtest-above")
        if save is not None:
            from ..fitting.io import check_fit_path

            check_writable(check_fit_path(save, "--save"), "--save")
        table = read_source(runs, columns, param_convention)
        bar, advance, advance_fit = fit_progress(show_progress(as_json), form, len(table), options.n_bootstrap)
        with bar:
            result = analyse(table, options, budgets=budgets, backtest_above=threshold, isoflop=isoflop_profiles,
                             progress=advance, fit_progress=advance_fit)
        report = dict(result.fit_dict(), verdict=result.verdict(), refusal=result.refusal)
        if result.plans is not None:
            report["plan"] = result.plans.to_dict()  # with the calibrated loss interval and its warnings
        if result.backtests:
            report["backtest"] = [b.to_dict() for b in result.backtests]
        if isoflop_profiles:
            report["isoflop"] = None if result.isoflop is None else result.isoflop.to_dict()
        report["notes"] = [n for n in result.notes if not n.startswith("approach 1")]
        report["provenance"] = provenance([runs])
        if save is not None:
            from ..fitting.io import save_fit_result

            save_fit_result(save, result.fit, result.bootstrap, result.calibration,
                            extra={k: v for k, v in report.items() if k in ("plan", "provenance", "selection", "notes",
                                                                              "verdict", "warnings")})
    if as_json:
        print_json(report)
    else:
        _print_fit(report)
    if result.refusal is not None:
        with user_errors():
            raise InputError(f"no plan: {result.refusal}")
    if budgets and result.plans is None:  # a law of loss against compute alone cannot split a budget
        with user_errors():
            raise InputError(f"--plan: no plan from the {result.fit.form} law, which gives loss against compute "
                             f"only (no model size or tokens); fit --form chinchilla to plan")


def _print_fit(report: dict) -> None:
    table = Table(title=escape(f"Fit: {report['law']} on {report['n_points']} runs"))
    for col in ("parameter", "value", "95% interval"):
        table.add_column(col, justify="right")
    intervals = report.get("intervals", {})
    unpinned = unpinned_keys(report)
    for key, val in fitted_constants(report):
        table.add_row(key, "" if val is None else sig(val),
                      "not identified" if key in unpinned else interval(key, intervals.get(key)))
    stdout.print(table)
    stdout.print(f"objective {report['objective']:.10g} (Huber δ={report['delta']}), {escape(report['message'])}")
    verdict = report.get("identifiability")
    colour = {"identified": "green", "weakly identified": "yellow"}.get(verdict and verdict["level"], "red")
    stdout.print(f"[{colour}]{escape(report['verdict'])}[/{colour}]")
    for line in (verdict or {}).get("reasons", [])[1:]:
        stdout.print(f"  · {escape(line)}")
    for line in (verdict or {}).get("suggestions", []):
        stdout.print(f"  → {escape(line)}")
    if report.get("selection"):
        _print_selection(report["selection"])
    if "bootstrap" in report:
        b = report["bootstrap"]
        stdout.print(f"bootstrap: {b['n_converged']} of {b['n_resamples']} resamples converged (seed {b['seed']})")
    print_warnings(report["warnings"])
    if "plan" in report:  # its warnings that the fit's just said (too few resamples) are not said twice
        plan = report["plan"]
        emit(dict(plan, warnings=[w for w in plan.get("warnings", []) if w not in report["warnings"]]), False,
             "Plan with the fitted law")
    for b in report.get("backtest", []):
        stdout.print(f"backtest {b['form']}: fit on {b['n_train']} runs below {value('flops', b['threshold_flops'])}, "
                     f"{b['n_test']} runs above: mean |rel. error| {b['mean_abs_rel_error']:.3%}, "
                     f"max {b['max_abs_rel_error']:.3%}")
    if report.get("isoflop"):
        a = report["isoflop"]["a"]
        stdout.print(f"approach 2: N* ∝ C^{a['exponent']:.3f} [{a['interval'][0]:.3f}, {a['interval'][1]:.3f}] "
                     f"from {len(report['isoflop']['optima'])} budgets")
    print_warnings(report.get("notes", []), "note")


def _print_selection(selection: dict) -> None:
    table = Table(title="--form auto: compute-ordered cross-validation (fit below cut-offs, predict above; "
                        "CV error: mean |relative error| over the folds)")
    # The labels are long ("chinchilla-tied, Huber δ=0.001, lower envelope τ=0.8"): on an 80-column terminal
    # the other columns take their natural width and the candidate column the rest, wrapping at its commas
    # rather than cutting off the form (ratio columns with minimum widths overflowed 80 columns).
    table.add_column("candidate", justify="left", ratio=1)
    for col in ("folds", "CV error", "plans", "verdict"):
        table.add_column(col, justify="right")
    chosen = selection["chosen"]["label"]
    for c in selection["candidates"]:
        error = "—" if c["cv_mean_abs_rel_error"] is None else f"{c['cv_mean_abs_rel_error']:.3%}"
        mark = " ◀ chosen" if c["label"] == chosen else ""
        table.add_row(escape(c["label"] + mark), str(c["n_folds"]), error, "yes" if c["can_plan"] else "no",
                      escape(c["verdict"].replace("; ", ";\n")))  # two lines keep the column narrow
    if selection.get("reason"):
        table.caption = escape(selection["reason"])
    stdout.print(table)


def ingest_cmd(
    source: Path = typer.Argument(..., parser=parse.path,
                                  metavar="SOURCE", help="TensorBoard log folder or event file, W&B CSV export "
                                  "or run history (CSV/JSONL/JSON), HF trainer_state.json (or a folder of them), "
                                  "or a curves table."),
    out_path: Path = typer.Option(..., "--out", parser=parse.path,
                                  metavar="FILE", help="Write the runs here: .parquet, .csv or "
                                  ".jsonl."),
    params: Optional[str] = typer.Option(None, metavar="N", help="Parameters of every run (1.2e8), or per run: "
                                         "a=1e8,b=3e8."),
    tokens_per_step: Optional[str] = typer.Option(None, metavar="TOKENS", help="Tokens per optimizer step (global "
                                                  "batch × sequence length), for every run or per run."),
    batch_size: Optional[int] = typer.Option(None, metavar="SEQS", help="Global batch size in sequences (with "
                                             "--seq-len)."),
    seq_len: Optional[int] = typer.Option(None, metavar="TOKENS", help="Sequence length in tokens (with "
                                          "--batch-size)."),
    loss_key: Optional[str] = typer.Option(None, metavar="KEY", help="Scalar tag / key / column of the loss "
                                           "(default: the first logged of eval/loss, eval_loss, val_loss, …, then "
                                           "train/loss, loss, …)."),
    tokens_key: Optional[str] = typer.Option(None, metavar="KEY", help="Key of tokens seen, used when tokens per "
                                             "step are not given."),
    step_key: Optional[str] = typer.Option(None, metavar="KEY", help="Column of the optimizer step in tables "
                                           "(default: step, global_step, train/global_step, _step, …)."),
    planned_steps: Optional[str] = typer.Option(None, metavar="STEPS", help="Steps the learning-rate schedule was "
                                                "built for (every run or per run); runs that stopped short are "
                                                "flagged by approach 1."),
    meta: Optional[Path] = typer.Option(None, parser=parse.path,
                                        metavar="FILE", help="Table of run_id with n_params, tokens_per_step, "
                                        "batch_size, seq_len, planned_steps per run."),
    run_id: Optional[str] = typer.Option(None, metavar="NAME", help="Name of the run of a one-run source (default: "
                                         "its file or folder name)."),
    log_format: str = typer.Option("auto", "--format", metavar="FORMAT", help="auto, tensorboard (also the HF "
                                   "Trainer's runs/ folder), huggingface, wandb (chart or runs-table export) or "
                                   "table."),
    on_corrupt: str = typer.Option("warn", metavar="warn|error", help="Damaged logs: read what is whole and warn "
                                   "(runs that lost their end are kept out of final-loss fits), or stop."),
    param_convention: str = typer.Option("total", metavar="NAME", help=CONVENTION_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Training logs → a runs table of loss curves (run_id, step, n_params, n_tokens, flops, loss)."""
    with user_errors():
        from ..ingest import ingest, parse_per_run, summarize_runs, write_runs

        if on_corrupt not in ("warn", "error"):
            raise InputError(f"--on-corrupt: choose one of warn, error, got {on_corrupt!r}")
        check_writable(out_path, "--out")
        _refuse_overwriting_inputs(out_path, source, meta)
        # Millions of logged points take seconds: a transient spinner on stderr (shown on a terminal only).
        busy = (stderr.status(f"reading {escape(str(source))} …") if show_progress(as_json)
                else contextlib.nullcontext())
        with busy, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CorruptLogWarning)
            table = ingest(source, format=log_format, loss_key=loss_key, tokens_key=tokens_key, step_key=step_key,
                           n_params=parse_per_run(params, "--params"),
                           tokens_per_step=parse_per_run(tokens_per_step, "--tokens-per-step"),
                           batch_size=batch_size, seq_len=seq_len,
                           planned_steps=parse_per_run(planned_steps, "--planned-steps"), meta=meta, run_id=run_id,
                           param_convention=param_convention, on_corrupt=on_corrupt)
            losses = [str(w.message) for w in caught if issubclass(w.category, CorruptLogWarning)]
            write_runs(table, out_path)
        runs = summarize_runs(table)
        if as_json:
            print_json({"out": str(out_path), "rows": len(table), "runs": runs, "data_loss": losses,
                        "warnings": list(table.warnings)})
            return
        view = Table(title=escape(f"Ingested {len(runs)} runs, {len(table)} points → {out_path}"))
        for col in ("run", "points", "loss key", "params", "tokens", "last loss", "planned tokens"):
            view.add_column(col, justify="left" if col in ("run", "loss key") else "right")
        for r in runs:
            view.add_row(escape(str(r["run_id"])) + (" (truncated)" if r["truncated"] else ""), str(r["points"]),
                         escape(str(r["loss_key"])), value("n_params", r["n_params"]), value("n_tokens", r["n_tokens"]),
                         value("loss", r["last_loss"]), value("n_tokens", r["planned_tokens"]))
        stdout.print(view)
        for line in losses:
            stderr.print(f"[red]data loss:[/red] {escape(line)}")
        print_warnings(table.warnings)


def _refuse_overwriting_inputs(out_path: Path, source: Path, meta: Optional[Path]) -> None:
    """--out must not name the log being read (the file, or a table in the folder read) or the --meta table:
    the runs table would replace the user's log."""
    if not out_path.exists():
        return
    out = out_path.resolve()
    logs = [source.resolve()] if source.is_file() else [p.resolve() for p in source.glob("*") if p.is_file()]
    if out in logs:
        raise InputError(f"--out {out_path}: is the log being read; writing the runs there would replace it — "
                         f"give another file name")
    if meta is not None and meta.exists() and out == meta.resolve():
        raise InputError(f"--out {out_path}: is the --meta table; give another file name")


def report_cmd(
    ctx: typer.Context,
    source: Path = typer.Argument(..., parser=parse.path,
                                  metavar="SOURCE", help="Runs (CSV, JSONL, JSON or Parquet; curves from "
                                  "`isoflop ingest` too), a sweep folder, a demo's output folder, or a fit saved "
                                  "by `isoflop fit --save`."),
    out_path: Path = typer.Option(Path("report.html"), "--out", parser=parse.path,
                                  metavar="FILE.html", help="The HTML file to write "
                                  "(self-contained)."),
    budgets: str = typer.Option("1e21,1e22,1e23", metavar="FLOPS,...", help="Budgets in FLOPs to plan for, "
                                "comma-separated."),
    config: Optional[str] = typer.Option(None, metavar="NxD", help="Diagnose a configuration PARAMSxTOKENS, e.g. "
                                         "7e9x140e9."),
    unique_tokens: Optional[str] = typer.Option(None, metavar="U", help="Draw the data-constrained path for this "
                                                "many unique tokens."),
    form: str = typer.Option("chinchilla", metavar="FORM", help=FORM_HELP),
    columns: Optional[str] = typer.Option(None, metavar="MAP", help=COLUMNS_HELP),
    param_convention: str = typer.Option("total", metavar="NAME", help=CONVENTION_HELP),
    drop_highest: int = typer.Option(0, metavar="K", help="Drop the K highest-loss runs first."),
    delta: float = typer.Option(DEFAULT_DELTA, metavar="DELTA", help="Huber threshold on log residuals (inf: least "
                                "squares)."),
    fix: Optional[str] = typer.Option(None, metavar="NAME=VALUE", help="Fix parameters, e.g. E=1.69."),
    bootstrap: str = typer.Option("200", metavar="K", help="Bootstrap resamples of runs for intervals (0: none)."),
    seed: int = typer.Option(0, metavar="SEED", help="Seed of the bootstrap."),
    backtest_above: Optional[str] = typer.Option(None, metavar="FLOPS", help="Backtest: fit below these FLOPs, score "
                                                 "the runs above (default: hold out the largest budgets)."),
    smooth: float = typer.Option(0.0, metavar="WIDTH", help="Approach 1: smooth each curve over ± this in log "
                                 "compute (e.g. 0.1)."),
    figures: Optional[Path] = typer.Option(None, parser=parse.path,
                                           metavar="FOLDER", help="Also save every figure as PNG and SVG in "
                                           "this folder."),
    title: Optional[str] = typer.Option(None, metavar="TEXT", help="Title of the page."),
    base: str = typer.Option(DEFAULT_BASE, metavar="NAME|fit", help=BASE_HELP),
    allow_unidentified: bool = typer.Option(False, "--allow-unidentified", help=ALLOW_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print what the report says as one JSON object."),
):
    """One self-contained HTML page: data, fitted law with intervals, backtest, plans, diagnosis and figures."""
    with user_errors():
        from ..fitting.io import is_saved_fit, load_saved_fit
        from ..reporting.html import build_report
        from ..sweep.store import export_branches, find_sweep, is_sweep

        options = fit_options(form, delta, fix, drop_highest, bootstrap, seed, base, allow_unidentified)
        question = dict(budgets=parse.numbers(budgets, "--budgets"), config=parse.config(config))
        unique = parse.number(unique_tokens, "--unique-tokens")
        threshold = parse.number(backtest_above, "--backtest-above")
        if figures is not None and figures.exists() and not figures.is_dir():
            raise InputError(f"--figures {figures}: is a file; give a folder")
        if out_path.suffix.lower() not in (".html", ".htm"):  # checked before the fit, not after it
            raise InputError(f"--out {out_path}: the report is one HTML page; give a file name "
                             f"ending in .html")
        check_writable(out_path, "--out")
        source = find_sweep(source) or source  # an `isoflop demo` output folder holds its sweep in sweep/
        if is_saved_fit(source):
            given = typed(ctx, ("form", "fix", "drop_highest", "delta", "bootstrap", "seed", "base", "backtest_above",
                                "columns", "param_convention", "smooth"))
            if given:
                raise InputError(f"{source}: a saved fit is not refitted, so {', '.join(given)} "
                                 f"{'does' if len(given) == 1 else 'do'} not apply; drop "
                                 f"{'it' if len(given) == 1 else 'them'}, or give the runs file to fit anew")
            analysis = analyse(saved_fit=load_saved_fit(source), options=FitOptions(
                allow_unidentified=allow_unidentified), **question)
        else:
            table = read_source(source, columns, param_convention)
            curves = read_source(source, None, param_convention, curves=True) if source.is_dir() else None
            bar, advance, advance_fit = fit_progress(show_progress(as_json), form, len(table), options.n_bootstrap)
            with bar:
                analysis = analyse(table, options, curves=curves, backtest_above=threshold, auto_backtest=True,
                                   isoflop=True, smooth=smooth, progress=advance, fit_progress=advance_fit, **question)
        branches = export_branches(source) if is_sweep(source) else None  # a WSD sweep's cooldowns
        report = build_report(analysis, unique_tokens=unique, source=str(source), title=title,
                              provenance=provenance([source]), branches=branches)
        report.write(out_path)
        written = report.save_figures(figures) if figures is not None else []
    if as_json:
        print_json(dict(report.to_dict(), out=str(out_path), figure_files=[str(p) for p in written]))
        return
    stdout.print(f"wrote {out_path} ({len(report.figures)} figures)"
                 + (f"; figures as PNG and SVG in {figures}" if written else ""))
    stdout.print(escape(f"fit: {report.summary['verdict']}"))
    if report.summary["refusal"]:
        print_warnings([f"no plans: {report.summary['refusal']}"])
    print_warnings(report.summary["notes"], "note")


COMMANDS = {"fit": fit_cmd, "ingest": ingest_cmd, "report": report_cmd}
