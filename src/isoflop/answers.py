"""Answers from a fit carry the loss a run would measure, whichever way they are asked.

A plan, a diagnosis or a frontier computed from a fitted law gets its loss interval from the law's bootstrap
members: parameter uncertainty only. A run trained at that (N, D) would measure a loss that also carries
run-to-run noise and, beyond the runs, the error of extrapolating the form — what `fitting.predict`'s
calibrated interval adds (`fitting.calibrate`). So every answer from a fit — `isoflop.plan` / `diagnose` /
`frontier` in Python and `isoflop plan | diagnose | frontier --fit` on the command line alike — takes its loss
interval from `fitting.predict.predict_loss` where the fit was calibrated on backtests, and always carries that
prediction's warnings (extrapolating far beyond or below the runs, or to tokens per parameter no run tried)
and its distance from the runs. A law without data behind it (a preset) is answered as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InputError
from .fitting.predict import Prediction, predict_loss
from .planning import DEFAULT_PERCENTILES


@dataclass(frozen=True)
class Evidence:
    """What a prediction from a fit needs: the fit (a FitResult or a saved fit), its bootstrap and its
    calibration (either may be None; a saved fit carries its own)."""

    fit: object
    bootstrap: object = None
    calibration: object = None

    def predict(self, n_params, n_tokens, unique_tokens=None, level: float = 0.95) -> Prediction:
        return predict_loss(self.fit, n_params, n_tokens, unique_tokens, bootstrap=self.bootstrap,
                            calibration=self.calibration, level=level)


def evidence_of(obj) -> Evidence | None:
    """The Evidence behind an Analysis, a saved fit, a FitResult or a bootstrap of one; None for a law, a
    preset's name or None (no runs behind it here)."""
    from .analysis import Analysis
    from .fitting.bootstrap import BootstrapResult
    from .fitting.io import SavedFit
    from .fitting.parametric import FitResult

    if isinstance(obj, Analysis):
        if obj.fit is not None:
            return Evidence(obj.fit, obj.bootstrap, obj.calibration)
        return None
    if isinstance(obj, (SavedFit, FitResult)):
        return Evidence(obj)
    if isinstance(obj, BootstrapResult) and obj.fit is not None:
        return Evidence(obj.fit, obj)
    return None


def _merged(warnings, prediction: Prediction) -> tuple[str, ...]:
    """An answer's warnings and then its prediction's, each once (both may say, e.g., how many epochs repeat)."""
    return tuple(dict.fromkeys((*warnings, *prediction.warnings)))


def _with_loss_interval(intervals, prediction: Prediction) -> dict | None:
    """``intervals`` with the loss's replaced by the calibrated prediction interval (unchanged when the fit was
    not calibrated: then the prediction's warning says what the interval leaves out)."""
    if not prediction.calibrated or prediction.interval is None:
        return intervals
    return {**(intervals or {}), "loss": tuple(prediction.interval)}


def level_of(percentiles) -> float:
    """The level of the interval between two percentiles (in percent): (2.5, 97.5) → 0.95, so the loss interval
    from a prediction spans as much as the planners' percentile intervals beside it."""
    low, high = percentiles
    if high - low >= 100:  # the members' extremes exist; a run's loss with noise has no 100% interval
        raise InputError(f"percentiles {tuple(percentiles)} ask for a 100% interval of the loss a run would "
                         f"measure, which is unbounded; give e.g. (2.5, 97.5)")
    return (high - low) / 100


def plan_with_evidence(plan, evidence: Evidence | None, percentiles=DEFAULT_PERCENTILES):
    """A `planning.Plan` whose loss interval and warnings come from the fit's calibrated prediction at the
    planned (N, D[, U]), as wide as ``percentiles``, with ``extrapolation_decades``; unchanged without
    evidence."""
    if evidence is None:
        return plan
    result = plan.result
    prediction = evidence.predict(result.n_params, result.n_tokens, getattr(result, "unique_tokens", None),
                                  level=level_of(percentiles))
    result = replace(result, intervals=_with_loss_interval(result.intervals, prediction))
    return replace(plan, result=result, warnings=_merged(plan.warnings, prediction),
                   extrapolation_decades=prediction.extrapolation_decades,
                   loss_interval_calibrated=prediction.calibrated)


def diagnosis_with_evidence(diagnosis, evidence: Evidence | None, percentiles=DEFAULT_PERCENTILES):
    """A `planning.Diagnosis` whose loss interval and warnings come from the fit's prediction at its (N, D)."""
    if evidence is None:
        return diagnosis
    prediction = evidence.predict(diagnosis.n_params, diagnosis.n_tokens, level=level_of(percentiles))
    return replace(diagnosis, intervals=_with_loss_interval(diagnosis.intervals, prediction),
                   warnings=_merged(diagnosis.warnings, prediction),
                   extrapolation_decades=prediction.extrapolation_decades)


def frontier_with_evidence(frontier, evidence: Evidence | None, percentiles=DEFAULT_PERCENTILES):
    """A `planning.Frontier` whose compute-optimal, data-constrained and inference-aware loss intervals come
    from the fit's prediction at each budget's allocation (as `plan_with_evidence` gives each alone), with the
    predictions' warnings (one per kind of allocation) and each budget's ``extrapolation_decades``."""
    if evidence is None:
        return frontier
    warnings = tuple(frontier.warnings)
    updates, level = {}, level_of(percentiles)
    for name, alloc in (("compute_optimal", frontier.compute_optimal),
                        ("data_constrained", frontier.data_constrained),
                        ("inference_aware", frontier.inference_aware)):
        if alloc is None:
            continue
        prediction = evidence.predict(alloc.n_params, alloc.n_tokens, getattr(alloc, "unique_tokens", None),
                                      level=level)
        updates[name] = replace(alloc, intervals=_with_loss_interval(alloc.intervals, prediction))
        warnings = _merged(warnings, prediction)
        if name == "compute_optimal":  # the same budgets: the data-constrained plans lie as far out
            updates["extrapolation_decades"] = prediction.extrapolation_decades
    return replace(frontier, **updates, warnings=warnings)
