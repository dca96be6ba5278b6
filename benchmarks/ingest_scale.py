"""Ingest at scale: time and peak memory of `isoflop.ingest.ingest` on a million logged points per format.

Each format runs in a fresh subprocess so that its peak resident set size (``ru_maxrss``) is its own; the time
covers reading the log and building the runs table (what `isoflop ingest` does before writing it). The logs
hold 10 runs of 100,000 points each, losses L = 3 + 100/step: a CSV curve table, the same as JSON lines, one
TensorBoard event file per run (written by torch's SummaryWriter) and one Hugging Face trainer_state.json per
run. Each result is checked against what was written (10 runs, the last loss 3 + 100/100,000 each).

Measured on the quiet 2-core machine (2026-11-26): CSV 3.0 s, peak 0.57 GiB; JSON lines 8.7 s, 1.08 GiB;
TensorBoard 13.7 s, 0.76 GiB; HF trainer_state.json 5.2 s, 0.56 GiB (peaks include the writing of the logs and
the imports: 0.16-0.35 GiB before reading).

Many small runs (``many-csv``, ``many-tensorboard``; ``many`` for both): a folder of 10,000 runs of 5 points
each (``--runs N``), one CSV curve file per run, or one TensorBoard run folder per run (event files written
record by record with tensorboard's own protobufs and checksums, as SummaryWriter writes them). This measures
the per-run overhead of ingest rather than its per-point cost. Each run's final loss is checked.
Measured on the 2-core machine: 10,000 CSV files 6.9 s, peak 0.16 GiB (29.5 s, 0.33 GiB before); 10,000
TensorBoard runs 2.8 s, 0.18 GiB (697 s before).

Usage: python benchmarks/ingest_scale.py [csv jsonl tensorboard huggingface many-csv many-tensorboard many]
       [--points N] [--runs N]
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10
MANY_RUNS, MANY_POINTS = 10_000, 5  # the many-* modes: many runs of a few points each


def write_many(kind: str, folder: Path, runs: int) -> Path:
    """``runs`` one-run logs of MANY_POINTS points each under ``folder``: run r's loss is 3 + r / runs + 1 / step."""
    steps = range(1, MANY_POINTS + 1)
    if kind == "many-csv":
        out = folder / "csv"
        out.mkdir()
        for run in range(runs):
            lines = "".join(f"{s},{3 + run / runs + 1 / s!r}\n" for s in steps)
            (out / f"r{run:05d}.csv").write_text("step,loss\n" + lines)
        return out
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    out = folder / "tb"
    for run in range(runs):
        run_dir = out / f"r{run:05d}"
        run_dir.mkdir(parents=True)
        with open(run_dir / "events.out.tfevents.1700000000.host.1.0", "wb") as f:
            writer = RecordWriter(f)
            writer.write(event_pb2.Event(wall_time=1.7e9, file_version="brain.Event:2").SerializeToString())
            for s in steps:
                value = summary_pb2.Summary.Value(tag="train/loss", simple_value=3 + run / runs + 1 / s)
                event = event_pb2.Event(wall_time=1.7e9, step=s, summary=summary_pb2.Summary(value=[value]))
                writer.write(event.SerializeToString())
    return out


def write(kind: str, folder: Path, points: int) -> Path:
    """The log of ``kind`` under ``folder``: RUNS runs of ``points // RUNS`` points each."""
    steps = range(1, points // RUNS + 1)
    if kind in ("csv", "jsonl"):
        path = folder / f"curves.{kind}"
        with open(path, "w") as f:
            if kind == "csv":
                f.write("run_id,step,loss\n")
            for run in range(RUNS):
                for s in steps:
                    f.write(f"r{run},{s},{3 + 100 / s!r}\n" if kind == "csv" else
                            f'{{"run_id": "r{run}", "step": {s}, "loss": {3 + 100 / s!r}}}\n')
        return path
    if kind == "tensorboard":
        from torch.utils.tensorboard import SummaryWriter

        for run in range(RUNS):
            writer = SummaryWriter(str(folder / "tb" / f"r{run}"))
            for s in steps:
                writer.add_scalar("train/loss", 3 + 100 / s, s)
            writer.close()
        return folder / "tb"
    for run in range(RUNS):  # huggingface
        out = folder / "hf" / f"r{run}"
        out.mkdir(parents=True)
        history = [{"step": s, "loss": 3 + 100 / s} for s in steps]
        (out / "trainer_state.json").write_text(json.dumps({"global_step": len(history), "log_history": history}))
    return folder / "hf"


def one(kind: str, points: int, runs: int) -> dict:
    import numpy as np

    from isoflop.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        many = kind.startswith("many-")
        path = write_many(kind, Path(tmp), runs) if many else write(kind, Path(tmp), points)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        table = ingest(path, n_params=1e8, tokens_per_step=1000)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        finals = table.finals()
        if many:
            order = np.argsort(finals.run_ids)
            expected = 3 + np.arange(runs) / runs + 1 / MANY_POINTS
            assert len(finals) == runs and np.allclose(finals.loss[order], expected, rtol=1e-6), finals.loss
        else:
            expected = 3 + 100 / (points // RUNS)
            assert len(finals) == RUNS and abs(finals.loss - expected).max() < 1e-5 * expected, finals.loss
        return {"format": kind, "points": len(table), "runs": len(finals), "seconds": seconds,
                "peak_rss_mib": peak, "rss_before_mib": before}


def _option(args: list, name: str, default: int) -> tuple[int, list]:
    if name not in args:
        return default, args
    i = args.index(name)
    return int(float(args[i + 1])), args[:i] + args[i + 2:]


def main():
    args = sys.argv[1:]
    points, args = _option(args, "--points", 1_000_000)
    runs, args = _option(args, "--runs", MANY_RUNS)
    if args and args[0] == "--one":
        print(json.dumps(one(args[1], points, runs)))
        return
    kinds = [k for a in args for k in (["many-csv", "many-tensorboard"] if a == "many" else [a])]
    for kind in kinds or ["csv", "jsonl", "tensorboard", "huggingface"]:
        out = subprocess.run([sys.executable, __file__, "--one", kind, "--points", str(points), "--runs", str(runs)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['format']:>16}: {r['runs']:,} runs, {r['points']:,} points in {r['seconds']:.1f} s, peak "
              f"{r['peak_rss_mib'] / 1024:.2f} GiB ({r['rss_before_mib'] / 1024:.2f} GiB before reading)")


if __name__ == "__main__":
    main()
