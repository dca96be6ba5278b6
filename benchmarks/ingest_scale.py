"""Ingest at scale: time and peak memory of `isoflop.ingest.ingest` on a million logged points per format.

Each format runs in a fresh subprocess so that its peak resident set size (``ru_maxrss``) is its own; the time
covers reading the log and building the runs table (what `isoflop ingest` does before writing it). The logs
hold 10 runs of 100,000 points each, losses L = 3 + 100/step: a CSV curve table, the same as JSON lines, one
TensorBoard event file per run (written by torch's SummaryWriter) and one Hugging Face trainer_state.json per
run. Each result is checked against what was written (10 runs, the last loss 3 + 100/100,000 each).

Measured on the quiet 2-core machine (2026-11-26): CSV 3.0 s, peak 0.57 GiB; JSON lines 8.7 s, 1.08 GiB;
TensorBoard 13.7 s, 0.76 GiB; HF trainer_state.json 5.2 s, 0.56 GiB (peaks include the writing of the logs and
the imports: 0.16-0.35 GiB before reading).

Usage: python benchmarks/ingest_scale.py [csv jsonl tensorboard huggingface] [--points N]
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 10


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


def one(kind: str, points: int) -> dict:
    from isoflop.ingest import ingest

    with tempfile.TemporaryDirectory() as tmp:
        path = write(kind, Path(tmp), points)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        table = ingest(path, n_params=1e8, tokens_per_step=1000)
        seconds = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        finals = table.finals()
        expected = 3 + 100 / (points // RUNS)
        assert len(finals) == RUNS and abs(finals.loss - expected).max() < 1e-5 * expected, finals.loss
        return {"format": kind, "points": len(table), "seconds": seconds, "peak_rss_mib": peak,
                "rss_before_mib": before}


def main():
    args = sys.argv[1:]
    points = 1_000_000
    if "--points" in args:
        i = args.index("--points")
        points = int(float(args[i + 1]))
        args = args[:i] + args[i + 2:]
    if args and args[0] == "--one":
        print(json.dumps(one(args[1], points)))
        return
    for kind in args or ["csv", "jsonl", "tensorboard", "huggingface"]:
        out = subprocess.run([sys.executable, __file__, "--one", kind, "--points", str(points)], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(f"{r['format']:>12}: {r['points']:,} points in {r['seconds']:.1f} s, peak {r['peak_rss_mib'] / 1024:.2f} "
              f"GiB ({r['rss_before_mib'] / 1024:.2f} GiB before reading)")


if __name__ == "__main__":
    main()
