"""Hugging Face ``trainer_state.json`` → a curve.

The Trainer saves ``trainer_state.json`` in its output directory and in every ``checkpoint-<step>``
folder. ``log_history`` is a list of dicts: training entries carry ``step`` and ``loss`` (the mean over
the last ``logging_steps``), evaluation entries ``step`` and ``eval_loss``, and with
``include_num_input_tokens_seen`` also ``num_input_tokens_seen``. ``max_steps`` is the length the
learning-rate schedule was built for, taken as the run's planned length. The run id is the output
directory's name; of several checkpoints of one run the one with the largest ``global_step`` is read
(its history contains the earlier ones'). A state that cannot be read (cut mid-write, or a link to nothing) is
damage: skipped, with a warning, for the newest readable one (``on_corrupt="warn"``), or an InputError.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io_utils import broken_link
from .curve import LOSS_KEYS, TOKEN_KEYS, Curve, choose_key, logged_tokens, numeric

STATE = "trainer_state.json"
_CHECKPOINT = re.compile(r"checkpoint-\d+$")


def is_trainer_state(path: Path) -> bool:
    if path.name == STATE:
        return True
    if path.suffix.lower() != ".json":
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.lstrip().startswith("{") and '"log_history"' in head


def output_dir(path: Path) -> Path:
    """The Trainer's output dir of a trainer_state.json: its folder, or the folder above a checkpoint-<step>/."""
    # resolved: a state given as ./trainer_state.json is named after its folder (a link to nothing, after its own)
    folder = path.resolve().parent if path.exists() else path.parent.resolve()
    return folder.parent if _CHECKPOINT.match(folder.name) and folder.parent.name else folder


def _run_id(path: Path) -> str:
    return output_dir(path).name or path.stem


def _load(path: Path) -> dict:
    target = broken_link(path)
    if target is not None:
        raise InputError(f"{path}: a broken link (to {target}): nothing of it could be read")
    try:
        state = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read as JSON ({exc})") from None
    if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
        raise InputError(f"{path}: no 'log_history' list; not a Hugging Face trainer_state.json")
    return state


def _count(state: dict, key: str, path: Path) -> float | None:
    """A whole-number field of the state (global_step, max_steps): None when absent or null, InputError when it
    is not a non-negative number (a list, a string, a boolean)."""
    value = state.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
        raise InputError(f"{path}: {key!r} is {value!r}; expected a number of steps (or null)")
    return float(value)


def read_trainer_states(path: Path, loss_key: str | None = None, tokens_key: str | None = None,
                        on_corrupt: str = "warn") -> list[Curve]:
    """One curve per run of the trainer_state.json files under a folder: the one with the largest global_step.

    A state that cannot be read (a checkpoint cut mid-write) is damage: with on_corrupt="warn" it is skipped and
    the newest readable state of its run is read, the run marked truncated when the skipped one may be newer
    (its checkpoint's step is past the one read, or it is the output dir's own final state)."""
    best: dict[Path, tuple[float, Path]] = {}
    unreadable: dict[Path, list[tuple[float, Path, str]]] = {}
    # Matched by a wildcard, not the name: pathlib skips a name that does not exist, so a trainer_state.json
    # that is a link to nothing (its run lost) was skipped without a word.
    for p in sorted(p for p in path.rglob("*" + STATE) if p.name == STATE):
        run = output_dir(p)
        try:
            step = _count(_load(p), "global_step", p) or 0.0
        except InputError as exc:
            if on_corrupt == "error":
                raise InputError(f"{exc}; delete it (or its checkpoint folder) to read the run's other states, or "
                                 f"pass --on-corrupt warn to skip it") from None
            saved_at = float(p.parent.name.split("-")[1]) if _CHECKPOINT.match(p.parent.name) else np.inf
            unreadable.setdefault(run, []).append((saved_at, p, str(exc)))
            continue
        if run not in best or step >= best[run][0]:
            best[run] = (step, p)
    if not best:
        if unreadable:  # nothing readable to fall back on
            raise InputError(next(iter(unreadable.values()))[0][2])
        raise InputError(f"{path}: no {STATE} in it or below it")
    curves = []
    for run, (step, p) in best.items():
        curve = read_trainer_state(p, loss_key, tokens_key)
        skipped = unreadable.pop(run, [])
        damage = [f"{why}; skipped, read {p} (global_step {step:g}) instead" for _, _, why in skipped]
        newer = [q for saved_at, q, _ in skipped if saved_at > step]
        notes = [f"{newer[0]} is unreadable and may hold a later part of run {curve.run_id!r}, so its last logged "
                 f"{curve.loss_key!r} is not its final loss; final-loss fits leave it out"] if newer else []
        curves.append(dataclasses.replace(curve.with_notes(notes, damage), truncated=bool(newer)))
    for run, skipped in unreadable.items():  # a run none of whose states can be read: lost, and said so
        lost = curves[0].with_notes(damage=[f"{why}; run {run.name!r} skipped: none of its {STATE} files can be "
                                            f"read" for _, _, why in skipped])
        curves[0] = dataclasses.replace(lost, lost_runs=lost.lost_runs + (run.name,))
    return curves


def read_trainer_state(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None) -> Curve:
    """The curve of one trainer_state.json (``loss_key`` default: eval_loss, else loss)."""
    path = Path(path)
    state = _load(path)
    numbered = [(i + 1, entry) for i, entry in enumerate(state["log_history"]) if isinstance(entry, dict)]
    log = [entry for _, entry in numbered]
    keys = dict.fromkeys(k for entry in log for k in entry if k not in ("step", "epoch"))
    key = choose_key(keys, loss_key, LOSS_KEYS, str(path))
    if key == "train_loss" and loss_key is None:
        # The Trainer's last log entry holds train_loss, its mean over the whole run: not the loss at the end,
        # and far above it. A state with no per-step loss would otherwise be fitted as if that were final.
        raise InputError(f"{path}: log_history has no per-step 'loss' or 'eval_loss', only 'train_loss', which is "
                         f"Hugging Face's mean over the whole run, not a final loss; log the loss during training "
                         f"(logging_steps), or name a key with --loss-key (--loss-key train_loss to use the mean "
                         f"anyway); it has {', '.join(map(repr, list(keys)[:12]))}")
    rows = [entry for entry in log if entry.get(key) is not None]
    nulls = [n for n, entry in numbered if key in entry and entry[key] is None]  # logged, but empty
    notes = ()
    if nulls:
        listed = ", ".join(map(str, nulls[:5])) + (", …" if len(nulls) > 5 else "")
        notes = (f"{path}: log_history entr{'y' if len(nulls) == 1 else 'ies'} {listed} "
                 f"log{'s' if len(nulls) == 1 else ''} {key!r} as null; left out",)
    entries = np.array([n for n, entry in numbered if entry.get(key) is not None])  # for messages
    missing = [i for i, entry in enumerate(rows) if "step" not in entry]
    if missing:  # numbered as in the file (1-based log_history), as every message here is
        raise InputError(f"{path}: log_history entry {entries[missing[0]]} has {key!r} but no 'step'")
    where = dict(rows=entries, row_word="log_history entry")
    steps = numeric([e["step"] for e in rows], str(path), "step", **where)
    loss = numeric([e[key] for e in rows], str(path), key, **where)
    tokens, tokens_error = None, None
    tkey = choose_key(keys, tokens_key, TOKEN_KEYS, str(path), what="tokens key", option="--tokens-key", required=False)
    if tkey is not None:
        known = [e for e in log if e.get(tkey) is not None and e.get("step") is not None]
        if known:  # a null num_input_tokens_seen (HF logs one when the option is off) counts as absent
            known_steps = numeric([e["step"] for e in known], str(path), "step")
            known_tokens = numeric([e[tkey] for e in known], str(path), tkey)
            ok = ~np.isnan(known_tokens)  # inf or a count that goes down: corrupt, reported by tokens_at
            if ok.any():
                tokens, tokens_error = logged_tokens(steps, known_steps[ok], known_tokens[ok], str(path), tkey)
    planned = _count(state, "max_steps", path)
    return Curve(_run_id(path), steps, loss, key, str(path), n_tokens=tokens,
                 planned_steps=planned if planned else None, tokens_error=tokens_error, rows=entries,
                 row_word="log_history entry", notes=notes)
