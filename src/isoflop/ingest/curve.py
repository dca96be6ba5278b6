"""One training curve as a log records it, and the choice of which logged key is the loss.

Which key is the loss, by default: the first of ``LOSS_KEYS`` that a run logged. Held-out (evaluation)
losses come first because they are what scaling laws are fitted to (Hoffmann et al. 2022 and Porian et
al. 2024 report validation loss): they are measured on one fixed model, whereas a logged training loss is
usually the mean over the last logging interval, taken while the model changed, and is biased wherever
data repeat. Training losses follow, for logs that have nothing else. Name any other key with
``loss_key`` (``--loss-key``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError

# Order matters: the first key a run logged wins. Evaluation keys of HF, Lightning, nanoGPT-style and
# Megatron logs, then their training keys ("train_loss" after "loss": HF's last log entry holds a
# "train_loss" that is the mean over the whole run).
EVAL_LOSS_KEYS = ("eval/loss", "eval_loss", "val/loss", "val_loss", "validation/loss", "validation_loss",
                  "valid/loss", "valid_loss", "loss/val", "loss/eval", "loss/validation", "lm loss validation")
TRAIN_LOSS_KEYS = ("train/loss", "loss", "train_loss", "loss/train", "training/loss", "training_loss", "lm loss")
LOSS_KEYS = EVAL_LOSS_KEYS + TRAIN_LOSS_KEYS
# The optimizer step: HF's W&B callback logs train/global_step, while W&B's own _step counts log calls.
STEP_KEYS = ("step", "global_step", "train/global_step", "trainer/global_step", "_step", "Step", "iteration", "iter")
# Tokens seen so far, where a log records them (used when tokens per step are not stated).
TOKEN_KEYS = ("n_tokens", "tokens", "tokens_seen", "num_input_tokens_seen", "train/num_input_tokens_seen",
              "train/tokens")


@dataclass(frozen=True, eq=False)
class Curve:
    """One run's logged loss against optimizer step, before units are attached.

    ``n_tokens``: tokens seen at each point where the log records them; ``n_params``, ``planned_steps``
    (the learning-rate schedule's length, e.g. HF's ``max_steps``) and ``planned_tokens`` where the source
    states them. ``truncated``: the log lost its end (a cut or corrupt file), so its last point is not the
    run's final loss; ``damage``: corrupt or cut parts of the log (reported as warnings, and as a
    `CorruptLogWarning` by `isoflop.ingest.ingest`); ``notes``: what else the reader skipped or replaced.
    """

    run_id: str
    step: np.ndarray
    loss: np.ndarray
    loss_key: str
    source: str
    n_tokens: np.ndarray | None = None
    n_params: float | None = None
    planned_steps: float | None = None
    planned_tokens: float | None = None
    truncated: bool = False
    notes: tuple[str, ...] = ()
    damage: tuple[str, ...] = ()

    def with_notes(self, notes=(), damage=()) -> "Curve":
        return replace(self, notes=self.notes + tuple(notes), damage=self.damage + tuple(damage))


def choose_key(available, wanted: str | None, defaults, source: str, what: str = "loss key",
               option: str = "--loss-key", required: bool = True) -> str | None:
    """``wanted`` if the source has it, else the first default it has; InputError naming the source otherwise.

    ``what`` names the kind of key in messages ("loss key", "step column", "loss scalar tag", …).
    """
    available = [str(k) for k in available]
    if wanted is not None:
        if wanted in available:
            return wanted
        raise InputError(f"{source}: no {what} {wanted!r}; it has {_listing(available)}")
    for key in defaults:
        if key in available:
            return key
    if not required:
        return None
    raise InputError(f"{source}: none of the usual {what}s ({', '.join(map(repr, defaults[:4]))}, …) is there; "
                     f"it has {_listing(available)} — name it with {option}")


def _listing(keys, limit: int = 12) -> str:
    keys = list(keys)
    if not keys:
        return "no keys at all"
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def tokens_at(steps, known_steps, known_tokens) -> np.ndarray:
    """Tokens seen at ``steps`` from the steps where a log recorded them: linear interpolation from
    (0, 0) through the known points (exact for a constant batch, and follows a batch-size ramp), and past
    the last known step the last known tokens-per-step ratio."""
    steps = np.asarray(steps, float)
    s = np.concatenate([[0.0], np.asarray(known_steps, float)])
    t = np.concatenate([[0.0], np.asarray(known_tokens, float)])
    order = np.argsort(s, kind="stable")
    s, t = s[order], t[order]
    out = np.interp(steps, s, t)
    beyond = steps > s[-1]
    if s[-1] > 0:
        out[beyond] = steps[beyond] * t[-1] / s[-1]
    return out


def numeric(values, source: str, key: str, rows=None) -> np.ndarray:
    """Floats from a logged column; text that is not a number is an InputError naming the row and key.

    Missing values (None, NaN, empty) become NaN: sparse logs leave most keys empty in most rows.
    """
    import pandas as pd

    series = pd.Series(values)
    booleans = series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    if booleans.any():  # True is not a loss of 1.0
        i = int(np.flatnonzero(booleans)[0])
        row = i + 1 if rows is None else rows[i]
        raise InputError(f"{source}: row {row}, key {key!r}: {series.iloc[i]!r} is a boolean, not a number")
    if series.dtype == object:  # lists, dicts: not numbers (pd.to_numeric would raise a TypeError)
        odd = series.map(lambda v: isinstance(v, (list, dict, tuple, set))).to_numpy(dtype=bool)
        if odd.any():
            i = int(np.flatnonzero(odd)[0])
            row = i + 1 if rows is None else rows[i]
            raise InputError(f"{source}: row {row}, key {key!r}: {series.iloc[i]!r} is not a number")
    out = pd.to_numeric(series, errors="coerce")
    bad = out.isna() & series.notna() & (series.astype(str).str.strip() != "")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        row = i + 1 if rows is None else rows[i]
        raise InputError(f"{source}: row {row}, key {key!r}: {series.iloc[i]!r} is not a number")
    return out.to_numpy(dtype=float)
