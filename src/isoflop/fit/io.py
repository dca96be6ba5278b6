"""Saving and loading fits as JSON, so `isoflop plan --fit FIT.json` can plan with a fitted law and its ensemble.

Layout: {"law": form, "params": {...}, "param_convention": ..., "ensemble": {name: [K values]} (optional), ...}.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io_utils import atomic_write_json
from ..laws import ChinchillaLaw, KaplanLaw, LawEnsemble, LossVsComputeLaw
from .parametric import law_params

_CLASSES = {"chinchilla": ChinchillaLaw, "chinchilla-tied": ChinchillaLaw, "kaplan": KaplanLaw,
            "loss-vs-compute": LossVsComputeLaw}


def save_fit(path: str | Path, report: dict, law=None) -> Path:
    """Write a fit report (``FitResult.to_dict()`` plus extras) and, when ``law`` is a LawEnsemble, its members,
    atomically (``isoflop.io_utils.atomic_write_json``: a reader never sees half a file; non-finite floats are
    written as null; an unwritable path is an InputError naming it)."""
    path = Path(path)
    saved = dict(report, name=path.stem)
    if isinstance(law, LawEnsemble):
        members = law_params(law.members)
        saved["ensemble"] = {k: np.ravel(members[k]).tolist() for k in report["params"]}
    return atomic_write_json(path, saved, indent=None)  # OSError → InputError naming the path


def law_from_params(form: str, params: dict, name: str = "fit", param_convention: str = "total"):
    cls = _CLASSES[form]
    extra = {} if cls is LossVsComputeLaw else {"param_convention": param_convention}
    return cls(**params, name=name, **extra)


def load_fit(path: str | Path):
    """A saved fit → its law, or a LawEnsemble when it carries bootstrap members."""
    return read_fit(path)[0]


def is_saved_fit(path: str | Path) -> bool:
    """Whether ``path`` is a JSON document with a fitted law's form and constants."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".json":
        return False
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "law" in data and "params" in data


def read_fit(path: str | Path):
    """A saved fit → (its law or LawEnsemble, the saved document)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        form, params = data["law"], data["params"]
        if form not in _CLASSES:
            raise KeyError(form)
    except FileNotFoundError:
        raise InputError(f"{path}: no such fit file") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a fit saved by `isoflop fit --save` ({exc})") from None
    name = data.get("name", path.stem)
    convention = data.get("param_convention") or "total"
    point = law_from_params(form, params, name, convention)
    if not data.get("ensemble"):
        return point, data
    members = {k: np.asarray(v, float)[:, None] for k, v in data["ensemble"].items() if k in params}
    return LawEnsemble(point=point, members=law_from_params(form, members, name, convention)), data
