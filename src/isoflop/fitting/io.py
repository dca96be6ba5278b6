"""Saving and loading fits as JSON, so `isoflop plan --fit FIT.json` and `isoflop loss --fit FIT.json` can use a
fitted law, its bootstrap ensemble, its identifiability verdict and its extrapolation calibration.

Layout (format "isoflop-fit", version 2; version-1 files, without "format", still load):
{"format": "isoflop-fit", "version": 2, "law": form, "params": {...}, "param_convention": ...,
 "ensemble": {name: [K values]} (optional), "identifiability": {...}, "calibration": {...} (optional),
 "max_flops" / "min_flops": largest / smallest fitted run (min_flops optional), "noise_sigma": robust SD of
 the log residuals,
 "tokens_per_param_range": [lowest, highest] D/N of the fitted runs (optional), "epochs_range": [lowest,
 highest] D/U of a data-constrained fit's runs (optional), ... the fit report}.
Every value read back is checked: a missing or non-numeric constant, or an impossible one (α + β = 0,
negative coefficients), raises InputError naming the file and the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io_utils import atomic_write_json
from ..laws import (BrokenPowerLaw, ChinchillaLaw, DataConstrainedLaw, KaplanIrreducibleLaw, KaplanLaw,
                    LawEnsemble, LossVsComputeLaw)
from .calibrate import Calibration, robust_sigma
from .identify import LEVELS, Identifiability
from .parametric import law_params

FORMAT, VERSION = "isoflop-fit", 2
_CLASSES = {"chinchilla": ChinchillaLaw, "chinchilla-tied": ChinchillaLaw, "kaplan": KaplanLaw,
            "loss-vs-compute": LossVsComputeLaw, "kaplan-irreducible": KaplanIrreducibleLaw,
            "broken-power-law": BrokenPowerLaw}
# Constants per form; "positive" ones must be > 0, the rest ≥ 0 (c1 of the broken power law may be negative).
_KEYS = {"chinchilla": ("E", "A", "B", "alpha", "beta"), "kaplan": ("n_c", "alpha_n", "d_c", "alpha_d"),
         "loss-vs-compute": ("E", "C0", "gamma"), "kaplan-irreducible": ("E", "n_c", "alpha_n", "d_c", "alpha_d"),
         "broken-power-law": ("E", "b", "c0", "c1", "d1", "f1"),
         "data-constrained": ("E", "A", "B", "alpha", "beta", "rd_star", "rn_star")}
_KEYS["chinchilla-tied"] = _KEYS["chinchilla"]
_POSITIVE = {"A", "B", "alpha", "beta", "n_c", "alpha_n", "d_c", "alpha_d", "C0", "gamma", "b", "d1", "f1",
             "rd_star", "rn_star", "max_flops", "min_flops"}  # a run's FLOPs: 0 gave an interval [0, inf]
_SIGNED = {"c1"}


def check_fit_path(path: str | Path, option: str = "path") -> Path:
    """A saved fit's file name must end in .json: `isoflop report` and `is_saved_fit` tell a saved fit from a
    runs table by it (a fit saved as f.txt was written, then read back as a table of runs)."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise InputError(f"{option} {path}: a fit is saved as JSON; give a name ending in .json, e.g. "
                         f"{path.with_suffix('.json').name}")
    return path


def save_fit(path: str | Path, report: dict, law=None) -> Path:
    """Write a fit report (``FitResult.to_dict()`` plus extras) and, when ``law`` is a LawEnsemble, its members,
    atomically (``isoflop.io_utils.atomic_write_json``: a reader never sees half a file; non-finite floats are
    written as null; an unwritable path is an InputError naming it)."""
    path = check_fit_path(path)
    saved = dict(report, name=path.stem)
    if isinstance(law, LawEnsemble):
        members = {k: np.ravel(v) for k, v in law_params(law.members).items()}
        # A constant the members share (a repetition fit's base law, held fixed) is stored once per member too.
        k_members = max(v.size for v in members.values())
        saved["ensemble"] = {k: np.broadcast_to(members[k], (k_members,)).tolist() for k in report["params"]}
    return atomic_write_json(path, saved, indent=None)  # OSError → InputError naming the path


def save_fit_result(path: str | Path, result, bootstrap=None, calibration: Calibration | None = None,
                    extra: dict | None = None) -> Path:
    """Save a FitResult with what `predict_loss` and planning need: its bootstrap members, identifiability
    (with the bootstrap's evidence) and calibration, in format version 2. ``extra``: more report keys."""
    from .identify import _with_bootstrap

    data = result.data
    dn_range, epochs = data.tokens_per_param_range(), data.epochs_range()
    report = dict(result.to_dict(), format=FORMAT, version=VERSION, max_flops=float(np.max(data.compute)),
                  min_flops=float(np.min(data.compute)),
                  noise_sigma=robust_sigma(result.residuals),
                  tokens_per_param_range=None if dn_range is None else list(dn_range),
                  epochs_range=None if epochs is None else list(epochs),
                  identifiability=(result.identifiability if bootstrap is None
                                   else _with_bootstrap(result, bootstrap)).to_dict(),
                  calibration=None if calibration is None else calibration.to_dict(), **(extra or {}))
    if result.law.kind == "data-constrained":
        report["params"] = {**law_params(result.law.base), "rd_star": result.law.rd_star,
                            "rn_star": result.law.rn_star}
    if bootstrap is not None:
        report["bootstrap"] = {k: v for k, v in bootstrap.to_dict().items() if k != "intervals"}
        report["intervals"] = bootstrap.to_dict()["intervals"]
    return save_fit(path, report, None if bootstrap is None else bootstrap.ensemble)


def _number(path, key, value, signed=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{path}: {key} must be a finite number, got {value!r}")
    if signed:
        return float(value)
    positive = key.split(".")[-1].split("[")[0] in _POSITIVE
    if value < 0 or (value == 0 and positive):
        raise InputError(f"{path}: {key} = {value!r} is impossible (must be {'> 0' if positive else '≥ 0'})")
    return float(value)


def _whole(path, key, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{path}: {key} must be a whole number ≥ 0, got {value!r}")
    return value


def _checked_params(path, form, params, prefix="params"):
    if not isinstance(params, dict):
        raise InputError(f"{path}: {prefix} must be an object of constants, got {type(params).__name__}")
    out = {}
    for key in _KEYS[form]:
        if key not in params:
            raise InputError(f"{path}: {prefix}.{key} is missing (a {form} law needs {', '.join(_KEYS[form])})")
        value = params[key]
        if isinstance(value, list):
            out[key] = np.array([_number(path, f"{prefix}.{key}[{i}]", v, key in _SIGNED) for i, v in enumerate(value)])
        else:
            out[key] = _number(path, f"{prefix}.{key}", value, key in _SIGNED)
    return out


def law_from_params(form: str, params: dict, name: str = "fit", param_convention: str = "total"):
    if form == "data-constrained":
        base = {k: params[k] for k in _KEYS["chinchilla"]}
        return DataConstrainedLaw(base=ChinchillaLaw(**base, name=name, param_convention=param_convention),
                                  rd_star=params["rd_star"], rn_star=params["rn_star"], name=name)
    cls = _CLASSES[form]
    extra = {} if cls in (LossVsComputeLaw, BrokenPowerLaw) else {"param_convention": param_convention}
    return cls(**{k: params[k] for k in _KEYS[form]}, name=name, **extra)


@dataclass(frozen=True)
class SavedFit:
    """A fit read back: the point ``law``, bootstrap ``members`` (a law with (K, 1) constants, or None), the
    ``identifiability`` verdict and ``calibration`` when saved, and the data's ``max_flops`` / ``min_flops`` /
    ``noise_sigma`` / ``tokens_per_param_range`` (None where the file does not say)."""

    law: object
    members: object | None = field(repr=False)  # (K, 1) constants: too long for a notebook repr
    identifiability: Identifiability | None
    calibration: Calibration | None
    max_flops: float | None
    noise_sigma: float | None
    report: dict = field(repr=False)  # the whole JSON file
    tokens_per_param_range: tuple[float, float] | None = None
    min_flops: float | None = None  # the smallest fitted run (files before 0.2 do not say)
    epochs_range: tuple[float, float] | None = None  # a data-constrained fit's runs' fewest and most epochs

    @property
    def ensemble(self):
        return None if self.members is None else LawEnsemble(point=self.law, members=self.members)

    @property
    def planning_law(self):
        """The ensemble when there is one (planners give intervals), else the point law."""
        return self.ensemble if self.members is not None else self.law


def _range(path, data: dict, key: str) -> tuple[float, float] | None:
    """An optional [lowest, highest] pair of positive numbers in order, or InputError naming the file and key."""
    pair = data.get(key)
    if pair is None:
        return None
    if not isinstance(pair, list) or len(pair) != 2:
        raise InputError(f"{path}: {key} must be [lowest, highest], got {pair!r}")
    pair = tuple(_number(path, key, x) for x in pair)
    if not 0 < pair[0] <= pair[1]:
        raise InputError(f"{path}: {key} must be positive and ordered, got {list(pair)}")
    return pair


def load_saved_fit(path: str | Path) -> SavedFit:
    """Read a saved fit, checking every key; see the module docstring for the layout."""
    if not isinstance(path, (str, Path)):
        raise InputError(f"a fit file is a path (str or pathlib.Path), got {type(path).__name__} {path!r:.40}")
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such fit file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the fit ({exc.strerror or exc}); give the path of a fit.json") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON ({exc}); save a fit with `isoflop fit --save`") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a fit saved by `isoflop fit --save` (top level is not an object)")
    version = data.get("version", 1)
    if data.get("format", FORMAT) != FORMAT or version not in (1, VERSION):
        raise InputError(f"{path}: format {data.get('format')!r} version {version!r} is not one this isoflop reads "
                         f"({FORMAT} 1–{VERSION})")
    form = data.get("law")
    if form not in _KEYS:
        raise InputError(f"{path}: law {form!r} is not a known form; expected one of {', '.join(_KEYS)}")
    params = _checked_params(path, form, data.get("params"))
    if form.startswith("chinchilla") and params["alpha"] + params["beta"] == 0:
        raise InputError(f"{path}: params.alpha + params.beta = 0 (no compute-optimal frontier)")
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise InputError(f"{path}: name must be a string, got {name!r}")
    convention = data.get("param_convention") or "total"
    if not isinstance(convention, str):
        raise InputError(f"{path}: param_convention must be a string, got {convention!r}")
    try:
        law = law_from_params(form, params, name, convention)
    except InputError as exc:  # an unknown param_convention: the law's own message, with the file named
        raise InputError(f"{path}: {exc}") from None
    members = None
    for key in ("ensemble", "identifiability", "calibration", "bootstrap"):  # an object or absent; anything else
        if data.get(key) is not None and not isinstance(data[key], dict):   # was dropped (or crashed) unsaid
            raise InputError(f"{path}: {key} must be an object, got {type(data[key]).__name__}; save the fit again "
                             f"with `isoflop fit --save`")
    for key in ("n_resamples", "n_converged"):  # read by the few-resamples warning of every prediction
        if (data.get("bootstrap") or {}).get(key) is not None:
            _whole(path, f"bootstrap.{key}", data["bootstrap"][key])
    if data.get("ensemble"):
        ens = _checked_params(path, form, {k: v for k, v in data["ensemble"].items()}, "ensemble")
        sizes = {np.size(v) for v in ens.values()} - {1}  # a shared constant (one value) fits any length
        if len(sizes) > 1 or any(np.ndim(v) != 1 for v in ens.values()):
            raise InputError(f"{path}: ensemble members must be equal-length lists per constant")
        k_members = sizes.pop() if sizes else 1
        members = law_from_params(form, {k: np.broadcast_to(np.asarray(v, float), (k_members,))[:, None]
                                         for k, v in ens.items()}, name, convention)
    verdict = None
    if isinstance(data.get("identifiability"), dict):
        v = data["identifiability"]
        if v.get("level") not in LEVELS:
            raise InputError(f"{path}: identifiability.level must be one of {', '.join(LEVELS)}, got "
                             f"{v.get('level')!r}; save the fit again with `isoflop fit --save`")
        try:
            verdict = Identifiability(level=v["level"], reasons=tuple(v["reasons"]), suggestions=tuple(v["suggestions"]),
                                      suggested_flops=tuple(v["suggested_flops"]),
                                      suggested_n_params=tuple(v["suggested_n_params"]),
                                      span_decades=dict(v["span_decades"]), n_points=int(v["n_points"]),
                                      n_free=int(v["n_free"]), condition_number=v.get("condition_number"),
                                      fraction_converged=v.get("fraction_converged"),
                                      unpinned=tuple(str(k) for k in v.get("unpinned") or ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: identifiability is malformed (key {exc})") from None
    calibration = None
    if isinstance(data.get("calibration"), dict):
        c = data["calibration"]
        scores = c.get("scores")
        if not isinstance(scores, list):
            raise InputError(f"{path}: calibration.scores must be a list of numbers")
        calibration = Calibration(noise_sigma=_number(path, "calibration.noise_sigma", c.get("noise_sigma")),
                                  scores=tuple(_number(path, "calibration.scores", s) for s in scores),
                                  max_flops=_number(path, "calibration.max_flops", c.get("max_flops")),
                                  n_folds=_whole(path, "calibration.n_folds", c.get("n_folds", 0)),
                                  cv_mean_abs_rel_error=c.get("cv_mean_abs_rel_error"))
    max_flops, min_flops = data.get("max_flops"), data.get("min_flops")
    noise = data.get("noise_sigma")
    dn_range, epochs = _range(path, data, "tokens_per_param_range"), _range(path, data, "epochs_range")
    if max_flops is not None and min_flops is not None and _number(path, "min_flops", min_flops) > _number(
            path, "max_flops", max_flops):
        raise InputError(f"{path}: min_flops {min_flops!r} exceeds max_flops {max_flops!r}; save the fit again with "
                         f"`isoflop fit --save`")
    return SavedFit(law=law, members=members, identifiability=verdict, calibration=calibration,
                    max_flops=None if max_flops is None else _number(path, "max_flops", max_flops),
                    noise_sigma=None if noise is None else _number(path, "noise_sigma", noise), report=data,
                    tokens_per_param_range=dn_range, epochs_range=epochs,
                    min_flops=None if min_flops is None else _number(path, "min_flops", min_flops))


def load_fit(path: str | Path):
    """A saved fit → its law, or a LawEnsemble when it carries bootstrap members."""
    return load_saved_fit(path).planning_law


def is_saved_fit(path: str | Path) -> bool:
    """Whether ``path`` is a JSON document with a fitted law's form and constants."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "law" in data and "params" in data
