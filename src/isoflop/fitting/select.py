"""Extrapolation backtests: fit on the cheap runs, predict the expensive ones, compare law forms.

A scaling law is used to extrapolate, so it is judged the same way: fit every form on the runs with
C < threshold and score the absolute relative error |L̂ − L| / L on the runs with C ≥ threshold.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConvergenceWarning, InputError
from ..runs import RunTable


@dataclass(frozen=True)
class Backtest:
    form: str
    threshold_flops: float
    n_train: int
    n_test: int
    mean_abs_rel_error: float
    max_abs_rel_error: float
    status: str

    def to_dict(self) -> dict:
        return dict(vars(self))


def backtest(table: RunTable, threshold_flops: float, forms=("chinchilla",), *, choice=None,
             **fit_options) -> list[Backtest]:
    """One Backtest per form: fit below ``threshold_flops``, score at and above it. ``choice``: a FitChoice
    (what ``--form auto`` selected) to backtest instead of ``forms``."""
    from . import fit  # the package-level fit validates point counts
    from .calibrate import table_loss

    table = table.finals()
    below = table.flops < threshold_flops
    if below.all() or not below.any():
        raise InputError(f"backtest threshold {threshold_flops:.3g} FLOPs leaves no runs on one side "
                         f"(runs span {table.flops.min():.3g} to {table.flops.max():.3g})")
    train, test = table.subset(below), table.subset(~below)
    fitters = ({choice.label: choice.fit} if choice is not None else
               {form: (lambda t, form=form: fit(t, form, **fit_options)) for form in forms})
    results = []
    for label, fitter in fitters.items():
        result = fitter(train)
        err = np.abs(table_loss(result.law, test) / test.loss - 1)
        results.append(Backtest(label, float(threshold_flops), len(train), len(test), float(err.mean()),
                                float(err.max()), result.status))
    return results


# ------------------------------------------------------------------------- form and fitting-choice selection

PLANNING_FORMS = ("chinchilla", "chinchilla-tied", "kaplan", "kaplan-irreducible")  # split a budget into N and D


@dataclass(frozen=True)
class FitChoice:
    """One way to fit: a form and the fitting choices that matter in the literature.

    ``delta``: Huber threshold on log residuals (Hoffmann et al. 2022 use 1e-3; ``inf`` = least squares);
    ``asymmetry`` τ > 0.5: the lower-envelope objective (`parametric.fit_arrays`); ``weighting``:
    "compute" weights runs by decades of compute (`fit.compute_weights`).
    """

    form: str = "chinchilla"
    delta: float = 1e-3
    asymmetry: float = 0.5
    weighting: str = "none"

    @property
    def label(self) -> str:
        parts = [self.form, "least squares" if not np.isfinite(self.delta) else f"Huber δ={self.delta:g}"]
        if self.asymmetry != 0.5:
            parts.append(f"lower envelope τ={self.asymmetry:g}")
        if self.weighting != "none":
            parts.append(f"weighted by {self.weighting}")
        return ", ".join(parts)

    @property
    def can_plan(self) -> bool:
        return self.form in PLANNING_FORMS

    @property
    def n_free(self) -> int:
        from . import N_FREE
        from .forms import N_FREE_EXTRA

        return {**N_FREE, **N_FREE_EXTRA}[self.form]

    def fit(self, table: RunTable):
        """Fit this choice to a RunTable's final rows."""
        from . import fit
        from .forms import EXTRA_FORMS, fit_extra

        if self.form in EXTRA_FORMS:
            t = table.finals()
            if len(t) <= self.n_free:
                raise InputError(f"{len(t)} runs cannot pin down the {self.n_free} parameters of {self.form}")
            return fit_extra(self.form, t.loss, t.n_params, t.n_tokens, t.flops, delta=self.delta,
                             param_convention=t.param_convention, labels=t.run_ids)
        return fit(table, self.form, delta=self.delta, asymmetry=self.asymmetry, weighting=self.weighting)

    def to_dict(self) -> dict:
        return {"form": self.form, "delta": None if not np.isfinite(self.delta) else self.delta,
                "asymmetry": self.asymmetry, "weighting": self.weighting, "label": self.label}


BASELINE = FitChoice()  # the plain Huber Chinchilla fit of Hoffmann et al. 2022 / Besiroglu et al. 2024
CANDIDATES = (
    BASELINE,
    FitChoice(delta=np.inf),
    FitChoice(asymmetry=0.8),
    FitChoice(weighting="compute"),
    FitChoice("chinchilla-tied"),
    FitChoice("chinchilla-tied", asymmetry=0.8),
    FitChoice("kaplan"),
    FitChoice("kaplan-irreducible"),
    FitChoice("loss-vs-compute"),
    FitChoice("broken-power-law"),
)


@dataclass(frozen=True)
class Candidate:
    """One fitting choice's compute-ordered cross-validation: ``cv_error`` is the mean relative error of its
    backtests (None when no backtest could be run); ``n_folds`` the cut-offs scored."""

    choice: FitChoice
    cv_error: float | None
    n_folds: int
    calibration: object  # calibrate.Calibration
    result: object  # FitResult on all runs (None when the full fit failed)
    message: str = ""
    fold_errors: dict = field(default_factory=dict)  # {cut-off (log10 FLOPs): mean |rel. error| of that fold}

    @property
    def identifiability(self) -> str | None:
        """The full fit's identifiability level (None when it failed): a converged fit can still be unidentified."""
        return None if self.result is None else self.result.identifiability.level

    @property
    def verdict(self) -> str:
        """The identifiability level, with the optimiser's status where it is not plain convergence ("iteration
        limit; unidentified"), or why the fit failed: "converged" alone would claim more than a converged but
        unidentified fit supports."""
        if self.result is None:
            return self.message or "failed"
        status = self.result.status
        return self.identifiability if status == "converged" else f"{status}; {self.identifiability}"

    def to_dict(self) -> dict:
        cv = self.cv_error if self.cv_error is not None and np.isfinite(self.cv_error) else None
        return {**self.choice.to_dict(), "cv_mean_abs_rel_error": cv, "n_folds": self.n_folds,
                "can_plan": self.choice.can_plan, "status": None if self.result is None else self.result.status,
                "identifiability": self.identifiability, "verdict": self.verdict, "message": self.message}


@dataclass(frozen=True)
class Selection:
    """The comparison table (``candidates``, best first) and the chosen candidate (``best``): the lowest
    cross-validation error among the candidates that can plan (or among all, when asked)."""

    candidates: tuple[Candidate, ...]
    best: Candidate
    reason: str = ""  # why ``best`` was chosen, in words

    @property
    def result(self):
        return self.best.result

    @property
    def calibration(self):
        return self.best.calibration

    def to_dict(self) -> dict:
        return {"chosen": self.best.choice.to_dict(), "reason": self.reason,
                "candidates": [c.to_dict() for c in self.candidates]}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([c.to_dict() for c in self.candidates])


def evaluate(table: RunTable, choice: FitChoice) -> Candidate:
    """Fit ``choice`` on all runs, backtest it below compute cut-offs and calibrate its intervals."""
    from .calibrate import calibration_from_backtests, run_backtests

    table = table.finals()
    with warnings.catch_warnings():  # a candidate's convergence is reported in its row, not as a warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = choice.fit(table)
        except InputError as exc:
            return Candidate(choice, None, 0, None, None, str(exc))
        backtests = run_backtests(table, choice.fit, min_train_runs=max(2 * choice.n_free, choice.n_free + 3))
    calibration = calibration_from_backtests(backtests, result)
    message = "" if backtests.n_folds else "too few runs or too little compute span for a backtest"
    return Candidate(choice, backtests.mean_abs_rel_error(), backtests.n_folds, calibration, result, message,
                     backtests.fold_errors())


def beats_baseline(candidate: Candidate, baseline: Candidate) -> bool:
    """The one-standard-error rule on paired fold errors: ``candidate`` replaces the baseline only when its
    mean improvement over the cut-offs both were scored at exceeds one standard error of that mean
    (at least two shared cut-offs; one fold cannot tell skill from luck)."""
    shared = sorted(set(candidate.fold_errors) & set(baseline.fold_errors))
    d = np.array([candidate.fold_errors[c] - baseline.fold_errors[c] for c in shared])
    if d.size < 2 or not np.all(np.isfinite(d)):
        return False
    return bool(d.mean() + d.std(ddof=1) / np.sqrt(d.size) < 0)


def select_fit(table: RunTable, candidates=CANDIDATES, *, planning_only: bool = True, progress=None) -> Selection:
    """``--form auto``: compute-ordered cross-validation of every candidate; the plain Huber Chinchilla fit
    (``BASELINE``) stays unless an identified candidate that can plan beats it clearly, and then the clear
    winner with the lowest CV error is chosen (an unidentified candidate — stopped at its iteration limit,
    constants on a bound or trading off — is never chosen, however well it happened to backtest).

    "Clearly" is the one-standard-error rule (Breiman et al. 1984, "Classification and Regression Trees",
    §3.4.3; Hastie, Tibshirani & Friedman 2009, "The Elements of Statistical Learning", §7.10) applied to
    the paired differences of fold errors (`beats_baseline`): the minimum of many noisy CV errors from a few
    folds is optimistic (the winner's curse), so the simple, published default stays unless another
    choice's mean improvement over the cut-offs both were scored at exceeds its own fold-to-fold scatter. Candidates without a
    backtest rank last; when none has one, the baseline is chosen. ``progress``: optional callable(n_evaluated).
    """
    evaluated = []
    for choice in candidates:
        evaluated.append(evaluate(table, choice))
        if progress is not None:
            progress(len(evaluated))
    ranked = sorted(evaluated, key=lambda c: (c.cv_error is None or c.result is None,
                                              np.inf if c.cv_error is None else c.cv_error))
    eligible = [c for c in ranked if c.result is not None and c.cv_error is not None
                and c.identifiability != "unidentified" and (c.choice.can_plan or not planning_only)]
    baseline = [c for c in evaluated if c.choice == BASELINE and c.result is not None]
    if eligible and baseline and baseline[0].cv_error is not None:
        best = next((c for c in eligible if c is baseline[0] or beats_baseline(c, baseline[0])), baseline[0])
        if best is not baseline[0]:
            reason = (f"{best.choice.label} beats {BASELINE.label} by more than one standard error of the paired "
                      f"fold errors")
        elif eligible[0] is not best:
            reason = (f"kept {BASELINE.label}: {eligible[0].choice.label} has a lower mean error but does not beat "
                      f"it by more than one standard error of the paired fold errors")
        else:
            reason = f"{BASELINE.label} has the lowest cross-validation error"
    elif eligible:
        best, reason = eligible[0], "the baseline could not be backtested; lowest cross-validation error"
    elif baseline:
        best, reason = baseline[0], "no candidate could be backtested: the plain fit is kept"
    else:
        raise InputError("no candidate form could be fitted to these runs; add runs (see the fit's identifiability)")
    return Selection(tuple(ranked), best, reason)
