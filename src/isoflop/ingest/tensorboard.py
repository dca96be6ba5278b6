"""TensorBoard event files → curves, read with the ``tensorboard`` package (no TensorFlow needed).

A run is a directory holding ``events.out.tfevents.*`` files (all of them, in order: a restarted job
writes a new file into the same directory); its id is the directory's path relative to the source (the
source's own name when the events sit directly in it). Scalars come from both kinds of summaries:
``add_scalar`` of torch/tensorboardX (simple values) and TF2-style scalar tensors.

``size_guidance`` 0 keeps every event: the EventAccumulator's default keeps a random reservoir of 10,000
scalars (10 tensors) per tag, which would silently thin a long curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import LOSS_KEYS, TOKEN_KEYS, Curve, choose_key, tokens_at

KEEP_ALL = {"scalars": 0, "tensors": 0}


def event_dirs(path: Path) -> list[Path]:
    """Directories under ``path`` (itself included) that hold event files."""
    return sorted({p.parent for p in path.rglob("*tfevents*") if p.is_file()})


def _scalars(acc) -> dict:
    """tag → (steps, values) for every scalar the accumulator read, in write order."""
    from tensorboard.util import tensor_util

    out = {}
    for tag in acc.Tags().get("scalars", []):
        events = acc.Scalars(tag)
        out[tag] = (np.array([e.step for e in events], float), np.array([e.value for e in events], float))
    for tag in acc.Tags().get("tensors", []):
        if tag in out or acc.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
            continue
        events = acc.Tensors(tag)
        values = [tensor_util.make_ndarray(e.tensor_proto) for e in events]
        if all(np.size(v) == 1 for v in values):
            out[tag] = (np.array([e.step for e in events], float), np.array([float(np.ravel(v)[0]) for v in values]))
    return out


def read_tensorboard(path: str | Path, loss_key: str | None = None, tokens_key: str | None = None) -> list[Curve]:
    """One Curve per run directory under ``path`` (a directory, or one event file)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise InputError("reading TensorBoard event files needs the tensorboard package: "
                         "pip install 'isoflop[logs]'") from None
    path = Path(path)
    if path.is_file():
        runs = [(path, path.parent.name or path.stem)]
    else:
        runs = [(d, str(d.relative_to(path)) if d != path else path.name) for d in event_dirs(path)]
        if not runs:
            raise InputError(f"{path}: no TensorBoard event files (events.out.tfevents.*) in it or below it")
    curves = []
    for where, run_id in runs:
        acc = EventAccumulator(str(where), size_guidance=KEEP_ALL)
        try:
            acc.Reload()
        except Exception as exc:  # a corrupt file: say which one rather than a protobuf traceback
            raise InputError(f"{where}: cannot read TensorBoard events ({exc})") from None
        series = _scalars(acc)
        key = choose_key(series, loss_key, LOSS_KEYS, f"{where}", what="loss scalar tag")
        steps, loss = series[key]
        tokens = None
        tag = choose_key(series, tokens_key, TOKEN_KEYS, f"{where}", what="tokens scalar tag", option="--tokens-key",
                         required=False)
        if tag is not None:
            tokens = tokens_at(steps, *series[tag])
        curves.append(Curve(run_id, steps, loss, key, str(where), n_tokens=tokens))
    return curves
