"""Write the small sample inputs the README's commands use, in the layouts the tools themselves write.

    python examples/make_examples.py [FOLDER]        (default: the examples/ folder this script is in)

Writes, deterministically (same bytes on every run, so the committed copies can be checked against it):
- ``tb_logs/``: a TensorBoard folder as the Hugging Face Trainer's TensorBoardCallback lays it out:
  ``runs/<date>_<host>/events.out.tfevents.<time>.<host>.<pid>.0`` with ``train/loss``,
  ``train/learning_rate``, ``train/epoch`` and ``eval/loss`` scalars, and a ``<timestamp>/`` subfolder
  holding only hyperparameters (what ``SummaryWriter.add_hparams(..., metric_dict={})`` writes). The event
  records are TFRecords written with tensorboard's own RecordWriter; wall times are fixed.
- ``gpt-small/trainer_state.json``: the Trainer's state file (log_history with training and evaluation
  entries, num_input_tokens_seen, max_steps).
- ``wandb_export.csv``: a W&B chart export ("Export CSV" of a line plot) of runs run_a and run_b:
  ``Step`` and ``<run> - <metric>`` columns with their ``__MIN`` / ``__MAX`` companions.
- ``runs.csv``: final losses of 20 runs (5 sizes at each of 4 budgets, an IsoFLOP grid) for ``isoflop fit``.

The losses follow Besiroglu et al. (2024)'s Chinchilla fit, L = 1.8172 + 482.01/N^0.3478 + 2085.43/D^0.3658,
with a small fixed wiggle standing in for noise. Needs numpy and tensorboard (no TensorFlow, no torch).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

E, A, B, ALPHA, BETA = 1.8172, 482.01, 2085.43, 0.3478, 0.3658
HOST, PID, START = "example-host", 4242, 1764072000  # 2025-11-25 12:00:00 UTC, fixed for reproducibility
TOKENS_PER_STEP = 524_288  # 512 sequences × 1,024 tokens
N_PARAMS = 124_000_000
MAX_STEPS = 400


def loss(n_params: float, n_tokens: float) -> float:
    return E + A / n_params**ALPHA + B / n_tokens**BETA


def wiggle(i: int, size: float = 0.004) -> float:
    """A deterministic stand-in for measurement noise (no RNG, so every platform writes the same bytes)."""
    return size * math.sin(7.3 * i + 0.5)


def curve_loss(step: int, scale: float = 1.0) -> float:
    """A training curve for a 124M model: the law at the tokens seen, plus a fixed early-training excess."""
    return round(scale * loss(N_PARAMS, step * TOKENS_PER_STEP) + 0.8 * math.exp(-step / 40), 4)


# ------------------------------------------------------------------------------------------- TensorBoard

def _events_file(folder: Path, index: int, events) -> None:
    from tensorboard.compat.proto import event_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"events.out.tfevents.{START}.{HOST}.{PID}.{index}"
    with open(path, "wb") as handle:
        writer = RecordWriter(handle)
        header = event_pb2.Event(wall_time=float(START), file_version="brain.Event:2")
        header.source_metadata.writer = "tensorboard.summary.writer.event_file_writer"
        writer.write(header.SerializeToString(deterministic=True))
        for event in events:
            writer.write(event.SerializeToString(deterministic=True))


def _scalar(step: int, tag: str, value: float, wall: float):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    return event_pb2.Event(wall_time=wall, step=step,
                           summary=summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)]))


def _hparams_events(hparams: dict, wall: float):
    """The three hparams-plugin summaries SummaryWriter.add_hparams writes (experiment, session start, end)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

    def summary(tag, data):
        metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
            plugin_name="hparams", content=data.SerializeToString(deterministic=True)))
        value = summary_pb2.Summary.Value(tag=tag, metadata=metadata)
        return event_pb2.Event(wall_time=wall, summary=summary_pb2.Summary(value=[value]))

    experiment = plugin_data_pb2.HParamsPluginData(version=0, experiment=api_pb2.Experiment(
        hparam_infos=[api_pb2.HParamInfo(name=k) for k in hparams]))
    start = plugin_data_pb2.HParamsPluginData(version=0, session_start_info=plugin_data_pb2.SessionStartInfo())
    for key, value in hparams.items():
        if isinstance(value, str):
            start.session_start_info.hparams[key].string_value = value
        else:
            start.session_start_info.hparams[key].number_value = value
    end = plugin_data_pb2.HParamsPluginData(version=0, session_end_info=plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS))
    return [summary("_hparams_/experiment", experiment), summary("_hparams_/session_start_info", start),
            summary("_hparams_/session_end_info", end)]


def write_tensorboard(root: Path) -> None:
    run = root / "tb_logs" / "runs" / f"Nov25_12-00-00_{HOST}"
    events = []
    for step in range(10, MAX_STEPS + 1, 10):
        wall = START + 2.0 * step
        events.append(_scalar(step, "train/loss", curve_loss(step, 1.01), wall))
        events.append(_scalar(step, "train/learning_rate", 6e-4 * min(1.0, step / 40), wall))
        events.append(_scalar(step, "train/epoch", step / MAX_STEPS, wall))
        if step % 50 == 0:
            events.append(_scalar(step, "eval/loss", curve_loss(step), wall + 1.0))
    _events_file(run, 0, events)
    hparams = {"learning_rate": 6e-4, "per_device_train_batch_size": 32, "max_steps": MAX_STEPS,
               "lr_scheduler_type": "cosine"}
    _events_file(run / f"{START}.000000", 1, _hparams_events(hparams, float(START)))


# ------------------------------------------------------------------------------------------ Hugging Face

def write_trainer_state(root: Path) -> None:
    log = []
    for step in range(10, MAX_STEPS + 1, 10):
        log.append({"epoch": round(step / MAX_STEPS, 4), "grad_norm": round(1.0 + 0.5 * math.exp(-step / 50), 4),
                    "learning_rate": 6e-4 * min(1.0, step / 40), "loss": curve_loss(step, 1.01),
                    "num_input_tokens_seen": step * TOKENS_PER_STEP, "step": step})
        if step % 50 == 0:
            log.append({"epoch": round(step / MAX_STEPS, 4), "eval_loss": curve_loss(step), "eval_runtime": 12.5,
                        "eval_samples_per_second": 81.9, "num_input_tokens_seen": step * TOKENS_PER_STEP,
                        "step": step})
    log.append({"epoch": 1.0, "step": MAX_STEPS, "total_flos": 6.0 * N_PARAMS * MAX_STEPS * TOKENS_PER_STEP,
                "train_loss": 3.4567, "train_runtime": 812.3, "num_input_tokens_seen": MAX_STEPS * TOKENS_PER_STEP})
    state = {"best_metric": None, "best_model_checkpoint": None, "epoch": 1.0, "eval_steps": 50,
             "global_step": MAX_STEPS, "is_hyper_param_search": False, "is_local_process_zero": True,
             "is_world_process_zero": True, "log_history": log, "logging_steps": 10, "max_steps": MAX_STEPS,
             "num_input_tokens_seen": MAX_STEPS * TOKENS_PER_STEP, "num_train_epochs": 1, "save_steps": 200,
             "total_flos": 6.0 * N_PARAMS * MAX_STEPS * TOKENS_PER_STEP, "train_batch_size": 32}
    folder = root / "gpt-small"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2) + "\n")


# ------------------------------------------------------------------------------------------------- W&B

def write_wandb(root: Path) -> None:
    """Two runs of different sizes logged every 100 steps; run_b stopped at step 800 (blank cells after)."""
    runs = {"run_a": (60_000_000, 1000), "run_b": (124_000_000, 800)}
    header = ["Step"]
    for run in runs:
        header += [f"{run} - train/loss", f"{run} - train/loss__MIN", f"{run} - train/loss__MAX"]
    with open(root / "wandb_export.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for step in range(100, 1001, 100):
            row = [step]
            for i, (n_params, last) in enumerate(runs.values()):
                if step > last:
                    row += ["", "", ""]
                    continue
                value = round(loss(n_params, step * 65_536) + 0.5 * math.exp(-step / 200) + wiggle(step + i), 4)
                row += [value, round(value - 0.02, 4), round(value + 0.02, 4)]
            writer.writerow(row)


# ---------------------------------------------------------------------------------------------- runs CSV

def write_runs(root: Path) -> None:
    """An IsoFLOP grid: at each budget C, 5 sizes from N*/4 to 4·N* (N* of the law), D = C/(6N)."""
    rows, i = [], 0
    for flops in (1e18, 3e18, 1e19, 3e19):
        a = BETA / (ALPHA + BETA)
        g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
        n_opt = g * (flops / 6) ** a  # Hoffmann et al. 2022 eq. 4
        for k in (-2, -1, 0, 1, 2):
            n_params = float(f"{n_opt * 2.0**k:.3g}")
            n_tokens = float(f"{flops / (6 * n_params):.4g}")
            rows.append((f"c{flops:.0e}-n{k + 2}".replace("+", ""), n_params, n_tokens,
                         round(loss(n_params, n_tokens) + wiggle(i), 4)))
            i += 1
    with open(root / "runs.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["run_id", "n_params", "n_tokens", "loss"])
        for run_id, n, d, value in rows:
            writer.writerow([run_id, f"{n:.0f}", f"{d:.0f}", f"{value:.4f}"])


def main(argv: list[str]) -> Path:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent
    root.mkdir(parents=True, exist_ok=True)
    write_tensorboard(root)
    write_trainer_state(root)
    write_wandb(root)
    write_runs(root)
    return root


if __name__ == "__main__":
    print(f"wrote examples to {main(sys.argv[1:])}")
