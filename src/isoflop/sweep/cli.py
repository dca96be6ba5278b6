"""``isoflop sweep design | run | status`` and the ``isoflop demo`` command function.

Bad input raises InputError, which ``isoflop.cli.user_errors`` turns into one red line and exit code 2.
Progress bars go to stderr, so ``--json`` output on stdout stays one clean JSON object.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich import box
from rich.table import Table

from ..console import JSON_HELP, err, out, user_errors
from ..errors import InputError
from ..units import format_quantity, parse_quantity
from .design import DEVICE_FLOPS, SweepConfig, SweepDesign, design_sweep

sweep_app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                        help="Design and run IsoFLOP sweeps of small GPTs (needs the 'train' extra to run).")


def _config(path: Optional[Path], overrides: dict) -> SweepConfig:
    """A config from a TOML file and/or flags; flags that were given win over the file."""
    d = {}
    if path is not None:
        d = SweepConfig.from_toml(path).to_dict()
    given = {k: v for k, v in overrides.items() if v is not None}
    data = dict(d.get("data", {}))
    for key in ("source", "paths", "n_states"):
        if key in given:
            data[key] = given.pop(key)
    if data:
        d["data"] = data
    d.update(given)
    if "budgets" not in d:
        raise InputError("budgets: give --budgets 1e11,3e11,1e12 or a config file with budgets = [...]")
    return SweepConfig.from_dict(d, source=str(path) if path else "flags")


def _budgets(text: Optional[str]):
    if text is None:
        return None
    return [parse_quantity(b, "--budgets") for b in text.split(",") if b.strip()]


def design_table(design: SweepDesign, title: str = "IsoFLOP sweep") -> Table:
    """One row per run; the budget is in the run id (c<budget>-n<params>) and every run spends it."""
    seq = {r.train.arch.seq_len for r in design.runs}
    table = Table(title=f"{title}; batch in sequences of {', '.join(map(str, sorted(seq)))} tokens", box=box.SIMPLE)
    for col in ("run", "params", "L×d×h", "tokens", "D/N", "batch", "steps", "peak lr"):
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    for r in design.runs:
        a = r.train.arch
        table.add_row(r.run_id, f"{r.n_params:,}", f"{a.n_layer}×{a.d_model}×{a.n_head}", format_quantity(r.n_tokens),
                      f"{r.n_tokens / r.n_params:.1f}", f"{r.train.batch_size}", f"{r.train.n_steps:,}",
                      f"{r.train.peak_lr:.3g}")
    return table


def _device_flops(device: str, device_flops: Optional[str]) -> float:
    if device_flops is not None:
        return parse_quantity(device_flops, "--device-flops")
    if device not in DEVICE_FLOPS:
        raise InputError(f"--device: must be one of {', '.join(DEVICE_FLOPS)}, got {device!r}")
    return DEVICE_FLOPS[device]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


@sweep_app.command("design")
def design_cmd(
    config: Optional[Path] = typer.Argument(None, help="TOML config (keys: SweepConfig fields, [data] table)."),
    budgets: Optional[str] = typer.Option(None, help="Compute budgets in FLOPs, comma-separated: 1e11,3e11,1e12."),
    sizes_per_budget: Optional[int] = typer.Option(None, help="Model sizes per budget (default 4)."),
    spread: Optional[float] = typer.Option(None, help="Largest size / centre = centre / smallest (default 3)."),
    center: Optional[float] = typer.Option(None, help="Multiplier on the prior law's optimal size (default 1)."),
    law: Optional[str] = typer.Option(None, help="Prior law preset (default besiroglu2024)."),
    seq_len: Optional[int] = typer.Option(None, help="Context length in tokens (default 64)."),
    head_dim: Optional[int] = typer.Option(None, help="Attention head width (default 16)."),
    data: Optional[str] = typer.Option(None, help="Data source: stdlib, markov, text or tokens."),
    data_path: Optional[List[str]] = typer.Option(None, help="Text or token file (repeatable)."),
    seed: Optional[int] = typer.Option(None, help="Seed of every run (default 0)."),
    device: str = typer.Option("cpu", help="Device for the time estimate: cpu or cuda."),
    device_flops: Optional[str] = typer.Option(None, help="Sustained FLOP/s for the time estimate."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Also create the sweep folder here."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Print the IsoFLOP grid a config (or flags) gives: shapes, tokens, batch, LR, total compute, time."""
    with user_errors():
        cfg = _config(config, dict(budgets=_budgets(budgets), sizes_per_budget=sizes_per_budget, spread=spread,
                                   center=center, law=law, seq_len=seq_len, head_dim=head_dim, source=data,
                                   paths=list(data_path) if data_path else None, seed=seed))
        design = design_sweep(cfg)
        flops_per_second = _device_flops(device, device_flops)
        seconds = design.estimate_seconds(flops_per_second)
        if out_dir is not None:
            from . import store

            store.init_sweep(out_dir, design)
        if as_json:
            print(json.dumps({**design.to_dict(), "device": device, "device_flops": flops_per_second,
                              "estimated_seconds": seconds, "sweep_dir": str(out_dir) if out_dir else None}))
            return
        out.print(design_table(design, f"IsoFLOP sweep (prior: {design.law})"))
        for note in design.warnings:
            err.print(f"[yellow]note:[/yellow] {note}", highlight=False)
        out.print(f"{len(design.runs)} runs, total compute {design.total_flops:.3g} FLOPs; "
                  f"estimated {_duration(seconds)} on {device} at {flops_per_second:.3g} FLOP/s"
                  + (f"; sweep folder {out_dir}" if out_dir else ""), highlight=False)


def _results_table(frame, title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE)
    for col in ("run", "params", "tokens", "loss", "seconds"):
        table.add_column(col, justify="left" if col == "run" else "right", no_wrap=True)
    best = frame.loc[frame.groupby("flops_budget")["loss"].idxmin(), "run_id"].tolist() if len(frame) else []
    for row in frame.itertuples():
        mark = " ◀" if row.run_id in best else "  "
        table.add_row(row.run_id, f"{row.n_params:,}", format_quantity(row.n_tokens), f"{row.loss:.4f}{mark}",
                      f"{row.seconds:.1f}")
    return table


def _sweep_dir_for(target: Path, out_dir: Optional[Path]) -> Path:
    """A sweep folder: ``target`` itself, or for a config file the folder it designs into."""
    from . import store

    if target.is_dir():
        store.load_design(target)  # InputError when it is not a sweep folder
        return target
    if not target.exists():
        raise InputError(f"{target}: no such sweep folder or config file")
    design = design_sweep(SweepConfig.from_toml(target))
    sweep_dir = out_dir or target.with_suffix("")
    store.init_sweep(sweep_dir, design)
    return sweep_dir


@sweep_app.command("run")
def run_cmd(
    target: Path = typer.Argument(..., help="A sweep folder, or a TOML config to design and run."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Sweep folder for a config (default: next to it)."),
    executor: str = typer.Option("local", help="local (one process; one per GPU) or ray (RAY_ADDRESS or local)."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    compile: Optional[bool] = typer.Option(None, "--compile/--no-compile", help="torch.compile (default: on CUDA)."),
    retry_failed: bool = typer.Option(True, "--retry-failed/--no-retry-failed", help="Retrain failed runs."),
    cpus_per_run: int = typer.Option(1, help="CPUs each Ray task asks for on CPU."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Train every unfinished run (finished runs are skipped, interrupted ones resume). Exit 1 if any failed."""
    with user_errors():
        from . import store
        from .executors import run_sweep

        sweep_dir = _sweep_dir_for(target, out_dir)
        report = run_sweep(sweep_dir, executor=executor, device=device, compile=compile,
                           retry_failed=retry_failed, progress=progress and not as_json, cpus_per_run=cpus_per_run)
        frame = store.export_table(sweep_dir)
    if as_json:
        print(json.dumps({"sweep_dir": str(sweep_dir), **report.to_dict(),
                          "table": json.loads(frame.to_json(orient="records"))}))
    else:
        out.print(_results_table(frame, f"Finished runs in {sweep_dir}"))
        counts = report.to_dict()["counts"]
        out.print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" in {_duration(report.seconds)}")
    if report.ids("failed"):
        raise typer.Exit(1)


@sweep_app.command("status")
def status_cmd(
    sweep_dir: Path = typer.Argument(..., help="A sweep folder."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """done / running / failed / pending for every run of a sweep."""
    with user_errors():
        from . import store

        statuses = store.sweep_status(sweep_dir)
    counts = {s: sum(st.state == s for st in statuses) for s in store.STATES}
    if as_json:
        print(json.dumps({"sweep_dir": str(sweep_dir), "counts": counts, "runs": [s.to_dict() for s in statuses]}))
        return
    table = Table(title=f"Sweep {sweep_dir}", box=box.SIMPLE)
    for col in ("run_id", "state", "steps", "loss", "note"):
        table.add_column(col, justify="left" if col in ("run_id", "state", "note") else "right")
    colour = {"done": "green", "running": "cyan", "failed": "red", "pending": "white"}
    for s in statuses:
        note = s.error or (f"pid {s.pid}" if s.pid else "")
        table.add_row(s.run_id, f"[{colour[s.state]}]{s.state}[/]", f"{s.step:,}/{s.n_steps:,}",
                      "" if s.loss is None else f"{s.loss:.4f}", note)
    out.print(table)
    out.print(", ".join(f"{v} {k}" for k, v in counts.items()))


# ---------------------------------------------------------------------------------------------------- demo

# The demo's sweep: 3 budgets × 4 sizes of byte-level GPTs on the standard library, ~2-3 minutes on 2 CPU
# cores. centre 0.5: tiny byte-level models want fewer parameters per FLOP than Chinchilla-scale laws
# predict (measured here: the loss-optimal size is ~0.5 × besiroglu2024's N*), and a centred grid shows the
# IsoFLOP valley on both sides. head_dim 8 lets the smallest shapes (~3-5K parameters) exist.
DEMO_CONFIG = dict(budgets=[1e11, 2.5e11, 5e11], sizes_per_budget=4, spread=2.5, center=0.7, head_dim=8,
                   seq_len=64, evals_per_run=10, checkpoints_per_run=4, eval_sequences=256,
                   data={"source": "stdlib"})


def demo_cmd(
    out: Path = typer.Option(Path("isoflop-demo"), "--out", help="Folder for the sweep and summary.json."),
    device: str = typer.Option("auto", help="cpu, cuda or auto."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bars on stderr."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
):
    """Design and train a small IsoFLOP sweep on the Python standard library, then fit and plan from it."""
    t0 = time.perf_counter()
    with user_errors():
        from . import store
        from .executors import run_sweep

        design = design_sweep(SweepConfig.from_dict(DEMO_CONFIG, source="demo"))
        if not as_json:
            out.print(design_table(design, "isoflop demo: IsoFLOP sweep on the Python standard library"))
            out.print(f"{len(design.runs)} runs, {design.total_flops:.3g} FLOPs in total", highlight=False)
        sweep_dir = Path(out) / "sweep"
        store.init_sweep(sweep_dir, design)
        # torch.compile would spend longer compiling each tiny shape than training it
        report = run_sweep(sweep_dir, device=device, compile=False, progress=progress and not as_json)
        table = store.export_table(sweep_dir)
        summary = {"sweep_dir": str(sweep_dir), "law_prior": design.law, "total_flops": design.total_flops,
                   "runs": json.loads(table.to_json(orient="records")), "failed": report.ids("failed")}

        # ---- fit + plan: the one call site of the fitting step (isoflop/demo.py) ----
        from ..demo import demo_fit

        summary["fit"] = demo_fit(table, Path(out), sweep_dir=sweep_dir)
        # ------------------------------------------------------------------------------

        summary["wall_seconds"] = time.perf_counter() - t0
        from ..train import rundir

        rundir.write_json_atomic(Path(out) / "summary.json", summary)
    if as_json:
        print(json.dumps(summary))
        return
    out.print(_results_table(table, "Final validation loss (◀ best size per budget)"))
    out.print(f"demo finished in {_duration(summary['wall_seconds'])}; summary in {Path(out) / 'summary.json'}")
