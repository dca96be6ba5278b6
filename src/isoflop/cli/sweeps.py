"""`isoflop sweep design | run | status` and `isoflop demo`: parse, call the API, render.

Progress bars go to stderr, so ``--json`` output on stdout stays one clean JSON object. Every option is
checked before anything is written to disk.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from ..errors import InputError
from ..sweep.design import (COMPILE_SECONDS, DEVICE_FLOPS, PLACING, STEP_SECONDS, SweepConfig, SweepDesign,
                            check_placing, design_sweep)
from . import parse
from .output import (JSON_HELP, Command, fitted_constants, interval, naming_flags, print_json, print_warnings,
                     show_progress, sig, stdout, user_errors, value)

sweep_app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                        context_settings={"help_option_names": ["-h", "--help"]},
                        help="Design and run IsoFLOP sweeps of small GPTs (running needs the 'train' extra).")


def _check_choice(option: str, given: str, choices) -> str:
    if given not in choices:
        raise InputError(f"{option}: must be one of {', '.join(choices)}, got {given!r}")
    return given


def _config(path: Optional[Path], overrides: dict) -> SweepConfig:
    """A config from a TOML file and/or flags; flags that were given win over the file."""
    d = {}
    if path is not None:
        d = SweepConfig.from_toml(path).to_dict()
    given = {k: v for k, v in overrides.items() if v is not None}
    # the file alone was checked above, so a value refused now came from a flag: say so (`--spread nan` was
    # blamed on the file)
    source = "flags" if path is None or given else str(path)
    data = dict(d.get("data", {}))
    for key in ("source", "paths", "n_states"):
        if key in given:
            data[key] = given.pop(key)
    if data:
        d["data"] = data
    d.update(given)
    check_placing(d, [FLAGS[k] for k in PLACING if k in given], "flags")  # a flag is chosen, even at the default
    if "budgets" not in d:
        raise InputError("budgets: give --budgets 1e11,3e11,1e12 or a config file with budgets = [...]")
    try:
        return SweepConfig.from_dict(d, source=source)
    except InputError as exc:  # a flag's value: name the flag typed ("flags: sizes_per_budget" named a key)
        if source != "flags":
            raise
        raise naming_flags(exc, _typed_flags(overrides), "flags: ") from None


def _design(config: SweepConfig, path: Optional[Path], overrides: dict) -> SweepDesign:
    """``design_sweep``, its refusals saying where the refused value came from: a design check names only the
    field ('budgets: 2e+09 is given twice'), so a file's name is put first, or the field becomes the flag typed."""
    try:
        return design_sweep(config)
    except InputError as exc:
        typed = _typed_flags(overrides)
        if typed:
            raise naming_flags(exc, typed) from None
        if path is not None and not str(exc).startswith(str(path)):
            raise InputError(f"{path}: {exc}") from None
        raise


# the config keys the design flags set, as errors name them
FLAGS = {"data.source": "--data", "data.paths": "--data-path", "sizes_per_budget": "--sizes-per-budget",
         "spread": "--spread", "center": "--center", "law": "--law", "seq_len": "--seq-len",
         "head_dim": "--head-dim", "seed": "--seed", "budgets": "--budgets"}


def _typed_flags(overrides: dict) -> dict[str, str]:
    """{config key: flag} of the design flags the user gave (``overrides``: each flag's value or None)."""
    return {key: flag for key, flag in FLAGS.items() if overrides.get(key.split(".")[-1]) is not None}


def _duration(seconds: float) -> str:
    """A wall time in the unit that reads best, 3 significant figures at most (a 1e25-FLOP sweep on a CPU
    printed "55555604050956.8 h")."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    if seconds < 365.25 * 86400:
        return f"{sig(seconds / 86400, 3)} days"
    return f"{sig(seconds / (365.25 * 86400), 3)} years"


def design_table(design: SweepDesign, title: str = "IsoFLOP sweep") -> Table:
    """One row per run; the budget is in the run id (c<budget>-n<params>) and every run spends it."""
    seq = {r.train.arch.seq_len for r in design.runs}
    table = Table(title=escape(f"{title}; batch in sequences of {', '.join(map(str, sorted(seq)))} tokens"),
                  box=box.SIMPLE)
    for col in ("run", "params", "L×d×h", "tokens", "D/N", "batch", "steps", "peak lr"):
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    for r in design.runs:
        a = r.train.arch
        table.add_row(r.run_id, f"{r.n_params:,}", f"{a.n_layer}×{a.d_model}×{a.n_head}", value("n_tokens", r.n_tokens),
                      sig(r.n_tokens / r.n_params, 3), f"{r.train.batch_size}", f"{r.train.n_steps:,}",
                      sig(r.train.peak_lr, 3))
    return table


def _out_folder(option: str, folder: Optional[Path]) -> Optional[Path]:
    if folder is not None and folder.exists() and not folder.is_dir():
        raise InputError(f"{option} {folder}: is a file; give a folder")
    return folder


@sweep_app.command("design", cls=Command)
def design_cmd(
    config: Optional[Path] = typer.Argument(None, parser=parse.path, metavar="[CONFIG.toml]", help="Sweep config (see "
                                            "docs/sweep-toml.md); flags override its keys."),
    budgets: Optional[str] = typer.Option(None, metavar="FLOPS,...", help="Compute budgets in FLOPs, "
                                          "comma-separated: 1e11,3e11,1e12."),
    sizes_per_budget: Optional[int] = typer.Option(None, metavar="COUNT", help="Model sizes per budget (default 4)."),
    spread: Optional[float] = typer.Option(None, metavar="FACTOR", help="Largest size / centre = centre / smallest "
                                           "(default 3)."),
    center: Optional[float] = typer.Option(None, metavar="FACTOR", help="Multiplier on the prior law's optimal size "
                                           "(default 1)."),
    law: Optional[str] = typer.Option(None, metavar="NAME", help="Prior law preset (default besiroglu2024)."),
    seq_len: Optional[int] = typer.Option(None, metavar="TOKENS", help="Context length in tokens (default 64)."),
    head_dim: Optional[int] = typer.Option(None, metavar="WIDTH", help="Attention head width (default 16)."),
    data: Optional[str] = typer.Option(None, metavar="SOURCE", help="Data source: stdlib, markov, text or tokens."),
    data_path: Optional[List[str]] = typer.Option(None, metavar="FILE", help="Text or token file (repeatable)."),
    seed: Optional[int] = typer.Option(None, metavar="SEED", help="Seed of every run (default 0)."),
    device: str = typer.Option("cpu", metavar="cpu|cuda", help="Device for the time estimate."),
    device_flops: Optional[str] = typer.Option(None, metavar="FLOP/S", help="Sustained FLOP/s for the time "
                                               "estimate."),
    out_dir: Optional[Path] = typer.Option(None, "--out", parser=parse.path,
                                           metavar="FOLDER", help="Also create the sweep folder "
                                           "here."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Print the IsoFLOP grid a config (or flags) gives: shapes, tokens, batch, LR, total compute, time."""
    with user_errors():
        _out_folder("--out", out_dir)
        _check_choice("--device", device, tuple(DEVICE_FLOPS))
        if device_flops is not None:
            flops_per_second = parse.number(device_flops, "--device-flops")
            if flops_per_second < 1e6:  # a device slower than a 1990s PC: a unit slip (FLOP/s, not TFLOP/s)
                raise InputError(f"--device-flops: sustained FLOP/s, at least 1e6 (a CPU core does ~1e10), got "
                                 f"{flops_per_second:.3g}")
        else:
            flops_per_second = DEVICE_FLOPS[device]
        step_seconds = STEP_SECONDS[device]
        overrides = dict(budgets=None if budgets is None else list(parse.numbers(budgets, "--budgets")),
                         sizes_per_budget=sizes_per_budget, spread=spread, center=center, law=law, seq_len=seq_len,
                         head_dim=head_dim, source=data, paths=list(data_path) if data_path else None, seed=seed)
        design = _design(_config(config, overrides), config, overrides)
        compiled = len(design.compiled_runs) if device == "cuda" else 0
        seconds = design.estimate_seconds(flops_per_second, step_seconds, COMPILE_SECONDS[device])
        if out_dir is not None:
            from ..sweep import store

            store.init_sweep(out_dir, design)
        if as_json:
            print_json({**design.to_dict(), "grid_flops": design.grid_flops, "flops_saved": design.flops_saved,
                        "device": device, "device_flops": flops_per_second,
                        "estimated_seconds": seconds, "compiled_runs": compiled,
                        "sweep_dir": str(out_dir) if out_dir else None})
            return
        stdout.print(design_table(design, f"IsoFLOP sweep (prior: {design.law})"))
        print_warnings(design.warnings, "note")
        if design.flops_saved > 0:
            stdout.print(f"warmup-stable-decay: {len(design.points)} points for {value('flops', design.total_flops)}; "
                         f"as separate runs they would cost {value('flops', design.grid_flops)} "
                         f"({design.flops_saved / design.grid_flops:.0%} saved)")
        stdout.print(f"{len(design.runs)} runs, total compute {value('flops', design.total_flops)}; estimated "
                     f"{_duration(seconds)} on {device} at {sig(flops_per_second, 3)} FLOP/s and "
                     f"{step_seconds * 1e3:.2g} ms per step"
                     + (f", {COMPILE_SECONDS[device]:.0f} s compiling each of {compiled} runs" if compiled else "")
                     + (f"; sweep folder {out_dir}" if out_dir else ""))


def _results_table(frame, title: str) -> Table:
    table = Table(title=escape(title), box=box.SIMPLE)
    for col in ("run", "params", "tokens", "loss", "seconds"):
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    best = frame.loc[frame.groupby("flops_budget")["loss"].idxmin(), "run_id"].tolist() if len(frame) else []
    for row in frame.itertuples():
        mark = " ◀" if row.run_id in best else "  "
        table.add_row(row.run_id, f"{row.n_params:,}", value("n_tokens", row.n_tokens), f"{row.loss:.4f}{mark}",
                      f"{row.seconds:.1f}")
    return table


def _sweep_dir_for(target: Path, out_dir: Optional[Path]) -> Path:
    """A sweep folder: ``target`` itself, or for a config file the folder it designs into."""
    from ..sweep import store

    if target.is_dir():
        target = store.find_sweep(target) or target  # a demo's output folder holds its sweep in sweep/
        store.load_design(target)  # InputError when it is not a sweep folder
        if out_dir is not None and out_dir.resolve() != target.resolve():  # it was ignored: the runs went to target
            raise InputError(f"--out {out_dir}: {target} is a sweep folder, which runs in place; --out names the "
                             f"folder for a config file (`isoflop sweep run CONFIG.toml --out {out_dir}`)")
        return target
    if not target.exists():
        raise InputError(f"{target}: no such sweep folder or config file")
    if out_dir is None and target.with_suffix("") == target:  # its default folder would be the file itself
        raise InputError(f"{target}: a config named without a suffix has no sweep folder beside it by default; "
                         f"give --out FOLDER, or name it {target.name}.toml")
    design = _design(SweepConfig.from_toml(target), target, {})
    sweep_dir = _out_folder("--out", out_dir) or target.with_suffix("")
    store.init_sweep(sweep_dir, design)
    return sweep_dir


@sweep_app.command("run", cls=Command)
def run_cmd(
    target: Path = typer.Argument(..., parser=parse.path,
                                  metavar="SWEEP_DIR|CONFIG.toml", help="A sweep folder, or a TOML config to "
                                  "design and run."),
    out_dir: Optional[Path] = typer.Option(None, "--out", parser=parse.path,
                                           metavar="FOLDER", help="Sweep folder for a config "
                                           "(default: next to it)."),
    executor: str = typer.Option("local", metavar="local|ray", help="local (one process; one per GPU) or ray "
                                 "(RAY_ADDRESS or a local Ray)."),
    device: str = typer.Option("auto", metavar="auto|cpu|cuda", help="Where to train."),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile (default: on CUDA "
                                           "for models of 10M+ parameters training 2,000+ steps, where it pays)."),
    retry_failed: bool = typer.Option(True, "--retry-failed/--no-retry-failed", help="Retrain failed runs."),
    cpus_per_run: int = typer.Option(1, metavar="COUNT", help="CPUs each Ray task asks for on CPU."),
    workers: int = typer.Option(1, metavar="COUNT", help="Local CPU training: worker processes at once (a WSD "
                                "cooldown waits for its trunk)."),
    threads_per_worker: int = typer.Option(1, metavar="COUNT", help="Local CPU training: torch threads per "
                                           "worker process."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Train every unfinished run (finished runs are skipped, interrupted ones resume). Exit 1 if any failed."""
    with user_errors():
        from ..sweep import store
        from ..sweep.executors import check_run_options, run_sweep

        check_run_options(executor=executor, device=device, cpus_per_run=cpus_per_run, workers=workers,
                          threads_per_worker=threads_per_worker)  # before a config's folder is made
        sweep_dir = _sweep_dir_for(target, out_dir)
        report = run_sweep(sweep_dir, executor=executor, device=device, compile=compile,
                           retry_failed=retry_failed, progress=progress and show_progress(as_json),
                           cpus_per_run=cpus_per_run, workers=workers, threads_per_worker=threads_per_worker)
        frame = store.export_table(sweep_dir)
    if as_json:
        print_json({"sweep_dir": str(sweep_dir), **report.to_dict(), "table": frame.to_dict("records")})
    else:
        stdout.print(_results_table(frame, f"Finished runs in {sweep_dir}"))
        counts = report.to_dict()["counts"]
        stdout.print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" in {_duration(report.seconds)}")
    if report.ids("failed"):
        raise typer.Exit(1)


@sweep_app.command("status", cls=Command)
def status_cmd(
    sweep_dir: Path = typer.Argument(..., parser=parse.path, metavar="SWEEP_DIR", help="A sweep folder."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """done / running / failed / pending for every run of a sweep."""
    with user_errors():
        from ..sweep import store

        state = store.sweep_state(sweep_dir)
    if as_json:  # SweepState.to_dict() is this command's JSON: its notes included
        print_json(state.to_dict())
        return
    table = Table(title=escape(f"Sweep {sweep_dir}"), box=box.SIMPLE)
    for col in ("run_id", "state", "steps", "loss", "note"):
        table.add_column(col, justify="left" if col in ("run_id", "state", "note") else "right")
    colour = {"done": "green", "running": "cyan", "failed": "red", "pending": "white"}
    for s in state.runs:
        # the notes themselves (paths and why) are too long for a column: they follow the table
        note = s.error or (f"pid {s.pid}" if s.pid else "") or (
            f"{len(s.notes)} note{'s' if len(s.notes) > 1 else ''} below" if s.notes else "")
        table.add_row(s.run_id, f"[{colour[s.state]}]{s.state}[/]", f"{s.step:,}/{s.n_steps:,}",
                      "" if s.loss is None else f"{s.loss:.4f}", escape(note))
    stdout.print(table)
    stdout.print(", ".join(f"{v} {k}" for k, v in state.counts().items()))
    print_warnings(list(state.notes) + [f"{s.run_id}: {n}" for s in state.runs for n in s.notes], "note")


def demo_cmd(
    out_dir: Path = typer.Option(Path("isoflop-demo"), "--out", parser=parse.path,
                                 metavar="FOLDER", help="Folder for the sweep, "
                                 "fit.json, summary.json and report.html."),
    device: str = typer.Option("auto", metavar="auto|cpu|cuda", help="Where to train."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Design and train a small IsoFLOP sweep on the Python standard library, then fit, plan and report."""
    from ..demo import run_demo
    from ..sweep.demo import DEMO_WORKERS, demo_design
    from ..sweep.executors import check_run_options

    with user_errors():
        _out_folder("--out", out_dir)
        # before anything is written (`--device cuda` without a GPU wrote 33 run folders, then refused); it
        # checks the device's name too
        check_run_options(device=device, workers=DEMO_WORKERS)
        design = demo_design()
        if not as_json:
            stdout.print(design_table(design, "isoflop demo: a warmup-stable-decay sweep on the Python standard "
                                              "library"))
            stdout.print(f"{len(design.runs)} runs, {value('flops', design.total_flops)} in total")
        summary = run_demo(out_dir, device=device, progress=progress and show_progress(as_json))  # summary.json
    if as_json:
        print_json(summary)
        return
    _render_demo(summary)
    stdout.print(f"demo finished in {_duration(summary['wall_seconds'])}; summary in {out_dir / 'summary.json'}, "
                 f"report in {summary['report']}")


def _render_demo(summary: dict) -> None:
    """The demo's story: the losses, the fitted law with intervals, the backtest, the plan, where to look."""
    import pandas as pd

    stdout.print(_results_table(pd.DataFrame(summary["runs"]), "Final validation loss (◀ best size per budget)"))
    fit = summary["fit"]
    intervals = fit.get("intervals", {})
    law = Table(title=escape(f"Fitted law: {fit['law']} on {fit['n_points']} points"),
                box=box.SIMPLE)
    for col in ("parameter", "value", "95% interval"):
        law.add_column(col, justify="right")
    for key, val in fitted_constants(fit):
        law.add_row(key, "" if val is None else sig(val), interval(key, intervals.get(key)))
    stdout.print(law)
    if "bootstrap" in fit:
        b = fit["bootstrap"]
        stdout.print(f"bootstrap: {b['n_converged']} of {b['n_resamples']} resamples converged")
    colour = "green" if summary["verdict"].endswith("; identified") else "yellow"
    stdout.print(f"[{colour}]{escape(summary['verdict'])}[/{colour}]")
    for b in summary["backtest"]:
        stdout.print(f"self-backtest: fit on {b['n_train']} points below {value('flops', b['threshold_flops'])}, "
                     f"predict the {b['n_test']} above: mean |error| {b['mean_abs_rel_error']:.2%}, "
                     f"max {b['max_abs_rel_error']:.2%}")
    plan = summary["plan"]
    if plan is None:
        print_warnings([f"no plan: {summary['refusal']}"])
    else:
        bounds = plan.get("intervals", {})
        low, high = bounds.get("n_params", (None, None))
        spread = f" (a factor {high / low:.3g})" if low else ""
        stdout.print(f"plan at {value('flops', plan['flops'])} (100× the largest budget): "
                     f"N* = {value('n_params', plan['n_params'])} {interval('n_params', bounds.get('n_params'))}"
                     f"{spread}, D* = {value('n_tokens', plan['n_tokens'])} "
                     f"{interval('n_tokens', bounds.get('n_tokens'))}, loss {value('loss', plan['loss'])} "
                     f"{interval('loss', bounds.get('loss'))}")
    print_warnings(fit.get("warnings", []))
