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
from ..runs import to_numbers

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
    rows: np.ndarray | None = None  # where each point is in the file (row or line numbers, 1-based), for messages
    column: str | None = None  # the file's own name of the loss column (a W&B chart's '<run> - <metric>')
    tokens_error: str | None = None  # why the log's tokens-seen key is unusable; raised only if tokens come from it
    row_word: str = "row"  # what ``rows`` count: "row" (CSV data rows), "line" (JSON lines), "log_history entry"
    lost_runs: tuple[str, ...] = ()  # runs of the same source skipped because none of their log could be read

    def at(self, i: int) -> str:
        """Where point ``i`` is, in the file's own terms: 'path: row 3 (step 300), column 'run_b - train/loss''."""
        step = f"step {self.step[i]:g}"
        if self.rows is None:
            return f"{self.source}: {step}, {self.loss_key!r}"
        column = "column" if self.row_word == "row" else "key"
        return f"{self.source}: {self.row_word} {int(self.rows[i])} ({step}), {column} {self.column or self.loss_key!r}"

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


def restarts(steps) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Which points of a curve, in the order they were logged, a restart leaves standing: (keep mask, and per
    restart (index of the point where it restarts, points it orphaned)).

    A job resumed from a checkpoint logs from the checkpoint's step again: a step below the one before it starts
    a new attempt, and what the earlier attempt logged at or after that step is orphaned (the resumed run's
    points replace it; TensorBoard's own loader purges it the same way). Otherwise a file's last logged point
    would be the abandoned attempt's. Steps must be finite; a repeated step is no restart (the caller keeps the
    last logged)."""
    steps = np.asarray(steps, float)
    keep = np.ones(len(steps), bool)
    if len(steps) < 2 or (np.diff(steps) >= 0).all():  # the usual case, without a Python loop over the points
        return keep, []
    found, standing = [], []  # standing: indices kept so far, their steps non-decreasing
    for i, step in enumerate(steps):
        if standing and step < steps[standing[-1]]:
            orphaned = 0
            while standing and steps[standing[-1]] >= step:
                keep[standing.pop()] = False
                orphaned += 1
            found.append((i, orphaned))
        standing.append(i)
    return keep, found


def step_key_note(step_key: str, wanted: str | None, source: str) -> tuple[str, ...]:
    """A warning where the steps are W&B's ``_step``: it counts ``wandb.log`` calls, not optimiser steps, so tokens
    counted from it (step × tokens per step) are wrong by the number of log calls per step."""
    if step_key != "_step" or wanted is not None:
        return ()
    return (f"{source}: steps are W&B's '_step', which counts log calls, not optimiser steps, so tokens counted "
            f"from it are off wherever a run logged more or less than once per step; if the run logged its "
            f"optimiser step, name it with --step-key (train/global_step, trainer/global_step, global_step)",)


def _listing(keys, limit: int = 12) -> str:
    keys = list(keys)
    if not keys:
        return "no keys at all"
    shown = ", ".join(repr(k) for k in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def tokens_at(steps, known_steps, known_tokens, where: str = "log", key: str = "tokens") -> np.ndarray:
    """Tokens seen at ``steps`` from the steps where a log recorded them: linear interpolation from
    (0, 0) through the known points (exact for a constant batch, and follows a batch-size ramp), and past
    the last known step the last known tokens-per-step ratio.

    A tokens-seen count is a running total: one that is infinite, negative, or goes down as the step goes
    up is corrupt data, and interpolating through it would give wrong token counts silently, so it is an
    InputError naming ``where`` (the file and run), the step and ``key``. Points at a missing or negative
    step are not used (to_run_table drops those points, with a warning)."""
    steps = np.asarray(steps, float)
    known_steps, known_tokens = np.asarray(known_steps, float), np.asarray(known_tokens, float)
    usable = np.isfinite(known_steps) & (known_steps >= 0)
    known_steps, known_tokens = known_steps[usable], known_tokens[usable]
    order = np.argsort(known_steps, kind="stable")
    known_steps, known_tokens = known_steps[order], known_tokens[order]
    bad = ~np.isfinite(known_tokens) | (known_tokens < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"{where}: step {known_steps[i]:g}, {key!r}: {known_tokens[i]:g} is not a count of tokens "
                         f"seen; fix the log, or give --tokens-per-step to count tokens from steps instead")
    back = np.flatnonzero(np.diff(known_tokens) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputError(f"{where}: {key!r} goes backwards at step {known_steps[i]:g} ({known_tokens[i]:g}, after "
                         f"{known_tokens[i - 1]:g} at step {known_steps[i - 1]:g}); tokens seen never decrease — "
                         f"check the key, or give --tokens-per-step to count tokens from steps instead")
    s = np.concatenate([[0.0], known_steps])
    t = np.concatenate([[0.0], known_tokens])
    out = np.interp(steps, s, t)
    beyond = steps > s[-1]
    if s[-1] > 0:
        out[beyond] = steps[beyond] * t[-1] / s[-1]
    return out


# Text that means "nothing logged here" (pandas' usual missing markers). The text "NaN" is not among them:
# tables are read with only empty cells as missing (`table.read_checked`), so that a logged NaN (a diverged
# run's loss: W&B writes "NaN", JSON's NaN token) stays apart from a cell a sparse log left empty.
_MISSING_TEXT = frozenset({"", "na", "n/a", "<na>", "null", "none", "#n/a", "#n/a n/a", "1.#ind", "-1.#ind",
                           "1.#qnan", "-1.#qnan"})


def _text(series):
    return series.map(lambda v: str(v).strip().lower() if isinstance(v, str) else None)


def logged(values) -> np.ndarray:
    """Which cells of a column hold a logged value, NaN and inf included: not None, not a float NaN (an empty
    cell, an absent key), not a missing marker such as 'null' or 'NA'."""
    import pandas as pd

    series = pd.Series(values)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiub":  # numbers: only NaN is missing
        return ~np.isnan(series.to_numpy(dtype=float))  # (fast: called per column of every small log)
    if series.dtype != object and not pd.api.types.is_string_dtype(series):
        return series.notna().to_numpy(dtype=bool)
    text = _text(series)
    return (series.notna() & ~text.isin(_MISSING_TEXT)).to_numpy(dtype=bool)


def logged_tokens(steps, known_steps, known_tokens, where: str, key: str) -> tuple[np.ndarray | None, str | None]:
    """`tokens_at`, or (None, the reason) where the tokens-seen key is corrupt: the reason is an InputError only
    if tokens are taken from the log (`to_run_table`), not when tokens per step are stated."""
    try:
        return tokens_at(steps, known_steps, known_tokens, where, key), None
    except InputError as exc:
        return None, str(exc)


def numeric(values, source: str, key: str, rows=None, row_word: str = "row") -> np.ndarray:
    """Floats from a logged column; text that is not a number is an InputError naming the row and key.

    Missing values (None, NaN, empty, 'null') become NaN: sparse logs leave most keys empty in most rows.
    ``rows``: the file's row number of each value, for messages (default: position + 1), each called a
    ``row_word`` (a trainer_state.json's "log_history entry").
    """
    import pandas as pd

    series = pd.Series(values)
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiu":  # numbers already (the usual case):
        return series.to_numpy(dtype=float)  # no text, booleans or dates to check, per column of every small log
    series = series.reset_index(drop=True)
    rows = None if rows is None else np.asarray(rows)
    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        # pd.to_numeric reads them as counts of their unit: 2024-01-01 was step 1.7e15 (µs)
        raise InputError(f"{source}: key {key!r} holds dates or durations ({series.iloc[0]}), not numbers; name the "
                         f"right column (--step-key, --loss-key, --tokens-key)")
    booleans = series.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    if booleans.any():  # True is not a loss of 1.0
        i = int(np.flatnonzero(booleans)[0])
        row = i + 1 if rows is None else rows[i]
        raise InputError(f"{source}: {row_word} {row}, key {key!r}: {series.iloc[i]!r} is a boolean, not a number")
    if series.dtype == object:  # lists, dicts: not numbers (pd.to_numeric would raise a TypeError)
        odd = series.map(lambda v: isinstance(v, (list, dict, tuple, set))).to_numpy(dtype=bool)
        if odd.any():
            i = int(np.flatnonzero(odd)[0])
            row = i + 1 if rows is None else rows[i]
            raise InputError(f"{source}: {row_word} {row}, key {key!r}: {series.iloc[i]!r} is not a number")
    if pd.api.types.is_string_dtype(series) and series.dtype != object:
        series = series.astype(object)  # pandas' str dtype: the same checks as text in an object column
    out = to_numbers(series)  # an integer past a float's range → inf (pandas raised OverflowError)
    bad = out.isna() & series.notna()
    if bad.any():  # text that became NaN: fine if it says missing or NaN, else not a number
        bad[bad] = ~_text(series[bad]).isin(_MISSING_TEXT | {"nan", "-nan", "+nan"})
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        row = i + 1 if rows is None else rows[i]
        raise InputError(f"{source}: {row_word} {row}, key {key!r}: {series.iloc[i]!r} is not a number")
    return out.to_numpy(dtype=float)
