"""The `isoflop` command line: plan, loss, frontier, diagnose, flops, laws, fit, ingest, report, sweep, demo.

Every command prints a rich table, or one JSON object with ``--json``. Bad input is one red line on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import plan as planning
from .errors import InputError
from .flops import CONVENTIONS, Architecture
from .hardware import CATALOG, DEFAULT_MFU, Cluster, get_accelerator
from .laws import with_repetition
from .presets import PRESETS, get_law
from .sweep.cli import demo_cmd, sweep_app  # imports no torch
from .console import JSON_HELP, emit, err, fmt, number, out, user_errors
from .units import parse_quantity

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Plan compute-optimal training runs from scaling laws.")
DEFAULT_LAW = "besiroglu2024"
LAW_HELP = f"Published law ({', '.join(PRESETS)})."


def plan_report(the_law, *, flops=None, params=None, tokens=None, target_loss=None, unique_tokens=None,
                inference_tokens=None, cluster=None, days=None, inference_mfu=None, inference_usd_per_gpu_hour=None,
                rel_improvement=0.005) -> dict:
    """The `plan` command's result for any law object (a preset, a fitted law or a LawEnsemble).

    Quantities are floats (already parsed). Which planner runs follows from what is given: a budget
    (``flops``, or ``cluster`` with ``days``), a size, a token count or a target loss, optionally with unique
    tokens (data-constrained) or inference tokens (inference-aware); ``params`` with ``target_loss`` gives the
    data that size needs; ``unique_tokens`` alone gives the data-optimal plan. With a cluster the result also
    carries gpu_hours, days, usd and the memory check.
    """
    point = getattr(the_law, "point", the_law)
    if not hasattr(point, "compute_optimal"):
        raise InputError(f"law {point.name!r} ({point.kind}) gives loss against compute only, not N and D; "
                         f"plan with a chinchilla or kaplan law")
    if flops is not None and days is not None:
        raise InputError("give --flops or --days (with --gpu and --gpus), not both")
    if days is not None:
        if cluster is None:
            raise InputError("--days needs --gpu and --gpus to turn wall-clock time into FLOPs")
        flops = float(cluster.flops_for_days(days))
    given = [name for name, v in (("a budget", flops), ("--params", params), ("--tokens", tokens),
                                  ("--target-loss", target_loss)) if v is not None]
    if given == ["--params", "--target-loss"]:
        if inference_tokens is not None:
            raise InputError("--inference-tokens does not apply to a fixed --params with --target-loss")
        result = planning.tokens_for_loss(the_law, params, target_loss, unique_tokens)
    elif not given and unique_tokens is not None and inference_tokens is None:
        result = planning.data_optimal(the_law, unique_tokens, rel_improvement)
    elif len(given) != 1:
        raise InputError("give exactly one of --flops, --params, --tokens, --target-loss (or --gpu, --gpus and "
                         "--days for a budget; --params with --target-loss; --unique-tokens alone)"
                         + (f" (got {', '.join(given)})" if given else ""))
    elif unique_tokens is not None and inference_tokens is not None:
        raise InputError("--unique-tokens and --inference-tokens cannot be combined yet; plan them separately")
    elif inference_tokens is not None:
        if flops is None and target_loss is None:
            raise InputError("--inference-tokens needs a budget (--flops or --days) or --target-loss")
        prices = {}
        if inference_mfu is not None or inference_usd_per_gpu_hour is not None:
            if cluster is None or cluster.usd_per_gpu_hour is None:
                raise InputError("a cost-weighted inference plan needs --gpu and --usd-per-gpu-hour")
            serving = replace(cluster, mfu=cluster.mfu if inference_mfu is None else inference_mfu,
                              usd_per_gpu_hour=inference_usd_per_gpu_hour or cluster.usd_per_gpu_hour)
            prices = {"usd_per_training_flop": cluster.usd_per_flop, "usd_per_inference_flop": serving.usd_per_flop}
        result = planning.inference_optimal(the_law, inference_tokens, flops=flops, target_loss=target_loss, **prices)
    elif unique_tokens is not None:
        if flops is None:
            raise InputError("--unique-tokens plans a budget (--flops or --days), or alone the data-optimal plan")
        result = planning.constrained_optimal(the_law, flops, unique_tokens)
    elif flops is not None:
        result = planning.compute_optimal(the_law, flops)
    elif params is not None:
        result = planning.optimal_for_params(the_law, params)
    elif tokens is not None:
        result = planning.optimal_for_tokens(the_law, tokens)
    else:
        result = planning.min_flops_for_loss(the_law, target_loss)
    report = result.to_dict()
    if cluster is not None:
        report.update(cluster.cost(report["flops"]).to_dict())
        report["memory"] = cluster.memory(report["n_params"]).to_dict()
        report["hardware"] = cluster.to_dict()
    return report


def _cluster(gpu, gpus, mfu, usd_per_gpu_hour, precision):
    if gpu is None:
        if gpus is not None or usd_per_gpu_hour is not None:
            raise InputError("--gpus and --usd-per-gpu-hour need --gpu (e.g. --gpu h100-sxm)")
        return None
    return Cluster(get_accelerator(gpu), n_gpus=gpus, mfu=mfu, usd_per_gpu_hour=usd_per_gpu_hour, precision=precision)


@app.command("plan")
def plan_cmd(
    flops: Optional[str] = typer.Option(None, help="Training budget in FLOPs (C = 6·N·D), e.g. 5.76e23."),
    params: Optional[str] = typer.Option(None, help="Fixed model size: the budget for which it is optimal."),
    tokens: Optional[str] = typer.Option(None, help="Fixed token count: the budget for which it is optimal."),
    target_loss: Optional[float] = typer.Option(None, help="Cheapest run that reaches this loss (nats/token)."),
    unique_tokens: Optional[str] = typer.Option(None, help="Unique tokens available (repeat data beyond them); "
                                                "alone: the data-optimal plan."),
    inference_tokens: Optional[str] = typer.Option(None, help="Lifetime inference tokens to serve."),
    gpu: Optional[str] = typer.Option(None, help=f"Accelerator ({', '.join(CATALOG)})."),
    gpus: Optional[int] = typer.Option(None, help="Number of accelerators."),
    days: Optional[float] = typer.Option(None, help="Wall-clock days on --gpus (a budget instead of --flops)."),
    mfu: float = typer.Option(DEFAULT_MFU, help="Model FLOPs utilisation, in (0, 1]."),
    usd_per_gpu_hour: Optional[float] = typer.Option(None, help="Price per accelerator-hour."),
    precision: str = typer.Option("bf16", help="Peak to use: bf16 or fp8."),
    inference_mfu: Optional[float] = typer.Option(None, help="MFU when serving (cost-weighted inference plan)."),
    inference_usd_per_gpu_hour: Optional[float] = typer.Option(None, help="Serving price per accelerator-hour."),
    rel_improvement: float = typer.Option(0.005, help="Data-optimal plan: stop where doubling compute gains less."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    fit: Optional[Path] = typer.Option(None, help="Plan with a fit saved by `isoflop fit --save` (and its ensemble)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Model size, tokens and loss for a budget, a size, a dataset or a target loss; data-constrained,
    data-optimal and inference-aware plans; GPU-hours, days and dollars."""
    with user_errors():
        from .fit.io import load_fit

        report = plan_report(
            load_fit(fit) if fit is not None else get_law(law), flops=number(flops, "--flops"), params=number(params, "--params"),
            tokens=number(tokens, "--tokens"), target_loss=target_loss,
            unique_tokens=number(unique_tokens, "--unique-tokens"),
            inference_tokens=None if inference_tokens is None else parse_quantity(inference_tokens,
                                                                                  "--inference-tokens", positive=False),
            cluster=_cluster(gpu, gpus, mfu, usd_per_gpu_hour, precision), days=days, inference_mfu=inference_mfu,
            inference_usd_per_gpu_hour=inference_usd_per_gpu_hour, rel_improvement=rel_improvement)
        emit(report, as_json, f"Plan ({report['law']})")


@app.command("loss")
def loss_cmd(
    params: str = typer.Option(..., help="Model parameters, e.g. 6.34e9."),
    tokens: str = typer.Option(..., help="Training tokens seen (repeats included), e.g. 242e9."),
    unique_tokens: Optional[str] = typer.Option(None, help="Unique tokens (data repeats beyond them)."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """The loss a law predicts for N parameters trained on D tokens (of which U unique)."""
    with user_errors():
        n_params, n_tokens = number(params, "--params"), number(tokens, "--tokens")
        the_law = get_law(law)
        result = {"n_params": n_params, "n_tokens": n_tokens, "flops": 6.0 * n_params * n_tokens}
        if unique_tokens is None:
            result["loss"] = float(the_law.loss(n_params, n_tokens))
        else:
            the_law = with_repetition(the_law)
            unique = number(unique_tokens, "--unique-tokens")
            result.update(unique_tokens=unique, epochs=n_tokens / unique,
                          loss=float(the_law.loss(n_params, n_tokens, unique)))
        result["law"] = the_law.name
        emit(result, as_json, f"Loss ({the_law.name})")


@app.command("frontier")
def frontier_cmd(
    flops_from: str = typer.Option(..., "--from", help="Smallest budget in FLOPs, e.g. 1e18."),
    flops_to: str = typer.Option(..., "--to", help="Largest budget in FLOPs, e.g. 1e26."),
    per_decade: int = typer.Option(2, help="Budgets per factor of 10."),
    unique_tokens: Optional[str] = typer.Option(None, help="Add data-constrained columns for this many unique tokens."),
    inference_tokens: Optional[str] = typer.Option(None, help="Add inference-aware columns for this many tokens."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    csv_path: Optional[Path] = typer.Option(None, "--csv", help="Also write the table to this CSV file."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Compute-optimal (and data-constrained, inference-aware) allocations over a range of budgets."""
    with user_errors():
        unique = number(unique_tokens, "--unique-tokens")
        served = None if inference_tokens is None else parse_quantity(inference_tokens, "--inference-tokens",
                                                                      positive=False)
        budgets = planning.budgets(number(flops_from, "--from"), number(flops_to, "--to"), per_decade)
        result = planning.frontier(get_law(law), budgets, unique_tokens=unique, inference_tokens=served)
        rows = result.rows()
        if csv_path is not None:
            try:
                with open(csv_path, "w", newline="") as handle:
                    writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
            except OSError as exc:
                raise InputError(f"cannot write {csv_path}: {exc.strerror}") from None
        if as_json:
            print(json.dumps(result.to_dict()))
            return
        titles = {"optimal": f"Compute-optimal ({result.law})"}
        if unique is not None:
            titles["constrained"] = f"Data-constrained, {fmt(unique)} unique tokens"
        if served is not None:
            titles["inference"] = f"Inference-aware, {fmt(served)} inference tokens (same loss as compute-optimal)"
        for prefix, title in titles.items():  # one narrow table per kind of allocation
            columns = [c for c in rows[0] if c.startswith(prefix + "_") and not c.endswith(("_low", "_high"))]
            table = Table(title=title)
            table.add_column("budget flops", justify="right")
            for column in columns:
                table.add_column(column.removeprefix(prefix + "_").replace("_", " "), justify="right")
            for row in rows:
                table.add_row(*(fmt(row[c]) for c in ["flops", *columns]))
            out.print(table)


@app.command("diagnose")
def diagnose_cmd(
    params: str = typer.Option(..., help="Model parameters, e.g. 280B."),
    tokens: str = typer.Option(..., help="Training tokens, e.g. 300B."),
    law: str = typer.Option(DEFAULT_LAW, help=LAW_HELP),
    tolerance: float = typer.Option(1.5, help="Factor on tokens/param still counted as compute-optimal."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Is a planned run undertrained, overtrained or compute-optimal, and how much compute does it waste?"""
    with user_errors():
        result = planning.diagnose(get_law(law), number(params, "--params"), number(tokens, "--tokens"),
                                   tolerance=tolerance)
        emit(result.to_dict(), as_json, f"Diagnosis ({law})")


@app.command("flops")
def flops_cmd(
    layers: int = typer.Option(..., help="Number of transformer blocks."),
    d_model: int = typer.Option(..., help="Residual stream width."),
    heads: int = typer.Option(..., help="Attention heads."),
    vocab: int = typer.Option(..., help="Vocabulary size."),
    seq_len: int = typer.Option(..., help="Context length in tokens."),
    d_ff: Optional[int] = typer.Option(None, help="MLP width (default 4·d_model)."),
    untied: bool = typer.Option(False, help="Separate output head (not tied to the token embedding)."),
    no_bias: bool = typer.Option(False, help="No biases in linear layers and LayerNorms."),
    no_pos_embedding: bool = typer.Option(False, help="No learned position embeddings (e.g. rotary)."),
    tokens: Optional[str] = typer.Option(None, help="Also give total training FLOPs for this many tokens."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Exact parameter counts and training FLOPs per token under each convention."""
    with user_errors():
        arch = Architecture(n_layer=layers, d_model=d_model, n_head=heads, vocab_size=vocab, seq_len=seq_len,
                            d_ff=d_ff, tied_embeddings=not untied, bias=not no_bias,
                            learned_pos=not no_pos_embedding)
        result = arch.to_dict()
        if tokens is not None:
            n_tokens = number(tokens, "--tokens")
            result["n_tokens"] = n_tokens
            result["training_flops"] = {c: arch.flops_per_token(c) * n_tokens for c in CONVENTIONS}
        emit(result, as_json, "Architecture")


@app.command("laws")
def laws_cmd(as_json: bool = typer.Option(False, "--json", help=JSON_HELP)):
    """List the published laws with their constants and sources."""
    if as_json:
        print(json.dumps({name: p.to_dict() for name, p in PRESETS.items()}))
        return
    table = Table(title="Published scaling laws")
    for col in ("name", "constants", "N* ∝ C^a", "source"):
        table.add_column(col, overflow="fold")
    for name, preset in PRESETS.items():
        constants = {k: v for k, v in preset.law.to_dict().items() if k not in ("kind", "name", "param_convention")}
        text = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in constants.items())
        table.add_row(name, text, f"{preset.law.n_params_exponent:.3f}", preset.citation)
    out.print(table)


def _load_runs(path: Path, columns: Optional[str], param_convention: str):
    from .runs import RunTable, parse_column_map

    if path.is_dir():
        from .sweep.store import export_table

        if not (path / "sweep.json").exists():
            raise InputError(f"{path}: not a sweep directory (no sweep.json); for training logs run "
                             f"`isoflop ingest {path} --out runs.parquet` first")

        return RunTable.from_frame(export_table(path), parse_column_map(columns), param_convention, str(path))
    return RunTable.load(path, parse_column_map(columns), param_convention)


@app.command("fit")
def fit_cmd(
    runs: Path = typer.Argument(..., help="Runs: CSV, JSONL, JSON or Parquet file, or a sweep directory."),
    law: str = typer.Option("chinchilla", help="Form: chinchilla, chinchilla-tied, kaplan, loss-vs-compute."),
    columns: Optional[str] = typer.Option(None, help='Map fields to columns: n_params="Model Size",flops="Training FLOP".'),
    param_convention: str = typer.Option("total", help="How n_params was counted: total, non_embedding, attention."),
    drop_highest: int = typer.Option(0, help="Drop the K highest-loss rows first (Epoch dropped 5 of Chinchilla's)."),
    delta: float = typer.Option(1e-3, help="Huber threshold on log residuals (inf: least squares)."),
    fix: Optional[str] = typer.Option(None, help="Fix parameters, e.g. E=1.69 (Chinchilla forms)."),
    bootstrap: int = typer.Option(0, help="Bootstrap resamples of runs for intervals (e.g. 1000)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    plan: Optional[str] = typer.Option(None, help="Also plan the compute-optimal allocation at these FLOPs."),
    backtest_above: Optional[str] = typer.Option(None, help="Fit below these FLOPs, score the runs above."),
    isoflop_profiles: bool = typer.Option(False, "--isoflop", help="Also fit approach 2 (IsoFLOP profiles)."),
    save: Optional[Path] = typer.Option(None, help="Save the fit (and its bootstrap ensemble) as JSON for plan --fit."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Fit a scaling law to training runs (approach 3, Huber on log residuals), with optional bootstrap."""
    from . import fit as fitting
    from .fit.bootstrap import bootstrap as run_bootstrap

    with user_errors():
        table = _load_runs(runs, columns, param_convention).finals().drop_highest_loss(drop_highest)
        fixed = {}
        for part in (fix or "").split(","):
            if part.strip():
                key, _, value = part.partition("=")
                fixed[key.strip()] = parse_quantity(value, f"--fix {key.strip()}")
        result = fitting.fit(table, law, delta=delta, fixed=fixed or None)
        report = result.to_dict()
        report["warnings"] = list(table.warnings) + report["warnings"]
        planned_law = result.law
        if bootstrap > 0:
            boot = _bootstrap_with_progress(run_bootstrap, result, table, bootstrap, seed, show=not as_json)
            report["intervals"] = boot.to_dict()["intervals"]
            report["bootstrap"] = {k: v for k, v in boot.to_dict().items() if k != "intervals"}
            planned_law = boot.ensemble
        if plan is not None:
            report["plan"] = plan_report(planned_law, flops=number(plan, "--plan"))
        if backtest_above is not None:
            from .fit.select import backtest

            report["backtest"] = [b.to_dict() for b in backtest(table, number(backtest_above, "--backtest-above"),
                                                                 (law,), delta=delta)]
        if isoflop_profiles:
            from .fit.isoflop import fit_isoflop

            report["isoflop"] = fit_isoflop(table).to_dict()
        if save is not None:
            from .fit.io import save_fit

            save_fit(save, report, planned_law)
        if as_json:
            print(json.dumps(report))
        else:
            _print_fit(report)


def _bootstrap_with_progress(run_bootstrap, result, table, n_resamples, seed, show):
    from rich.progress import Progress

    with Progress(console=err, transient=True, disable=not show or n_resamples < 250) as progress:
        task = progress.add_task("bootstrap (resamples converged)", total=n_resamples)
        return run_bootstrap(result, table.loss, table.run_ids, n_resamples=n_resamples, seed=seed,
                             progress=lambda done: progress.update(task, completed=done))


def _print_fit(report: dict) -> None:
    table = Table(title=f"Fit: {report['law']} ({report['n_points']} runs, status {report['status']})")
    for col in ("parameter", "value", "95% interval"):
        table.add_column(col, justify="right")
    intervals = report.get("intervals", {})
    for key, value in list(report["params"].items()) + ([("a", None)] if "a" in intervals else []):
        interval = intervals.get(key)
        table.add_row(key, "" if value is None else f"{value:.6g}",
                      "" if interval is None else f"[{interval[0]:.4g}, {interval[1]:.4g}]")
    out.print(table)
    out.print(f"objective {report['objective']:.10g} (Huber δ={report['delta']}), {report['message']}")
    for w in report["warnings"]:
        out.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    if "plan" in report:
        emit(report["plan"], False, "Plan with the fitted law")
    for b in report.get("backtest", []):
        out.print(f"backtest {b['form']}: fit on {b['n_train']} runs below {b['threshold_flops']:.3g} FLOPs, "
                  f"{b['n_test']} runs above: mean |rel. error| {b['mean_abs_rel_error']:.3%}, "
                  f"max {b['max_abs_rel_error']:.3%}")
    if "isoflop" in report:
        a = report["isoflop"]["a"]
        out.print(f"approach 2: N* ∝ C^{a['exponent']:.3f} [{a['interval'][0]:.3f}, {a['interval'][1]:.3f}] "
                  f"from {len(report['isoflop']['optima'])} budgets")


@app.command("ingest")
def ingest_cmd(
    source: Path = typer.Argument(..., help="TensorBoard log folder or event file, W&B chart CSV or run history "
                                  "(CSV/JSONL/JSON), HF trainer_state.json (or a folder of them), or a curves table."),
    out_path: Path = typer.Option(..., "--out", help="Write the runs here: .parquet, .csv or .jsonl."),
    params: Optional[str] = typer.Option(None, help="Parameters of every run (1.2e8), or per run: a=1e8,b=3e8."),
    tokens_per_step: Optional[str] = typer.Option(None, help="Tokens per optimizer step (global batch × sequence "
                                                  "length), for every run or per run."),
    batch_size: Optional[int] = typer.Option(None, help="Global batch size in sequences (with --seq-len)."),
    seq_len: Optional[int] = typer.Option(None, help="Sequence length in tokens (with --batch-size)."),
    loss_key: Optional[str] = typer.Option(None, help="Scalar tag / key / column of the loss (default: the first "
                                           "logged of eval/loss, eval_loss, val_loss, …, then train/loss, loss, …)."),
    tokens_key: Optional[str] = typer.Option(None, help="Key of tokens seen, used when tokens per step are not given."),
    step_key: Optional[str] = typer.Option(None, help="Column of the optimizer step in tables (default: step, "
                                           "global_step, train/global_step, _step, …)."),
    planned_steps: Optional[str] = typer.Option(None, help="Steps the learning-rate schedule was built for (every run "
                                                "or per run); runs that stopped short are flagged by approach 1."),
    meta: Optional[Path] = typer.Option(None, help="Table of run_id with n_params, tokens_per_step, batch_size, "
                                        "seq_len, planned_steps per run."),
    run_id: Optional[str] = typer.Option(None, help="Name of the run of a one-run source (default: its file or "
                                         "folder name)."),
    log_format: str = typer.Option("auto", "--format", help="auto, tensorboard, huggingface, wandb or table."),
    param_convention: str = typer.Option("total", help="How n_params was counted: total, non_embedding, attention."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Training logs → a runs table of loss curves (run_id, step, n_params, n_tokens, flops, loss)."""
    with user_errors():
        from .ingest import ingest, parse_per_run, write_runs

        table = ingest(source, format=log_format, loss_key=loss_key, tokens_key=tokens_key, step_key=step_key,
                       n_params=parse_per_run(params, "--params"),
                       tokens_per_step=parse_per_run(tokens_per_step, "--tokens-per-step"),
                       batch_size=batch_size, seq_len=seq_len,
                       planned_steps=parse_per_run(planned_steps, "--planned-steps"), meta=meta, run_id=run_id,
                       param_convention=param_convention)
        write_runs(table, out_path)
        last = table.frame.groupby("run_id", sort=False).agg(
            points=("step", "size"), loss_key=("loss_key", "first"), n_params=("n_params", "first"),
            n_tokens=("n_tokens", "max"), loss=("loss", "last"), planned_tokens=("planned_tokens", "max"))
        runs = [{"run_id": run, **{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}}
                for run, row in last.to_dict("index").items()]
        if as_json:
            print(json.dumps({"out": str(out_path), "rows": len(table), "runs": runs,
                              "warnings": list(table.warnings)}, default=float))
            return
        view = Table(title=f"Ingested {len(runs)} runs, {len(table)} points → {out_path}")
        for col in ("run", "points", "loss key", "params", "tokens", "final loss", "planned tokens"):
            view.add_column(col, justify="left" if col in ("run", "loss key") else "right")
        for r in runs:
            view.add_row(str(r["run_id"]), str(r["points"]), r["loss_key"], fmt(r["n_params"]), fmt(r["n_tokens"]),
                         fmt(r["loss"]), "" if r["planned_tokens"] is None else fmt(r["planned_tokens"]))
        out.print(view)
        for w in table.warnings:
            out.print(f"[yellow]warning:[/yellow] {w}", highlight=False)


@app.command("report")
def report_cmd(
    source: Path = typer.Argument(..., help="Runs (CSV, JSONL, JSON or Parquet; curves from `isoflop ingest` too), a "
                                  "sweep directory, or a fit saved by `isoflop fit --save`."),
    out_path: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write (self-contained)."),
    budgets: str = typer.Option("1e21,1e22,1e23", help="Budgets in FLOPs to plan for, comma-separated."),
    config: Optional[str] = typer.Option(None, help="Diagnose a configuration PARAMSxTOKENS, e.g. 7e9x140e9."),
    unique_tokens: Optional[str] = typer.Option(None, help="Draw the data-constrained path for this many unique tokens."),
    law: str = typer.Option("chinchilla", help="Form to fit: chinchilla, chinchilla-tied, kaplan, loss-vs-compute."),
    columns: Optional[str] = typer.Option(None, help='Map fields to columns: n_params="Model Size",flops="Training FLOP".'),
    param_convention: str = typer.Option("total", help="How n_params was counted: total, non_embedding, attention."),
    bootstrap: int = typer.Option(200, help="Bootstrap resamples of runs for intervals (0: none)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    backtest_above: Optional[str] = typer.Option(None, help="Backtest: fit below these FLOPs, score the runs above "
                                                 "(default: hold out the largest budgets)."),
    smooth: float = typer.Option(0.0, help="Approach 1: smooth each curve over ± this in log compute (e.g. 0.1)."),
    figures: Optional[Path] = typer.Option(None, help="Also save every figure as PNG and SVG in this folder."),
    title: Optional[str] = typer.Option(None, help="Title of the page."),
    as_json: bool = typer.Option(False, "--json", help="Print what the report says as one JSON object."),
):
    """One self-contained HTML page: data, fitted law with intervals, backtest, plans, diagnosis and figures."""
    with user_errors():
        from .report import html as report_html

        options = dict(budgets=report_html.parse_budgets(budgets),
                       config=None if config is None else report_html.parse_config(config),
                       unique_tokens=number(unique_tokens, "--unique-tokens"), form=law, n_bootstrap=bootstrap,
                       seed=seed, backtest_above=number(backtest_above, "--backtest-above"), smooth=smooth,
                       source=str(source), title=title)
        saved = report_html.read_saved_fit(source)
        if saved is not None:
            report = report_html.build_report(law=saved[0], saved=saved[1], **options)
        else:
            table = _load_runs(source, columns, param_convention)
            curves = (report_html.sweep_curves(source, param_convention) if source.is_dir()
                      else None)
            report = report_html.build_report(table, curves=curves, **options)
        report.write(out_path)
        written = report.save_figures(figures) if figures is not None else []
        if as_json:
            print(json.dumps(dict(report.to_dict(), out=str(out_path), figure_files=[str(p) for p in written]), default=float))
            return
        out.print(f"wrote {out_path} ({len(report.figures)} figures)" + (f"; figures as PNG and SVG in {figures}"
                                                                          if written else ""))
        for note in report.summary["notes"]:
            out.print(f"[yellow]note:[/yellow] {note}", highlight=False)


app.add_typer(sweep_app, name="sweep")
app.command("demo")(demo_cmd)


def main() -> None:
    app()
