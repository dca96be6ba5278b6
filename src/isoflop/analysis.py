"""One analysis of a set of runs: fit → bootstrap → approaches 1 and 2 → backtest → plans → diagnosis.

``analyse`` is the one orchestrator behind ``isoflop fit``, ``isoflop report`` and ``isoflop demo``, so the
three can never disagree: the same runs and the same fitting options give the same law and the same plans.
Each step that does not apply to the data (too few budgets for approach 2, no curves for approach 1, …) is
skipped with a note that says why, never with an exception. The report only renders an ``Analysis``.

Methods: approach 3 (Hoffmann et al. 2022, section 3.3; `isoflop.fitting.parametric`), the bootstrap over runs
(`isoflop.fitting.bootstrap`), approach 2 (section 3.2; `isoflop.fitting.isoflop`), approach 1 (section 3.1;
`isoflop.fitting.envelope`) and compute-ordered backtests (`isoflop.fitting.select`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .io_utils import brief_repr
from .fitting import fit as fit_law
from .fitting.bootstrap import MAX_RESAMPLES
from .fitting.envelope import check_smooth
from .fitting.identify import require_identified
from .fitting.parametric import DEFAULT_DELTA, FORMS, FitResult
from .fitting.repetition import DEFAULT_BASE
from .answers import Evidence, diagnosis_with_evidence, plan_with_evidence
from .planning import Plan, diagnose, plan
from .presets import PRESETS
from .runs import RunTable
from .units import as_positive, is_number

# "auto": chosen by compute-ordered cross-validation (fit.select); "data-constrained": Muennighoff et al.'s
# repetition law with R_D*, R_N* fitted (fit.repetition).
ANALYSIS_FORMS = FORMS + ("auto", "data-constrained")
# Huber's δ on log residuals: from 1e-12 down the objective is |r|·δ ≈ 1e-14, below the solver's tolerances.
MIN_DELTA = 1e-10
MAX_BOOTSTRAP_CELLS = 1e8  # resamples × runs: the (K, runs) weights and residuals stay under ~2 GB


@dataclass(frozen=True)
class FitOptions:
    """How to fit: the law ``form``, Huber ``delta`` (inf: least squares), ``fixed`` parameters, rows to drop
    (``drop_highest``: the K highest losses, as Besiroglu et al. 2024 dropped 5), bootstrap resamples
    (``n_bootstrap``) and their ``seed``, the ``base`` law of the data-constrained form (a preset's name, or
    "fit" to fit it jointly), and ``allow_unidentified`` (plan from a fit the data cannot pin down, marked)."""

    form: str = "chinchilla"
    delta: float = DEFAULT_DELTA
    fixed: dict | None = None
    drop_highest: int = 0
    n_bootstrap: int = 0
    seed: int = 0
    base: str = DEFAULT_BASE  # data-constrained form: the base law it holds fixed ("fit": fit it jointly)
    allow_unidentified: bool = False

    def __post_init__(self):
        if self.form not in ANALYSIS_FORMS:
            raise InputError(f"unknown law form {self.form!r}; choose one of {', '.join(ANALYSIS_FORMS)}")
        if not is_number(self.delta) or not self.delta >= MIN_DELTA:  # also rejects nan
            raise InputError(f"delta (--delta): the Huber threshold must be at least {MIN_DELTA:g} (inf for least squares), "
                             f"got {self.delta!r}; below that the objective is |residual|·δ, smaller than the "
                             f"optimiser's tolerances, which stop it at its start")
        if self.base != "fit" and self.base not in PRESETS:
            raise InputError(f"base (--base): {self.base!r} is neither a published law ({', '.join(PRESETS)}) nor 'fit' "
                             f"(fit the base law jointly)")
        if self.form == "auto" and self.delta != DEFAULT_DELTA:
            raise InputError("delta (--delta) does not apply to form auto (--form auto), which chooses δ among its candidates (its "
                             "table lists them); give a form to fit with your δ")
        for name, value in (("drop_highest (--drop-highest)", self.drop_highest),
                            ("n_bootstrap (--bootstrap)", self.n_bootstrap), ("seed (--seed)", self.seed)):
            if not is_number(value) or int(value) != value or value < 0:
                raise InputError(f"{name}: must be a whole number ≥ 0, got {value!r}")
        if self.n_bootstrap != 0 and not 2 <= self.n_bootstrap <= MAX_RESAMPLES:
            raise InputError(f"n_bootstrap (--bootstrap): give 0 (none) or 2 to {MAX_RESAMPLES:,} resamples, got {self.n_bootstrap}")
        # options that would do nothing are refused, as everywhere else: the seed only draws resamples, and the
        # base law only serves the data-constrained form
        if self.seed != 0 and self.n_bootstrap == 0:
            raise InputError(f"seed (--seed) {self.seed} draws the bootstrap's resamples: give n_bootstrap "
                             f"(--bootstrap K) too")
        if self.base != DEFAULT_BASE and self.form != "data-constrained":
            raise InputError(f"base (--base) {self.base!r} is the base law of the data-constrained form: give "
                             f"form='data-constrained' (--form data-constrained) too")
        if self.fixed is not None:
            if not isinstance(self.fixed, dict):
                raise InputError(f"fixed (--fix): give {{name: value}}, e.g. {{'E': 1.69}}, got {self.fixed!r:.60}")
            # frozen: the checked values (a "1.69" string included) replace the given ones
            object.__setattr__(self, "fixed", {name: float(as_positive(f"fixed {name} (--fix {name}=…)", value))
                                               for name, value in self.fixed.items()})
            if self.fixed and self.form in ("data-constrained", "auto"):
                raise InputError(f"fixed (--fix) applies to the chinchilla and chinchilla-tied forms, not --form {self.form} "
                                 f"(data-constrained: --base names the base law, or 'fit' to fit it)")

    def to_dict(self) -> dict:
        return {"form": self.form, "delta": None if np.isinf(self.delta) else self.delta,
                "fixed": dict(self.fixed or {}), "drop_highest": self.drop_highest, "n_bootstrap": self.n_bootstrap,
                "seed": self.seed, "base": self.base if self.form == "data-constrained" else None,
                "allow_unidentified": self.allow_unidentified}


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyse`` found. ``law`` is what plans use: the bootstrap ensemble when there is one, else
    the fitted law (or a saved fit's law). ``plans``: one ``Plan`` over all ``budgets`` (vectorised)."""

    options: FitOptions
    runs: RunTable | None = field(repr=False)  # the rows fitted: one per run
    curves: RunTable | None = field(repr=False)
    fit: FitResult | None
    bootstrap: object | None  # fit.bootstrap.BootstrapResult
    law: object = field(repr=False)  # the fit's law, or its bootstrap ensemble
    budgets: tuple[float, ...]
    plans: Plan | None = field(repr=False)
    diagnosis: object | None = field(repr=False)  # plan.Diagnosis
    backtests: tuple = field(default=(), repr=False)
    isoflop: object | None = field(default=None, repr=False)  # fit.isoflop.IsoflopResult
    envelope: object | None = field(default=None, repr=False)  # fit.envelope.EnvelopeResult
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    identifiability: object | None = None  # fit.identify.Identifiability (None for a preset or an old fit file)
    selection: object | None = field(default=None, repr=False)  # fit.select.Selection, with --form auto
    calibration: object | None = field(default=None, repr=False)  # fit.calibrate.Calibration: backtests' error
    refusal: str | None = None  # why no plan was made (an unidentified fit), when one was asked for
    saved: dict | None = field(default=None, repr=False)  # a saved fit's JSON when analysed from one
    n_rows: int = 0  # rows of the input (points of curves included)

    __repr__ = brief_repr  # the runs' warnings (one per damaged log): three shown, and how many more

    def verdict(self) -> str:
        """One line that never says "converged" alone: the solver's status and whether the data pin the law down."""
        if self.fit is None:
            return "a saved fit" + ("" if self.identifiability is None else f", {self.identifiability.summary()}")
        level = "identifiability not assessed" if self.identifiability is None else self.identifiability.summary()
        return f"{self.fit.status}; {level}"

    @property
    def plannable(self) -> bool:
        return self.law.kind != "loss-vs-compute"

    def exponents(self) -> dict:
        """a in N*(C) ∝ C^a from each approach that ran, with its interval (None where there is none)."""
        out = {}
        if self.plannable:
            interval = self.bootstrap.intervals.get("a") if self.bootstrap is not None else None
            out["approach 3 (parametric fit)"] = {"a": float(self.law.n_params_exponent),
                                                  "interval": list(interval) if interval else None}
        if self.isoflop is not None:
            out["approach 2 (IsoFLOP profiles)"] = {"a": self.isoflop.n_params_fit.exponent,
                                                    "interval": list(self.isoflop.n_params_fit.interval)}
        if self.envelope is not None:
            out["approach 1 (training-curve envelope)"] = {"a": self.envelope.n_params_fit.exponent,
                                                           "interval": list(self.envelope.n_params_fit.interval)}
        return out

    def fit_dict(self) -> dict:
        """The fitted law as `isoflop fit --json` and `fit.json` give it."""
        if self.fit is None:
            return {k: v for k, v in (self.saved or {}).items() if k not in ("ensemble", "provenance")}
        out = self.fit.to_dict()
        out["warnings"] = list(self.warnings) + out["warnings"]  # the data's, then the fit's
        if self.bootstrap is not None:
            boot = self.bootstrap.to_dict()
            out["intervals"] = boot.pop("intervals")
            out["bootstrap"] = boot
        out["identifiability"] = None if self.identifiability is None else self.identifiability.to_dict()
        out["calibration"] = None if self.calibration is None else self.calibration.to_dict()
        if self.selection is not None:
            out["selection"] = self.selection.to_dict()
        return out

    def plan_rows(self) -> list[dict]:
        """One row per budget: flops (as asked), n_params, n_tokens, tokens_per_param, loss,
        ``<field>_interval`` [low, high] with an ensemble (the loss's calibrated where the fit was) and
        ``extrapolation_decades``; the plans' warnings are ``to_dict()["plan_warnings"]``."""
        if self.plans is None:
            return []
        d = self.plans.to_dict()
        rows = []
        for i, budget in enumerate(self.budgets):
            row = {"flops": float(budget)}
            for key in ("n_params", "n_tokens", "tokens_per_param", "loss"):
                row[key] = np.atleast_1d(d[key])[i]
            for key, (lo, hi) in d.get("intervals", {}).items():
                row[f"{key}_interval"] = [np.atleast_1d(lo)[i], np.atleast_1d(hi)[i]]
            if d.get("extrapolation_decades") is not None:  # decades beyond the largest fitted run
                row["extrapolation_decades"] = np.atleast_1d(d["extrapolation_decades"])[i]
            rows.append(row)
        return rows

    def data_dict(self) -> dict | None:
        if self.runs is None:
            return None

        def span(values):
            return [float(np.min(values)), float(np.max(values))]
        r = self.runs
        return {"n_runs": len(r), "n_points": self.n_rows, "param_convention": r.param_convention, "n_params": span(r.n_params),
                "n_tokens": span(r.n_tokens), "flops": span(r.flops), "loss": span(r.loss),
                "curves": self.curves is not None, "warnings": list(r.warnings)}

    def to_dict(self) -> dict:
        out = {"options": None if self.saved is not None else self.options.to_dict(), "verdict": self.verdict(), "refusal": self.refusal,
               "data": self.data_dict(), "fit": self.fit_dict(),
               "exponents": self.exponents(), "plans": self.plan_rows(),
               "plan_warnings": [] if self.plans is None else list(self.plans.warnings),
               "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
               "backtest": [b.to_dict() for b in self.backtests],
               "isoflop": None if self.isoflop is None else self.isoflop.to_dict(),
               "envelope": None if self.envelope is None else self.envelope.to_dict(),
               "notes": list(self.notes)}
        return out


def default_backtest_threshold(finals: RunTable) -> float | None:
    """Hold out the largest budgets (groups of `group_budgets`), as few as hold at least max(3, 10%) of the
    runs, keeping at least 2 budgets to fit on; for 30+ runs at scattered compute over a decade or more (one
    chained group), the most expensive tenth; None where neither is possible."""
    from .fitting.isoflop import group_budgets

    labels = group_budgets(finals.flops)  # 0, 1, … in order of compute
    least = max(3, 0.1 * len(finals))
    held = np.cumsum(np.bincount(labels)[::-1])[:-2]  # runs held out with the k + 1 largest budgets (2 kept)
    enough = np.flatnonzero(held >= least)
    if enough.size:
        return float(finals.flops[labels >= labels.max() - enough[0]].min())
    flops = np.sort(finals.flops)
    if labels.max() == 0 and len(finals) >= 30 and np.log10(flops[-1] / flops[0]) >= 1:
        # runs at scattered compute, not on budgets, chain into one group (1M random runs over 7 decades were
        # "too few compute budgets"): hold out the most expensive tenth
        return float(flops[-int(np.ceil(least))])
    return None


def _curves_of(table: RunTable) -> RunTable | None:
    if "step" not in table.frame:
        return None
    counts = table.frame.groupby("run_id").size()
    return table if (counts >= 2).sum() >= 2 else None


def analyse(runs: RunTable | None = None, options: FitOptions = FitOptions(), *, saved_fit=None,
            curves: RunTable | None = None, budgets=(), config=None, backtest_above=None,
            auto_backtest: bool = False, isoflop: bool = False, smooth: float = 0.0, progress=None,
            fit_progress=None) -> Analysis:
    """Analyse ``runs`` (final losses, or curves with a ``step`` column whose last rows are fitted), or plan
    from ``saved_fit`` (`fitting.io.SavedFit`: its law, verdict and calibrated prediction intervals, as
    ``plan --fit`` gives them) when there are no runs; a saved fit is not refitted, so ``options`` must be
    the defaults.

    ``budgets``: FLOPs to plan the compute-optimal allocation for; ``config``: (n_params, n_tokens) to
    diagnose; ``backtest_above``: fit below this compute and score the runs above it, or with
    ``auto_backtest`` hold out the largest budgets; ``isoflop``: approach 2; ``curves``: training curves for
    approach 1 (taken from ``runs`` when it has them); ``smooth``: approach 1's smoothing in log C;
    ``progress``: callable(n_converged) during the bootstrap; ``fit_progress``: callable(done, total) as the fit's
    steps finish (``--form auto``: its candidates; otherwise the fit and its backtest fits).

    Plans and the diagnosis need an identified (or weakly identified) law: from an unidentified fit they are
    refused (``refusal`` says why and which runs to add) unless ``options.allow_unidentified``, and then every
    output carries a warning.
    """
    if (runs is None) == (saved_fit is None):
        raise InputError("an analysis needs runs or a saved fit (exactly one)")
    if saved_fit is not None and options != FitOptions(allow_unidentified=options.allow_unidentified):
        changed = [k for k, v in options.to_dict().items() if v != FitOptions().to_dict()[k]
                   and k != "allow_unidentified"]
        raise InputError(f"a saved fit is not refitted, so fitting options do not apply to it ({', '.join(changed)} "
                         f"given); drop them, or give the runs file to fit anew")
    if runs is not None and not isinstance(runs, RunTable):
        raise InputError(f"analyse takes a RunTable (isoflop.read_runs(path)), got {type(runs).__name__}")
    if not isinstance(options, FitOptions):
        raise InputError(f"options: give isoflop.FitOptions(...), got {type(options).__name__}")
    check_smooth(smooth)  # before the fit, even where no curves come to be smoothed
    if config is not None:  # checked before the fit; a third number became diagnose's tolerance, text a TypeError
        if isinstance(config, str) or np.size(config) != 2 or np.ndim(config) != 1:
            raise InputError(f"config: give (n_params, n_tokens) to diagnose, e.g. (7e9, 140e9), got {config!r:.60}")
        config = (float(as_positive("config n_params", config[0])), float(as_positive("config n_tokens", config[1])))
    budgets = tuple(np.atleast_1d(as_positive("budgets", budgets)).tolist()) if np.size(budgets) else ()
    notes, warnings = [], []
    finals = fit_result = boot = iso = env = selection = calibration = identifiability = refusal = None
    backtests = ()
    if runs is not None:
        curves = curves if curves is not None else _curves_of(runs)
        finals = runs.finals()
        if options.drop_highest >= len(finals):
            raise InputError(f"--drop-highest {options.drop_highest} would drop every one of the {len(finals)} runs")
        finals = finals.drop_highest_loss(options.drop_highest)
        warnings.extend(finals.warnings)
        if options.n_bootstrap * len(finals) > MAX_BOOTSTRAP_CELLS:
            raise InputError(f"--bootstrap {options.n_bootstrap:,} resamples of {len(finals):,} runs would hold "
                             f"{options.n_bootstrap * len(finals):.3g} weights in memory (limit "
                             f"{MAX_BOOTSTRAP_CELLS:.0e}); give fewer resamples")
        fit_result, selection, calibration = _fit(finals, options, fit_progress)
        law = fit_result.law
        if options.n_bootstrap:
            if options.form == "data-constrained":
                from .fitting.repetition import bootstrap_repetition

                boot = bootstrap_repetition(fit_result, options.n_bootstrap, seed=options.seed)
            else:
                boot = fit_result.bootstrap(options.n_bootstrap, seed=options.seed, progress=progress)
            law = boot.ensemble
            warnings.extend(boot.warnings)
        identifiability = fit_result.identifiability if boot is None else boot.identifiability
        threshold = backtest_above
        if options.form == "data-constrained":  # backtests refit the N-D forms; a repetition law has none yet
            if backtest_above is not None:
                raise InputError("--backtest-above: backtests are not available for --form data-constrained yet; "
                                 "drop it (or backtest the base law's form on single-epoch runs)")
            threshold, auto_backtest = None, False
        if threshold is None and auto_backtest:
            threshold = default_backtest_threshold(finals)
            if threshold is None:
                notes.append("backtest: too few compute budgets to hold the largest out")
        if threshold is not None:
            from .fitting.select import backtest

            try:
                backtests = tuple(backtest(finals, threshold, (options.form,), delta=options.delta,
                                           fixed=options.fixed or None,
                                           choice=None if selection is None else selection.best.choice))
            except InputError as exc:
                if backtest_above is not None:  # the user's cut-off: name it, and what lies below it
                    below = int((finals.flops < threshold).sum())
                    raise InputError(f"--backtest-above {threshold:.3g} ({below} of {len(finals)} runs below it): "
                                     f"{exc}") from None
                notes.append(f"backtest: {exc}")
        if isoflop:
            from .fitting.isoflop import fit_isoflop

            try:
                iso = fit_isoflop(finals)
            except InputError as exc:
                notes.append(str(exc) if str(exc).startswith("approach 2") else f"approach 2: {exc}")
    else:
        notes.append("a saved fit carries no runs: no data summary, backtest, residuals or approach 2")
        law, identifiability = saved_fit.planning_law, saved_fit.identifiability
    if curves is not None:
        from .fitting.envelope import envelope

        # what reading the curves skipped (a cut or malformed line of a run's log) is said as the finals' is
        warnings.extend(w for w in curves.warnings if w not in warnings)

        try:
            env = envelope(curves, smooth=smooth)
        except InputError as exc:
            notes.append(f"approach 1: {exc}")
    elif runs is not None:
        notes.append("approach 1: no training curves (a table with a step column, e.g. from `isoflop ingest`)")

    budgets = tuple(float(b) for b in budgets)
    plans = diagnosis = None
    if law.kind == "loss-vs-compute":
        if budgets or config is not None:
            notes.append("loss-vs-compute laws give loss against compute only: no plans or diagnosis")
    elif budgets or config is not None:
        try:
            require_identified(identifiability, allow_unidentified=options.allow_unidentified)
        except InputError as exc:
            refusal = str(exc)
        if refusal is None:
            if identifiability is not None and identifiability.level == "unidentified":
                warnings.append(f"planned with --allow-unidentified from a fit that is "
                                f"{identifiability.summary()}; the plans below are not supported by the data")
            # Every answer carries the loss a run would measure: the calibrated interval and its warnings.
            evidence = Evidence(saved_fit) if fit_result is None else Evidence(fit_result, boot, calibration)
            if budgets:
                plans = plan_with_evidence(plan(law, flops=budgets[0] if len(budgets) == 1 else np.asarray(budgets)),
                                           evidence)
            if config is not None:
                diagnosis = diagnosis_with_evidence(diagnose(law, *config), evidence)
    return Analysis(options=options, runs=finals, curves=curves, fit=fit_result, bootstrap=boot, law=law,
                    budgets=budgets, plans=plans, diagnosis=diagnosis, backtests=backtests, isoflop=iso,
                    envelope=env, notes=tuple(notes), warnings=tuple(warnings), identifiability=identifiability,
                    selection=selection, calibration=calibration, refusal=refusal,
                    saved=None if saved_fit is None else saved_fit.report,
                    n_rows=0 if runs is None else len(runs))



def _fit(finals: RunTable, options: FitOptions, progress=None):
    """(the FitResult, the form Selection with --form auto, the Calibration of its extrapolation error).

    Every fit is calibrated by compute-ordered backtests (fit below cut-offs, score above: `fit.calibrate`),
    so predictions carry the error of extrapolating the form, not only noise and parameter spread.
    ``progress``: callable(done, total), as in `analyse`."""
    from .fitting.calibrate import MAX_FOLDS, calibrate
    from .fitting.select import CANDIDATES, select_fit

    tick = progress or (lambda done, total: None)
    if options.form == "auto":
        selection = select_fit(finals, progress=lambda done: tick(done, len(CANDIDATES)))
        return selection.result, selection, selection.calibration
    if options.form == "data-constrained":
        from .fitting.repetition import fit_repetition

        return fit_repetition(finals, None if options.base == "fit" else options.base, delta=options.delta), None, None

    n_fits = itertools.count(1)

    def fitter(table):  # the fit on all runs, then one per backtest cut-off
        result = fit_law(table, options.form, delta=options.delta, fixed=options.fixed or None)
        tick(next(n_fits), 1 + MAX_FOLDS)
        return result

    result = fitter(finals)
    n_free = len(result.params) - len(options.fixed or {})
    calibration = calibrate(finals, fitter, result, min_train_runs=max(2 * n_free, n_free + 3))
    tick(1 + MAX_FOLDS, 1 + MAX_FOLDS)  # fewer cut-offs than the most there can be: the bar still ends full
    return result, None, calibration
