"""isoflop: how to spend a training budget, from scaling laws fitted to real runs.

One import gives the whole loop::

    import isoflop
    runs = isoflop.read_runs("runs.csv")                  # a RunTable (CSV, JSONL, JSON, Parquet, a sweep folder)
    curves = isoflop.read_logs("logs/", n_params=1.2e8, tokens_per_step=524288)   # or training logs
    result = isoflop.fit(runs)                            # approach 3: FitResult (law, status, residuals)
    boot = result.bootstrap(1000)                         # refit 1,000 resamples of runs: intervals
    isoflop.plan(boot, flops=1e24)                        # Plan: N, D, loss, and their 95% intervals
    isoflop.plan("besiroglu2024", flops=5.76e23)          # or plan with a published law (isoflop.law(name))
    analysis = isoflop.analyse(runs, isoflop.FitOptions(form="auto", n_bootstrap=200))
    isoflop.predict_loss(analysis, 1e9, 2e10)             # loss, calibrated interval, distance from the runs
    isoflop.save_fit(analysis, "fit.json"); isoflop.load_fit("fit.json")   # as `isoflop fit --save`
    isoflop.get_model("llama-3-8b").arch.n_params         # published models' shapes (isoflop.MODELS)
    isoflop.sweep_status("sweep").counts()                # as `isoflop sweep status`
    isoflop.run_demo("isoflop-demo")                      # the main job, as `isoflop demo` (train extra)

Everything a planner takes as a law may be a law object, a preset's name, a ``FitResult``, a bootstrap
result, an ``Analysis`` or a saved fit: ``as_law`` turns each into the law it stands for (an ensemble where
there are bootstrap members, so plans carry intervals). A fit the data cannot pin down (its
``identifiability`` is "unidentified") is refused by ``plan``, ``diagnose``, ``frontier`` and
``predict_loss``, as by the CLI, unless ``allow_unidentified=True``; then the answer comes with an
``UnidentifiedWarning``. Nothing here imports torch; training needs the ``train`` extra.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

# The facade's functions `fit`, `plan` and `report` are functions; the modules behind them are `fitting`,
# `planning` and `reporting`, so `import isoflop.fitting.parametric as p` and the functions never collide.
from . import planning as _planning
from ._version import __version__
from .analysis import Analysis, FitOptions, analyse
from .answers import diagnosis_with_evidence, evidence_of, frontier_with_evidence, plan_with_evidence
from .demo import run_demo
from .errors import ConvergenceWarning, CorruptFileWarning, CorruptLogWarning, InputError, UnidentifiedWarning
from .fitting.bootstrap import BootstrapResult
from .fitting.identify import Identifiability, require_identified
from .fitting.io import SavedFit, load_saved_fit
from .fitting.parametric import FitResult
from .fitting.predict import Prediction
from .flops import Architecture
from .hardware import Cluster, get_accelerator
from .io_utils import path_argument
from .laws import (BrokenPowerLaw, ChinchillaLaw, DataConstrainedLaw, KaplanIrreducibleLaw, KaplanLaw, LawEnsemble,
                   LossVsComputeLaw, NDLaw, require_nd_law)
from .models import MODELS, NamedModel, get_model
from .planning import Allocation, DataOptimalPlan, Diagnosis, Frontier, InferencePlan, Plan
from .presets import PRESETS, get_law
from .runs import RunTable
from .sweep.design import SweepConfig, SweepDesign, design_sweep as _design_sweep


def law(name: str):
    """A published law by name (``isoflop.PRESETS`` lists them with their sources)."""
    return get_law(name)


def as_law(obj, *, allow_unidentified: bool = False):
    """The law that ``obj`` stands for: a preset's name → its law; a FitResult → its fitted law; a bootstrap
    result → its ensemble (point + members, for intervals); an Analysis → the law it plans with; a saved fit
    (`load_fit`) → its ensemble, or its law without members; a law → itself. A law carries no verdict, so a
    fit whose data cannot pin it down is refused here as by ``plan`` (InputError), unless
    ``allow_unidentified`` (then with an UnidentifiedWarning). A path (or a file's name) is read as a saved fit."""
    obj = _read_if_path(obj)
    _check_identified(obj, allow_unidentified)
    return _law_of(obj)


def _law_of(obj):
    if isinstance(obj, str):
        return get_law(obj)
    if isinstance(obj, FitResult):
        return obj.law
    if isinstance(obj, BootstrapResult):
        return obj.ensemble
    if isinstance(obj, Analysis):
        return obj.law
    if isinstance(obj, SavedFit):
        return obj.planning_law
    if isinstance(obj, (NDLaw, LossVsComputeLaw, BrokenPowerLaw, LawEnsemble)):
        return obj
    raise InputError(f"not a law, a preset's name, a fit, a saved fit or an analysis: {type(obj).__name__} "
                     f"{obj!r:.60}")


def _verdict(obj) -> Identifiability | None:
    """The identifiability verdict ``obj`` carries (a fit, its bootstrap, an analysis, a saved fit); None for a
    law or a preset, which have no data behind them here."""
    if isinstance(obj, (FitResult, BootstrapResult, Analysis, SavedFit)):
        return obj.identifiability
    return None


def _check_identified(obj, allow_unidentified: bool, stacklevel: int = 3) -> str | None:
    """Answering from a fit whose verdict is "unidentified" raises InputError (with the reasons and the runs to
    add) unless ``allow_unidentified``; then it warns with an UnidentifiedWarning and returns the same words for
    the answer to carry (None for a supported source)."""
    verdict = require_identified(_verdict(obj), allow_unidentified=allow_unidentified,
                                 override="pass allow_unidentified=True")
    if verdict is None or verdict.level != "unidentified":
        return None
    note = (f"computed with allow_unidentified=True from a fit that is {verdict.summary()}; the answer is not "
            f"supported by the data")
    warnings.warn(note, UnidentifiedWarning, stacklevel=stacklevel)  # points at the user's call
    return note


def _read_if_path(obj):
    """A saved fit for a path (a Path, a string ending in .json — an error names a missing file — or the name
    of a file that exists and is no preset), else ``obj``."""
    if isinstance(obj, Path) or (isinstance(obj, str) and (obj.lower().endswith(".json") or (
            obj not in PRESETS and Path(obj).is_file()))):
        return load_saved_fit(obj)
    return obj


def design_sweep(config, law=None, *, allow_unidentified: bool = False) -> SweepDesign:
    """The IsoFLOP grid for ``config`` (a SweepConfig, a dict of its fields, or SweepConfig.from_toml(path));
    ``law`` — anything ``as_law`` takes: a preset's name, a fit, its bootstrap, a saved fit or its path —
    overrides ``config.law`` as the prior that places the grid (`isoflop.sweep.design.design_sweep`)."""
    return _design_sweep(config, None if law is None else as_law(law, allow_unidentified=allow_unidentified))


def _answer_from(obj, allow_unidentified: bool, answer, with_evidence):
    """``answer(law)`` for the law ``obj`` stands for (a path is read as a saved fit), given the fit's evidence
    (`answers.py`: the calibrated loss interval and its warnings) and marked when the fit is unidentified and
    ``allow_unidentified`` lets it through (else InputError)."""
    source = _read_if_path(obj)
    note = _check_identified(source, allow_unidentified, stacklevel=4)  # the warning points at the user's call
    result = with_evidence(answer(_law_of(source)), evidence_of(source))
    return result if note is None else replace(result, warnings=(note,) + tuple(result.warnings))


def read_runs(source, columns: dict[str, str] | None = None, param_convention: str = "total",
              curves: bool = False) -> RunTable:
    """Runs from a CSV, JSONL, JSON or Parquet file, or a sweep folder (``curves``: every evaluation of every
    run instead of one row per finished run; a sweep's parameters are exact totals, whatever
    ``param_convention`` says). ``columns`` maps the schema's fields to the file's column names,
    e.g. {"n_params": "Model Size", "flops": "Training FLOP"}."""
    from .sweep import store

    if not isinstance(source, (str, Path)):
        raise InputError(f"read_runs: give a path to a runs file or a sweep folder, got {type(source).__name__}")
    if columns is not None and not isinstance(columns, dict):
        raise InputError(f"read_runs: columns maps fields to the file's names, e.g. {{'n_params': 'Model Size'}}, "
                         f"got {columns!r:.60}")
    source = Path(source)
    if source.is_dir():
        sweep = store.find_sweep(source)  # a sweep folder, or an `isoflop demo --out` folder holding one
        if sweep is None:
            raise InputError(f"{source}: a folder but not a sweep (no sweep.json); for training logs run "
                             f"`isoflop ingest {source} --out runs.parquet` first")
        return store.read_runs(sweep, curves=curves)
    return RunTable.load(source, columns or {}, param_convention)


def _as_run_table(runs) -> RunTable:
    """A RunTable from a path (``read_runs``) or a pandas DataFrame with the schema's columns (validated)."""
    import pandas as pd

    if isinstance(runs, pd.DataFrame):
        return RunTable.from_frame(runs)
    if not isinstance(runs, (str, Path)):
        raise InputError(f"runs: give a RunTable, a pandas DataFrame or a path, got {type(runs).__name__}")
    return read_runs(runs)


def read_logs(source, **options) -> RunTable:
    """Training logs → a RunTable of loss curves, as `isoflop ingest` does: TensorBoard event files, W&B exports,
    Hugging Face ``trainer_state.json``, curve tables. State what the logs do not say: ``n_params`` (a number,
    or {run_id: number}) and ``tokens_per_step`` (or ``batch_size`` and ``seq_len``); the other options
    (``format``, ``loss_key``, ``meta``, ``on_corrupt``, …) are those of ``isoflop.ingest.ingest``."""
    import inspect

    from .ingest import ingest as _ingest

    known = set(inspect.signature(_ingest).parameters) - {"source"}
    unknown = sorted(set(options) - known)
    if unknown:  # one line naming the typo, not Python's TypeError
        raise InputError(f"read_logs: unknown option(s) {', '.join(unknown)}; the options are {', '.join(sorted(known))}")
    return _ingest(source, **options)


def fit(runs, form: str = "chinchilla", *, delta: float | None = None, fixed: dict | None = None,
        drop_highest: int = 0, base: str | None = None) -> FitResult:
    """Approach 3 (Hoffmann et al. 2022, §3.3): fit ``form`` (chinchilla, chinchilla-tied, kaplan,
    loss-vs-compute; auto: chosen by compute-ordered cross-validation; data-constrained: Muennighoff et al.'s
    R_D*, R_N* from runs with unique_tokens) to ``runs`` (a RunTable, a pandas DataFrame or a path), one row per
    run (a table of curves contributes each run's last row), after dropping the ``drop_highest`` highest
    losses. Huber ``delta`` on log residuals (default 1e-3; inf: least squares); ``fixed``: e.g. {"E": 1.69};
    ``base`` (data-constrained): the base law held fixed, a preset's name (default muennighoff2023), or "fit".
    ``result.bootstrap(K)`` gives intervals, ``result.identifiability`` the verdict; ``analyse`` also gives the
    calibration of the extrapolation error that `predict_loss` needs for its full interval."""
    table = runs if isinstance(runs, RunTable) else _as_run_table(runs)
    options = FitOptions(form=form, fixed=fixed, drop_highest=drop_highest,
                         **({} if delta is None else {"delta": delta}), **({} if base is None else {"base": base}))
    analysis = analyse(table, options)
    result = analysis.fit  # with what reading the runs noticed (a flops column far from 6·N·D), as `fit --json`
    extra = tuple(w for w in analysis.warnings if w not in result.warnings)
    return replace(result, warnings=extra + tuple(result.warnings)) if extra else result


def plan(law, *, flops=None, n_params=None, n_tokens=None, target_loss=None, unique_tokens=None,
         inference_tokens=None, match_flops=None, cluster: Cluster | None = None, days=None, inference_mfu=None,
         inference_usd_per_gpu_hour=None, rel_improvement: float | None = None,
         percentiles=_planning.DEFAULT_PERCENTILES, allow_unidentified: bool = False) -> Plan:
    """Plan with ``law`` (anything ``as_law`` takes); the question follows from what is given:

    - ``flops`` (or ``cluster`` and ``days``): the compute-optimal N and D; with ``unique_tokens``, the
      data-constrained plan (repeated epochs); ``unique_tokens`` alone: the data-optimal plan (stops where
      doubling compute gains less than ``rel_improvement`` of the loss);
    - ``n_params`` or ``n_tokens``: the budget for which that size or dataset is compute-optimal;
      ``target_loss``: the least compute that reaches it; ``n_params`` with ``target_loss``: the tokens needed;
    - ``inference_tokens`` with ``match_flops``, ``n_params`` or ``target_loss``: the inference-aware plan
      (Sardana et al. 2024), priced on ``cluster`` with ``inference_mfu`` / ``inference_usd_per_gpu_hour``.

    ``cluster`` (``Cluster("h100-sxm", n_gpus=1024, usd_per_gpu_hour=2)``) adds GPU-hours, days, dollars and a
    memory check; ``percentiles`` (in percent) bound the intervals of an ensemble. From an unidentified fit:
    InputError, or with ``allow_unidentified`` a plan whose ``warnings`` say so. (`isoflop.planning.plan`.)"""
    question = dict(flops=flops, n_params=n_params, n_tokens=n_tokens, target_loss=target_loss,
                    unique_tokens=unique_tokens, inference_tokens=inference_tokens, match_flops=match_flops,
                    cluster=cluster, days=days, inference_mfu=inference_mfu,
                    inference_usd_per_gpu_hour=inference_usd_per_gpu_hour, rel_improvement=rel_improvement,
                    percentiles=percentiles)
    return _answer_from(law, allow_unidentified, lambda the_law: _planning.plan(the_law, **question),
                        lambda result, evidence: plan_with_evidence(result, evidence, percentiles))


def diagnose(law, n_params: float | None = None, n_tokens: float | None = None, tolerance: float = 1.5, *,
             model: str | None = None, percentiles=_planning.DEFAULT_PERCENTILES,
             allow_unidentified: bool = False) -> Diagnosis:
    """Is (n_params, n_tokens) undertrained, compute-optimal or overtrained, and how much compute does it waste?
    ``model``: a published model (``isoflop.MODELS``) instead of ``n_params``, counted as the law counts
    parameters, trained on ``n_tokens`` or its published token count (as `isoflop diagnose --model`). From a
    fit, the loss interval is the calibrated prediction's, with its warnings (`answers.py`). (An unidentified
    fit: as in `plan`; ``percentiles``: as in `plan`.)"""
    marks, law = (), _read_if_path(law)  # a saved fit's path is read once, here
    if model is not None:
        if n_params is not None:
            raise InputError("give n_params or model, not both")
        convention = require_nd_law(_law_of(law)).param_convention
        n_params, n_tokens, marks = get_model(model).configuration(convention, n_tokens)
    if n_params is None or n_tokens is None:
        raise InputError("give n_params (or model=) and n_tokens")
    result = _answer_from(law, allow_unidentified,
                          lambda the_law: _planning.diagnose(the_law, n_params, n_tokens, tolerance, percentiles),
                          lambda result, evidence: diagnosis_with_evidence(result, evidence, percentiles))
    return replace(result, model=model, warnings=(*marks, *result.warnings)) if model is not None else result


def frontier(law, flops, unique_tokens=None, inference_tokens=None, *, percentiles=_planning.DEFAULT_PERCENTILES,
             allow_unidentified: bool = False) -> Frontier:
    """Compute-optimal (and data-constrained, inference-aware) allocations over an array of budgets; from a fit,
    calibrated loss intervals and the warnings of its predictions (`answers.py`). (An unidentified fit: as in
    `plan`; ``percentiles``: as in `plan`.)"""
    return _answer_from(law, allow_unidentified,
                        lambda the_law: _planning.frontier(the_law, flops, unique_tokens, inference_tokens,
                                                           percentiles),
                        lambda result, evidence: frontier_with_evidence(result, evidence, percentiles))


def predict_loss(source, n_params, n_tokens, unique_tokens=None, *, level: float = 0.95,
                 allow_unidentified: bool = False) -> Prediction:
    """The loss ``source`` predicts at any (``n_params``, ``n_tokens``[, ``unique_tokens``]), with a ``level``
    interval for the loss a run there would measure, its distance from the runs (decades of compute beyond
    the largest; a warning past 1 decade or outside the runs' tokens per parameter). ``source``: an Analysis
    (its fit, bootstrap and calibrated extrapolation error: the full interval), a saved fit (a path from
    `isoflop fit --save` / `save_fit`, or `load_fit`'s result), a FitResult or bootstrap (no calibration: the
    warning says what the interval leaves out; a FitResult's covers noise only), or a law or preset name (the
    point alone). From an
    unidentified fit: InputError, or with ``allow_unidentified`` a prediction whose ``warning`` says so (as
    `isoflop loss --fit`). A law of loss against compute alone (loss-vs-compute, broken power law) gives one
    loss for every split of a budget, so it is refused with InputError, as by `isoflop loss`."""
    from .fitting.predict import check_asked, predict_loss as _predict

    check_asked(n_params, n_tokens)
    source = _read_if_path(source)
    require_nd_law(_law_of(source))  # as `isoflop loss`: a law of compute alone gives one loss for every (N, D)
    note = _check_identified(source, allow_unidentified)
    evidence = evidence_of(source)
    if evidence is not None:
        prediction = evidence.predict(n_params, n_tokens, unique_tokens, level=level)
    else:
        prediction = _predict(_law_of(source), n_params, n_tokens, unique_tokens, level=level)
    if note is None:
        return prediction
    return replace(prediction, warnings=((note,) if note else ()) + prediction.warnings)


def save_fit(analysis: Analysis, path) -> Path:
    """Write an Analysis's fit as `isoflop fit --save` does: constants, bootstrap members, identifiability and
    calibration (all that `load_fit`, `plan` and `predict_loss` need later), the verdict, notes, any plan and
    the provenance (isoflop version and time; the command is "isoflop.save_fit", and no input file is hashed:
    the analysis holds runs, not the file they came from)."""
    from .fitting.io import save_fit_result
    from .provenance import provenance

    if not isinstance(analysis, Analysis) or analysis.fit is None:
        raise InputError("save_fit takes an Analysis of runs (isoflop.analyse(runs, ...)); it has no fit to save")
    fitted = analysis.fit_dict()
    extra = {"verdict": analysis.verdict(), "notes": list(analysis.notes), "warnings": fitted["warnings"],
             "provenance": provenance(command="isoflop.save_fit")}
    if "selection" in fitted:
        extra["selection"] = fitted["selection"]
    if analysis.plans is not None:
        extra["plan"] = analysis.plans.to_dict()
    return save_fit_result(path, analysis.fit, analysis.bootstrap, analysis.calibration, extra=extra)


def load_fit(path) -> SavedFit:
    """A fit written by `save_fit` or `isoflop fit --save`, every key checked; plan or predict with it."""
    return load_saved_fit(path)


def report(analysis: Analysis, path=None, *, title: str | None = None, unique_tokens=None, source: str = ""):
    """The HTML report of an Analysis (``analyse``); written to ``path`` when given. Needs matplotlib.
    ``source``: where the runs came from, named on the page; a sweep folder also gives a WSD sweep's cooldown
    branches, drawn off their trunks (as `isoflop report SWEEP`)."""
    from .reporting.html import build_report
    from .sweep.store import export_branches, find_sweep

    if not isinstance(analysis, Analysis):
        raise InputError(f"report takes an Analysis (isoflop.analyse(runs, ...)), got {type(analysis).__name__}; "
                         f"for a file of runs: isoflop.report(isoflop.analyse(isoflop.read_runs(path)), 'report.html')")
    sweep = find_sweep(source) if source else None
    built = build_report(analysis, unique_tokens=unique_tokens, source=str(source), title=title,
                         branches=None if sweep is None else export_branches(sweep))
    if path is not None:
        built.write(path)
    return built


def run_sweep(sweep_dir, **options):
    """Train every unfinished run of a sweep folder (needs the ``train`` extra); see
    ``isoflop.sweep.executors.run_sweep``."""
    from .sweep.executors import run_sweep as _run

    return _run(path_argument(sweep_dir, "run_sweep"), **options)


def sweep_status(sweep_dir):
    """Every run's state in a sweep folder, as `isoflop sweep status`: a ``SweepState`` (``.runs``, each with
    its state — done, running, failed or pending — step and loss; ``.counts()``; ``.to_dict()`` is the
    command's --json)."""
    from .sweep.store import sweep_state

    return sweep_state(path_argument(sweep_dir, "sweep_status"))


def init_sweep(sweep_dir, design: SweepDesign):
    """Create a sweep folder for ``design`` (``design_sweep(SweepConfig...)``): one folder per run."""
    from .sweep.store import init_sweep as _init

    return _init(sweep_dir, design)


__all__ = [
    "__version__", "InputError", "ConvergenceWarning", "UnidentifiedWarning", "CorruptLogWarning", "CorruptFileWarning",
    "read_runs", "read_logs", "RunTable", "fit", "FitResult", "BootstrapResult", "analyse", "Analysis", "FitOptions",
    "Identifiability", "predict_loss", "Prediction", "save_fit", "load_fit", "SavedFit",
    "law", "as_law", "PRESETS", "NDLaw", "ChinchillaLaw", "KaplanLaw", "KaplanIrreducibleLaw", "DataConstrainedLaw",
    "LossVsComputeLaw", "BrokenPowerLaw", "LawEnsemble",
    "plan", "Plan", "Allocation", "DataOptimalPlan", "InferencePlan", "diagnose", "Diagnosis", "frontier", "Frontier",
    "Architecture", "Cluster", "get_accelerator", "MODELS", "NamedModel", "get_model",
    "SweepConfig", "SweepDesign", "design_sweep", "init_sweep", "run_sweep", "sweep_status", "report", "run_demo",
]
