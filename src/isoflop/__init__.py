"""isoflop: how to spend a training budget, from scaling laws fitted to real runs.

One import gives the whole loop::

    import isoflop
    runs = isoflop.read_runs("runs.csv")                  # a RunTable (CSV, JSONL, JSON, Parquet, a sweep folder)
    result = isoflop.fit(runs)                            # approach 3: FitResult (law, status, residuals)
    boot = result.bootstrap(1000)                         # refit 1,000 resamples of runs: intervals
    isoflop.plan(boot, flops=1e24)                        # Plan: N, D, loss, and their 95% intervals
    isoflop.plan("besiroglu2024", flops=5.76e23)          # or plan with a published law (isoflop.law(name))

Everything a planner takes as a law may be a law object, a preset's name, a ``FitResult``, a bootstrap
result or an ``Analysis``: ``as_law`` turns each into the law it stands for (an ensemble where there are
bootstrap members, so plans carry intervals). Nothing here imports torch; training needs the ``train`` extra.
"""

from __future__ import annotations

from pathlib import Path

# The facade's functions `fit`, `plan` and `report` are functions; the modules behind them are `fitting`,
# `planning` and `reporting`, so `import isoflop.fitting.parametric as p` and the functions never collide.
from . import planning as _planning
from ._version import __version__
from .analysis import Analysis, FitOptions, analyse
from .errors import InputError
from .fitting.bootstrap import BootstrapResult
from .fitting.parametric import FitResult
from .flops import Architecture
from .hardware import Cluster, get_accelerator
from .laws import ChinchillaLaw, DataConstrainedLaw, KaplanLaw, LawEnsemble, LossVsComputeLaw, NDLaw
from .planning import Allocation, Diagnosis, Frontier, Plan
from .presets import PRESETS, get_law
from .runs import RunTable
from .sweep.design import SweepConfig, SweepDesign, design_sweep


def law(name: str):
    """A published law by name (``isoflop.PRESETS`` lists them with their sources)."""
    return get_law(name)


def as_law(obj):
    """The law that ``obj`` stands for: a preset's name → its law; a FitResult → its fitted law; a bootstrap
    result → its ensemble (point + members, for intervals); an Analysis → the law it plans with; a law → itself."""
    if isinstance(obj, str):
        return get_law(obj)
    if isinstance(obj, FitResult):
        return obj.law
    if isinstance(obj, BootstrapResult):
        return obj.ensemble
    if isinstance(obj, Analysis):
        return obj.law
    if isinstance(obj, (ChinchillaLaw, KaplanLaw, DataConstrainedLaw, LossVsComputeLaw, LawEnsemble)):
        return obj
    raise TypeError(f"not a law, a preset name, a fit or an analysis: {type(obj).__name__}")


def read_runs(source, columns: dict[str, str] | None = None, param_convention: str = "total",
              curves: bool = False) -> RunTable:
    """Runs from a CSV, JSONL, JSON or Parquet file, or a sweep folder (``curves``: every evaluation of every
    run instead of one row per finished run; a sweep's parameters are exact totals, whatever
    ``param_convention`` says). ``columns`` maps the schema's fields to the file's column names,
    e.g. {"n_params": "Model Size", "flops": "Training FLOP"}."""
    from .sweep import store

    source = Path(source)
    if source.is_dir():
        sweep = store.find_sweep(source)  # a sweep folder, or an `isoflop demo --out` folder holding one
        if sweep is None:
            raise InputError(f"{source}: a folder but not a sweep (no sweep.json); for training logs run "
                             f"`isoflop ingest {source} --out runs.parquet` first")
        return store.read_runs(sweep, curves=curves)
    return RunTable.load(source, columns or {}, param_convention)


def fit(runs, form: str = "chinchilla", *, delta: float | None = None, fixed: dict | None = None,
        drop_highest: int = 0) -> FitResult:
    """Approach 3 (Hoffmann et al. 2022, §3.3): fit ``form`` (chinchilla, chinchilla-tied, kaplan,
    loss-vs-compute) to ``runs`` (a RunTable or a path for ``read_runs``), one row per run (a table of curves
    contributes each run's last row), after dropping the ``drop_highest`` highest losses. Huber ``delta`` on log
    residuals (default 1e-3; inf: least squares); ``fixed``: e.g. {"E": 1.69}. ``result.bootstrap(K)`` gives
    intervals."""
    table = runs if isinstance(runs, RunTable) else read_runs(runs)
    options = FitOptions(form=form, fixed=fixed, drop_highest=drop_highest,
                         **({} if delta is None else {"delta": delta}))
    return analyse(table, options).fit


def plan(law, **question) -> Plan:
    """Plan with ``law`` (anything ``as_law`` takes); the question follows from the keywords — flops,
    n_params, n_tokens, target_loss, unique_tokens, inference_tokens, cluster, days, … (see
    ``isoflop.planning.plan``)."""
    return _planning.plan(as_law(law), **question)


def diagnose(law, n_params: float, n_tokens: float, tolerance: float = 1.5) -> Diagnosis:
    """Is (n_params, n_tokens) undertrained, compute-optimal or overtrained, and how much compute does it waste?"""
    return _planning.diagnose(as_law(law), n_params, n_tokens, tolerance)


def frontier(law, flops, unique_tokens=None, inference_tokens=None) -> Frontier:
    """Compute-optimal (and data-constrained, inference-aware) allocations over an array of budgets."""
    return _planning.frontier(as_law(law), flops, unique_tokens, inference_tokens)


def report(analysis: Analysis, path=None, *, title: str | None = None, unique_tokens=None, source: str = ""):
    """The HTML report of an Analysis (``analyse``); written to ``path`` when given. Needs matplotlib."""
    from .reporting.html import build_report

    built = build_report(analysis, unique_tokens=unique_tokens, source=source, title=title)
    if path is not None:
        built.write(path)
    return built


def run_sweep(sweep_dir, **options):
    """Train every unfinished run of a sweep folder (needs the ``train`` extra); see
    ``isoflop.sweep.executors.run_sweep``."""
    from .sweep.executors import run_sweep as _run

    return _run(sweep_dir, **options)


def init_sweep(sweep_dir, design: SweepDesign):
    """Create a sweep folder for ``design`` (``design_sweep(SweepConfig...)``): one folder per run."""
    from .sweep.store import init_sweep as _init

    return _init(sweep_dir, design)


__all__ = [
    "__version__", "InputError",
    "read_runs", "RunTable", "fit", "FitResult", "BootstrapResult", "analyse", "Analysis", "FitOptions",
    "law", "as_law", "PRESETS", "NDLaw", "ChinchillaLaw", "KaplanLaw", "DataConstrainedLaw", "LossVsComputeLaw",
    "LawEnsemble",
    "plan", "Plan", "Allocation", "diagnose", "Diagnosis", "frontier", "Frontier",
    "Architecture", "Cluster", "get_accelerator",
    "SweepConfig", "SweepDesign", "design_sweep", "init_sweep", "run_sweep", "report",
]
