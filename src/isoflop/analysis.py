"""One analysis of a set of runs: fit → bootstrap → approaches 1 and 2 → backtest → plans → diagnosis.

``analyse`` is the one orchestrator behind ``isoflop fit``, ``isoflop report`` and ``isoflop demo``, so the
three can never disagree: the same runs and the same fitting options give the same law and the same plans.
Each step that does not apply to the data (too few budgets for approach 2, no curves for approach 1, …) is
skipped with a note that says why, never with an exception. The report only renders an ``Analysis``.

Methods: approach 3 (Hoffmann et al. 2022, section 3.3; `isoflop.fit.parametric`), the bootstrap over runs
(`isoflop.fit.bootstrap`), approach 2 (section 3.2; `isoflop.fit.isoflop`), approach 1 (section 3.1;
`isoflop.fit.envelope`) and compute-ordered backtests (`isoflop.fit.select`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .fit import fit as fit_law
from .fit.parametric import DEFAULT_DELTA, FitResult
from .plan import Plan, diagnose, plan
from .runs import RunTable

MAX_BOOTSTRAP = 100_000  # resamples: (K, runs) weights and K laws in memory
MAX_BOOTSTRAP_CELLS = 1e8  # resamples × runs: the (K, runs) weights and residuals stay under ~2 GB


@dataclass(frozen=True)
class FitOptions:
    """How to fit: the law ``form``, Huber ``delta`` (inf: least squares), ``fixed`` parameters, rows to drop
    (``drop_highest``: the K highest losses, as Besiroglu et al. 2024 dropped 5), bootstrap resamples and seed."""

    form: str = "chinchilla"
    delta: float = DEFAULT_DELTA
    fixed: dict | None = None
    drop_highest: int = 0
    n_bootstrap: int = 0
    seed: int = 0

    def __post_init__(self):
        if not (self.delta > 0):  # also rejects nan
            raise InputError(f"--delta: the Huber threshold must be positive (inf for least squares), got {self.delta}")
        if int(self.drop_highest) != self.drop_highest or self.drop_highest < 0:
            raise InputError(f"--drop-highest: must be a whole number ≥ 0, got {self.drop_highest}")
        if self.n_bootstrap != 0 and not 2 <= self.n_bootstrap <= MAX_BOOTSTRAP:
            raise InputError(f"--bootstrap: give 0 (none) or 2 to {MAX_BOOTSTRAP:,} resamples, got {self.n_bootstrap}")

    def to_dict(self) -> dict:
        return {"form": self.form, "delta": None if np.isinf(self.delta) else self.delta,
                "fixed": dict(self.fixed or {}), "drop_highest": self.drop_highest, "n_bootstrap": self.n_bootstrap,
                "seed": self.seed}


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyse`` found. ``law`` is what plans use: the bootstrap ensemble when there is one, else
    the fitted law (or a saved fit's law). ``plans``: one ``Plan`` over all ``budgets`` (vectorised)."""

    options: FitOptions
    runs: RunTable | None  # the rows fitted: one per run
    curves: RunTable | None
    fit: FitResult | None
    bootstrap: object | None  # fit.bootstrap.BootstrapResult
    law: object
    budgets: tuple[float, ...]
    plans: Plan | None
    diagnosis: object | None  # plan.Diagnosis
    backtests: tuple = ()
    isoflop: object | None = None  # fit.isoflop.IsoflopResult
    envelope: object | None = None  # fit.envelope.EnvelopeResult
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    saved: dict | None = field(default=None, repr=False)  # a saved fit's JSON when analysed from one
    n_rows: int = 0  # rows of the input (points of curves included)

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
        return out

    def plan_rows(self) -> list[dict]:
        """One row per budget: flops (as asked), n_params, n_tokens, tokens_per_param, loss, and
        ``<field>_interval`` [low, high] with an ensemble."""
        if self.plans is None:
            return []
        d = self.plans.result.to_dict()
        rows = []
        for i, budget in enumerate(self.budgets):
            row = {"flops": float(budget)}
            for key in ("n_params", "n_tokens", "tokens_per_param", "loss"):
                row[key] = np.atleast_1d(d[key])[i]
            for key, (lo, hi) in d.get("intervals", {}).items():
                row[f"{key}_interval"] = [np.atleast_1d(lo)[i], np.atleast_1d(hi)[i]]
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
        out = {"options": self.options.to_dict(), "data": self.data_dict(), "fit": self.fit_dict(),
               "exponents": self.exponents(), "plans": self.plan_rows(),
               "diagnosis": None if self.diagnosis is None else self.diagnosis.to_dict(),
               "backtest": [b.to_dict() for b in self.backtests],
               "isoflop": None if self.isoflop is None else self.isoflop.to_dict(),
               "envelope": None if self.envelope is None else self.envelope.to_dict(),
               "notes": list(self.notes)}
        return out


def default_backtest_threshold(finals: RunTable) -> float | None:
    """Hold out the largest budgets (groups of `group_budgets`), as few as hold at least max(3, 10%) of the
    runs, keeping at least 2 budgets to fit on; None where that is impossible."""
    from .fit.isoflop import group_budgets

    labels = group_budgets(finals.flops)
    groups = np.unique(labels)[::-1]
    held = 0
    for i, label in enumerate(groups[:-2]):
        held += int((labels == label).sum())
        if held >= max(3, 0.1 * len(finals)):
            return float(finals.flops[np.isin(labels, groups[:i + 1])].min())
    return None


def _curves_of(table: RunTable) -> RunTable | None:
    if "step" not in table.frame:
        return None
    counts = table.frame.groupby("run_id").size()
    return table if (counts >= 2).sum() >= 2 else None


def analyse(runs: RunTable | None = None, options: FitOptions = FitOptions(), *, law=None, saved: dict | None = None,
            curves: RunTable | None = None, budgets=(), config=None, backtest_above=None,
            auto_backtest: bool = False, isoflop: bool = False, smooth: float = 0.0, progress=None) -> Analysis:
    """Analyse ``runs`` (final losses, or curves with a ``step`` column whose last rows are fitted), or plan
    from a saved ``law`` (a law or LawEnsemble; ``saved`` its JSON) when there are no runs.

    ``budgets``: FLOPs to plan the compute-optimal allocation for; ``config``: (n_params, n_tokens) to
    diagnose; ``backtest_above``: fit below this compute and score the runs above it, or with
    ``auto_backtest`` hold out the largest budgets; ``isoflop``: approach 2; ``curves``: training curves for
    approach 1 (taken from ``runs`` when it has them); ``smooth``: approach 1's smoothing in log C;
    ``progress``: callable(n_converged) during the bootstrap.
    """
    if (runs is None) == (law is None):
        raise InputError("an analysis needs runs or a saved fit (exactly one)")
    notes, warnings = [], []
    finals = fit_result = boot = iso = env = None
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
        fit_result = fit_law(finals, options.form, delta=options.delta, fixed=options.fixed or None)
        law = fit_result.law
        if options.n_bootstrap:
            from .fit.bootstrap import bootstrap

            boot = bootstrap(fit_result, finals.loss, finals.run_ids, n_resamples=options.n_bootstrap,
                             seed=options.seed, progress=progress)
            law = boot.ensemble
        threshold = backtest_above
        if threshold is None and auto_backtest:
            threshold = default_backtest_threshold(finals)
            if threshold is None:
                notes.append("backtest: too few compute budgets to hold the largest out")
        if threshold is not None:
            from .fit.select import backtest

            try:
                backtests = tuple(backtest(finals, threshold, (options.form,), delta=options.delta,
                                           fixed=options.fixed or None))
            except InputError as exc:
                if backtest_above is not None:
                    raise
                notes.append(f"backtest: {exc}")
        if isoflop:
            from .fit.isoflop import fit_isoflop

            try:
                iso = fit_isoflop(finals)
            except InputError as exc:
                notes.append(f"approach 2: {exc}")
    else:
        notes.append("a saved fit carries no runs: no data summary, backtest, residuals or approach 2")
    if curves is not None:
        from .fit.envelope import envelope

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
    else:
        if budgets:
            plans = plan(law, flops=budgets[0] if len(budgets) == 1 else np.asarray(budgets))
        if config is not None:
            diagnosis = diagnose(law, *config)
    return Analysis(options=options, runs=finals, curves=curves, fit=fit_result, bootstrap=boot, law=law,
                    budgets=budgets, plans=plans, diagnosis=diagnosis, backtests=backtests, isoflop=iso,
                    envelope=env, notes=tuple(notes), warnings=tuple(warnings), saved=saved,
                    n_rows=0 if runs is None else len(runs))

