"""Predicted loss with an interval, for any (N, D[, U]) and any law: a preset, a fit, a fit with a bootstrap
ensemble, a calibrated fit, or a saved fit.

The interval is for the loss a run at that configuration would measure (not only for the law's mean): in
log space its half-width is √((z·σ_noise)² + (z·σ_params)² + (q·Δ)²), see `calibrate.Calibration`:
run-to-run noise (the fit's robust residual SD), parameter uncertainty (σ_params: half the bootstrap members'
percentile interval of log predictions over z, i.e. the SD a normal spread with that interval has; Efron &
Tibshirani 1993, ch. 13) and the error of extrapolating the form, q per decade beyond the largest fitted run,
measured by compute-ordered backtests on the user's runs. Without a calibration the form term is missing
and the prediction says so (``calibrated`` is False, and a warning when it extrapolates). A preset has no
data behind it here, so it gets no interval and no extrapolation distance.
"""

from __future__ import annotations

from dataclasses import dataclass

from statistics import NormalDist

import numpy as np

from ..errors import InputError
from ..io_utils import strict_json as _plain  # NumPy values → plain JSON; non-finite → None
from ..laws import FLOPS_PER_PARAM_TOKEN, LawEnsemble, count_members, with_repetition
from ..planning import ENSEMBLE_CELLS, check_n_params
from ..presets import convention_warnings, repetition_warnings, warnings_for
from ..units import (as_count, as_positive, check_broadcast, format_loss, format_number, format_quantity,
                     is_number)
from .bootstrap import few_resamples
from .calibrate import COMPUTE_ONLY_KINDS, Calibration, law_loss, robust_sigma
from .parametric import FitResult

WARN_DECADES = 1.0  # extrapolating further than this beyond the largest run is flagged
# Tokens per parameter further than this factor outside the fitted runs' range is flagged: the backtests that
# calibrate the interval extrapolate in compute along the runs' own D/N, so they say nothing about a shape of
# the law (e.g. 0.01 or 10,000 tokens per parameter) that no run probed.
WARN_TOKENS_PER_PARAM_FACTOR = 2.0
# A data-constrained fit's R_D*, R_N* carried past this factor × the most epochs any fitted run repeated
WARN_EPOCHS_FACTOR = 2.0


@dataclass(frozen=True)
class Prediction:
    """``loss`` (nats per token) at (``n_params``, ``n_tokens``[, ``unique_tokens``]) with its ``interval`` (low,
    high) at ``level`` (None for a preset, which carries no uncertainty), ``extrapolation_decades`` = log10(C / largest
    fitted C) (None without data; negative inside the data), and ``warnings`` past WARN_DECADES, when the
    interval is not calibrated for extrapolation, or outside a preset's stated range (``warning``: them in one
    line). Fields may be arrays (one per configuration asked)."""

    n_params: float
    n_tokens: float
    flops: float
    loss: float
    interval: tuple | None
    level: float
    extrapolation_decades: float | None
    calibrated: bool
    law: str
    unique_tokens: float | None = None
    sigma: dict | None = None  # {"noise", "params", "form"}: log-loss components of the half-width
    warnings: tuple[str, ...] = ()
    fitted_tokens_per_param: tuple | None = None  # (lowest, highest) D/N of the fitted runs, when known

    @property
    def warning(self) -> str | None:
        return "; ".join(self.warnings) or None

    def to_dict(self) -> dict:
        return {"n_params": _plain(self.n_params), "n_tokens": _plain(self.n_tokens), "flops": _plain(self.flops),
                "unique_tokens": None if self.unique_tokens is None else _plain(self.unique_tokens),
                "loss": _plain(self.loss), "level": self.level,
                "extrapolation_decades": (None if self.extrapolation_decades is None
                                          else _plain(self.extrapolation_decades)),
                "calibrated": self.calibrated, "law": self.law,
                "sigma": None if self.sigma is None else {k: _plain(v) for k, v in self.sigma.items()},
                "fitted_tokens_per_param": _plain(self.fitted_tokens_per_param),
                # as every other answer's JSON (plan, diagnose, `isoflop loss --json`): intervals by field, a list
                "intervals": {} if self.interval is None else {"loss": [_plain(self.interval[0]),
                                                                        _plain(self.interval[1])]},
                "warnings": list(self.warnings)}


def _evaluate(law, n_params, n_tokens, flops, unique_tokens):
    if unique_tokens is not None and law.kind in ("chinchilla", "kaplan", "kaplan-irreducible"):
        law = with_repetition(law)  # Muennighoff et al. 2023's C4 repetition constants, named in law.name
    with np.errstate(all="ignore"):
        return law_loss(law, n_params, n_tokens, flops, unique_tokens), law.name


def check_asked(n_params, n_tokens) -> None:
    """A configuration a user asks about is a model a run could have: the planners' floor on its size
    (`planning.check_n_params`) and at least one token. Answers derived inside isoflop — a plan's loss, even of
    an unidentified fit's absurd plan — are not held to it."""
    check_n_params(n_params)
    d = as_positive("n_tokens", n_tokens)
    if np.any(d < 1):
        raise InputError(f"n_tokens {np.min(d):.3g} is below one token; check the units")


def predict_loss(source, n_params, n_tokens, unique_tokens=None, *, bootstrap=None, calibration=None,
                 level: float = 0.95, warn_decades: float = WARN_DECADES) -> Prediction:
    """The loss ``source`` predicts at (``n_params``, ``n_tokens``[, ``unique_tokens``]), with an interval.

    ``source``: a law (preset), a LawEnsemble (interval from its members), a FitResult (noise from its
    residuals, distance from its runs) or a `io.SavedFit` (all it saved). ``bootstrap``: a BootstrapResult
    of the fit; ``calibration``: a `calibrate.Calibration` (from ``calibrate`` or ``select.select_fit``).
    """
    from .io import SavedFit

    if not is_number(level) or not 0 < level < 1:
        raise InputError(f"level must be a fraction in (0, 1), got {level!r}")
    n, d = as_positive("n_params", n_params), as_positive("n_tokens", n_tokens)
    unique_tokens = None if unique_tokens is None else as_count("unique_tokens (--unique-tokens)", unique_tokens)
    check_broadcast(n_params=n, n_tokens=d, unique_tokens=unique_tokens)
    with np.errstate(over="ignore"):
        flops = FLOPS_PER_PARAM_TOKEN * n * d
    if not np.all(np.isfinite(flops)):
        raise InputError(f"6·n_params·n_tokens overflows a float (up to {np.max(n):.3g} params × "
                         f"{np.max(d):.3g} tokens); give sizes a run could have")
    members, max_flops, min_flops, noise, dn_range, notes = None, None, None, None, None, []
    epochs_range = None  # a data-constrained fit's runs' epochs: its R_D*, R_N* were fitted only there
    if isinstance(source, SavedFit):
        law, members, calibration = source.law, source.members, calibration or source.calibration
        max_flops, noise, dn_range = source.max_flops, source.noise_sigma, source.tokens_per_param_range
        min_flops, epochs_range = source.min_flops, source.epochs_range
        boot = source.report.get("bootstrap") or {}
        if boot.get("n_resamples"):  # the warning its bootstrap gave when fitted
            notes += few_resamples(int(boot["n_resamples"]), int(boot.get("n_converged", 0)),
                                   float(boot.get("level", 0.95)))
    elif isinstance(source, FitResult):
        law = source.law
        data = source.data
        if data is not None:
            max_flops, min_flops = float(np.max(data.compute)), float(np.min(data.compute))
            dn_range, epochs_range = data.tokens_per_param_range(), data.epochs_range()
        noise = robust_sigma(source.residuals)
    elif isinstance(source, LawEnsemble):
        law, members = source.point, source.members
    else:
        law = source
    notes += warnings_for(law, flops=flops, n_params=n, n_tokens=d, unique_tokens=unique_tokens)  # a preset's range
    notes += repetition_warnings(law, d, unique_tokens) + convention_warnings(law)
    notes += _sub_epoch_warnings(law, n, d, unique_tokens)
    if bootstrap is not None:
        members = bootstrap.ensemble.members
        notes += bootstrap.warnings  # too few resamples for its percentile ends
    if calibration is not None:
        max_flops, noise = calibration.max_flops, calibration.noise_sigma

    loss, name = _evaluate(law, n, d, flops, unique_tokens)
    distance = None if max_flops is None else np.log10(flops / max_flops)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    params_sigma = 0.0
    if members is not None:  # (K, 1) constants against the configurations flattened, then their shape back
        shape = np.broadcast_shapes(np.shape(loss), np.shape(n), np.shape(d))
        flat = [None if x is None else np.ravel(np.broadcast_to(x, shape)) for x in (n, d, flops, unique_tokens)]
        size = flat[0].size
        block = max(1, ENSEMBLE_CELLS // count_members(members))  # memory bounded
        tail = 50 * (1 - level)  # a few wild members (a break past the data) then cannot blow it up
        spread = []
        for start in range(0, size, block):
            part = [None if x is None else x[start:start + block] for x in flat]
            member_loss, _ = _evaluate(members, *part)
            with np.errstate(all="ignore"):  # the SD a normal would need to give the members' percentile interval
                lo, hi = np.nanpercentile(np.log(np.asarray(member_loss, float)), [tail, 100 - tail], axis=0)
            spread.append((hi - lo) / (2 * z))
        params_sigma = np.reshape(np.concatenate(spread), shape)
    interval, sigma, calibrated = None, None, False
    if noise is not None or members is not None:
        noise = 0.0 if noise is None else noise
        if isinstance(calibration, Calibration) and calibration.calibrated:
            half = calibration.half_width(0.0 if distance is None else distance, level, params_sigma)
            calibrated = True
            form_sigma = (calibration.error_per_decade(level) or 0.0) * np.maximum(distance, 0.0) / z
        else:
            half = z * np.sqrt(noise**2 + np.asarray(params_sigma) ** 2)
            form_sigma = 0.0
        shape = np.shape(loss)  # the calibration's half-width may come back (1,)-shaped for one configuration
        interval = (np.reshape(loss * np.exp(-half), shape), np.reshape(loss * np.exp(half), shape))
        if shape == ():  # one configuration: plain numbers, as the loss is
            interval = (float(interval[0]), float(interval[1]))
        sigma = {"noise": noise, "params": params_sigma, "form": form_sigma}
    if distance is not None and np.any(distance > warn_decades):
        notes.append(f"extrapolates {np.max(distance):.3g} decades of compute beyond the largest fitted run "
                     f"(> {warn_decades:g}): trust the interval, not the point")
    if min_flops is not None:
        below = np.log10(min_flops / flops)
        if np.any(below > warn_decades):
            notes.append(f"lies {np.max(below):.3g} decades of compute below the smallest fitted run (> "
                         f"{warn_decades:g}): the law was not fitted there, and no backtest measured its error")
    if dn_range is not None and law.kind not in COMPUTE_ONLY_KINDS:
        ratio = np.ravel(d / n)
        lo, hi = dn_range[0] / WARN_TOKENS_PER_PARAM_FACTOR, dn_range[1] * WARN_TOKENS_PER_PARAM_FACTOR
        outside = (ratio < lo) | (ratio > hi)
        if np.any(outside):
            notes.append(f"{_fmt_ratio(ratio[outside])} outside the fitted runs' {dn_range[0]:.3g}–{dn_range[1]:.3g} "
                         f"tokens per parameter (by more than a factor {WARN_TOKENS_PER_PARAM_FACTOR:g}): no run "
                         f"tested the law's shape there, and the interval does not account for it")
    if epochs_range is not None and unique_tokens is not None and law.kind == "data-constrained":
        epochs = np.ravel(d / unique_tokens)
        beyond = epochs > epochs_range[1] * WARN_EPOCHS_FACTOR
        if np.any(beyond):
            notes.append(f"{format_number(np.max(epochs[beyond]), 3)} epochs lie beyond the fitted runs' most, "
                         f"{format_number(epochs_range[1], 3)} (by more than a factor "
                         f"{WARN_EPOCHS_FACTOR:g}): R_D* and R_N* were fitted on no run repeated that "
                         f"often, and the interval does not account for it")
    if interval is not None and _base_held_fixed(source, law, members):
        notes.append("the base law was held fixed, not fitted to these runs: the interval leaves out its "
                     "uncertainty, so a plan that repeats no data carries none from the fit (fit the base too: "
                     "`isoflop fit --form data-constrained --base fit`)")
    if interval is not None and not calibrated:
        missing = []  # without members σ_params is 0: the interval was said to cover it regardless
        if members is None:
            missing.append("the uncertainty of the fitted constants (no bootstrap: `isoflop fit --bootstrap 200`)")
        if distance is not None and np.any(distance > 0):
            missing.append("the error of extrapolating the form (no backtest calibrated it: `isoflop fit --save` "
                           "and `isoflop.analyse` calibrate plain fits of enough runs)")
        if missing:
            notes.append(f"the interval covers {'noise' if members is None else 'noise and parameter uncertainty'} "
                         f"only, not {' nor '.join(missing)}")
    if interval is not None:
        interval = (_number(interval[0]), _number(interval[1]))
    return Prediction(n_params=_number(n), n_tokens=_number(d), flops=_number(flops), loss=_number(loss),
                      interval=interval, level=level, extrapolation_decades=_number(distance), calibrated=calibrated,
                      law=name,
                      unique_tokens=unique_tokens,
                      sigma=sigma, warnings=tuple(dict.fromkeys(notes)), fitted_tokens_per_param=dn_range)


def _sub_epoch_warnings(law, n_params, n_tokens, unique_tokens) -> tuple[str, ...]:
    """A line when fewer tokens are trained than the pool holds and that changes the loss: Muennighoff et al.'s
    law is stated for data repeated at least once (their code requires unique ≤ trained tokens). isoflop counts
    a model's excess parameters against the whole pool (``DataConstrainedLaw``: unlimited data is then the base
    law), so the loss of one run moved with the size of data it never saw (5e9 tokens on 1e10 parameters: 2.729
    nats on a 5e9-token pool, 2.592 on 1e11). The line gives the other reading's loss: the tokens seen as the pool."""
    if unique_tokens is None or law.kind not in ("data-constrained", "chinchilla", "kaplan", "kaplan-irreducible"):
        return ()
    law = with_repetition(law)
    n, d, u = np.broadcast_arrays(np.asarray(n_params, float), np.asarray(n_tokens, float),
                                  np.asarray(unique_tokens, float))
    ours, seen = law.loss(n, d, u), law.loss(n, d, np.minimum(d, u))
    gap = np.abs(seen - ours)
    if not np.any(gap > 1e-4 * ours):
        return ()
    i = np.unravel_index(np.argmax(gap), gap.shape)
    return (f"{law.name}: {format_quantity(d[i])} tokens are less than one epoch of the {format_quantity(u[i])}-token "
            f"pool, where the repetition law is not stated (Muennighoff et al. fit repeated data only); isoflop "
            f"counts the model's excess parameters against the whole pool (so that unlimited data gives the base "
            f"law), and counted against the {format_quantity(d[i])} tokens seen the loss is {format_loss(seen[i])}",)


def _number(x):
    """One number asked, a Python float back, as the planners give (a notebook showed n_params=array(6.34e9));
    arrays stay arrays."""
    return float(x) if x is not None and np.ndim(x) == 0 else x


def _base_held_fixed(source, law, members) -> bool:
    """Whether a data-constrained fit held its base law fixed (`fitting.repetition`): its bootstrap members then
    share the base's constants, and a fit result has only log R_D*, log R_N* free."""
    if law.kind != "data-constrained":
        return False
    if members is not None:
        return bool(np.ptp(np.ravel(members.base.E)) == 0 and np.ptp(np.ravel(members.base.A)) == 0)
    return isinstance(source, FitResult) and source.theta_ is not None and np.size(source.theta_) == 2


def _fmt_ratio(ratio: np.ndarray) -> str:
    if ratio.size == 1:
        return f"D/N = {ratio[0]:.3g} lies"
    return f"{ratio.size} configurations' D/N ({np.min(ratio):.3g}–{np.max(ratio):.3g}) lie"
