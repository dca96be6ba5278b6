"""SIGKILL `isoflop sweep run` at random points, again and again: nothing finished is retrained, and every run
ends with exactly the loss (and loss curve) of an uninterrupted sweep."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("torch")

from isoflop.sweep import store  # noqa: E402
from isoflop.train import rundir  # noqa: E402

# 2 budgets × 2 sizes on a 16-state Markov chain: 4 runs of 190-820 steps, ~0.5-2 s each on 2 idle CPU cores.
TOML = """\
budgets = [2e9, 4e9]
sizes_per_budget = 2
spread = 2.0
head_dim = 8
seq_len = 32
evals_per_run = 5
checkpoints_per_run = 10
eval_sequences = 64

[data]
source = "markov"
n_states = 16
concentration = 0.3
"""
KILLS = 4
# One intra-op thread in every attempt: the same float reductions in each, whatever the machine, and no
# oversubscription when the test machine is shared.
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _command(config, out):
    return [sys.executable, "-m", "isoflop", "sweep", "run", str(config), "--out", str(out), "--device", "cpu",
            "--no-progress", "--json"]


def _finished(sweep_dir):
    """run id → (mtime_ns, bytes) of every result.json that counts."""
    runs = sweep_dir / "runs"
    out = {}
    for folder in sorted(runs.iterdir()) if runs.exists() else []:
        if store.read_result(folder) is not None:
            path = folder / "result.json"
            out[folder.name] = (path.stat().st_mtime_ns, path.read_bytes())
    return out


def _progress(sweep_dir):
    """Evaluations logged so far, over all runs."""
    runs = sweep_dir / "runs"
    return sum(len(rundir.read_metrics(f / "metrics.jsonl")[0]) for f in runs.iterdir()) if runs.exists() else 0


def _curves(sweep_dir):
    return {f.name: [(r["step"], r["loss"]) for r in rundir.read_metrics(f / "metrics.jsonl")[0]]
            for f in sorted((sweep_dir / "runs").iterdir())}


def test_random_sigkills_change_no_loss_and_retrain_nothing_finished(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TOML)
    baseline = subprocess.run(_command(config, tmp_path / "whole"), capture_output=True, text=True, timeout=600,
                              env=ENV)
    assert baseline.returncode == 0, baseline.stderr
    whole = {r["run_id"]: r["loss"] for r in json.loads(baseline.stdout)["runs"]}
    assert len(whole) == 4

    rng = np.random.default_rng(13)
    sweep_dir = tmp_path / "killed"
    killed_mid_run = 0
    for attempt in range(KILLS):
        before = _finished(sweep_dir)
        start = _progress(sweep_dir)
        target = start + int(rng.integers(1, 4))  # kill once 1-3 more evaluations are logged, plus a random delay
        proc = subprocess.Popen(_command(config, sweep_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=ENV)
        deadline = time.time() + 600
        try:
            while proc.poll() is None and _progress(sweep_dir) < target:
                assert time.time() < deadline, "sweep too slow"
                time.sleep(0.02)
            time.sleep(float(rng.uniform(0.0, 0.3)))
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        after = _finished(sweep_dir)
        assert {k: after[k] for k in before} == before, f"attempt {attempt}: a finished run was rewritten"
        state = store.sweep_state(sweep_dir)
        assert state.counts()["running"] == 0  # the killed process's lock is recognised as stale
        killed_mid_run += any(s.state != "done" and s.step > 0 for s in state.runs)
        if len(after) == len(whole):
            break

    finished = _finished(sweep_dir)
    final = subprocess.run(_command(config, sweep_dir), capture_output=True, text=True, timeout=600, env=ENV)
    assert final.returncode == 0, final.stderr
    report = {r["run_id"]: r for r in json.loads(final.stdout)["runs"]}
    assert {k for k, r in report.items() if r["status"] == "skipped"} == set(finished)  # not retrained
    assert {k for k, r in report.items() if r["status"] == "done"} == set(whole) - set(finished)
    assert {k: v for k, v in _finished(sweep_dir).items() if k in finished} == finished  # untouched

    results = {k: store.read_result(store.run_dir(sweep_dir, k)) for k in whole}
    assert {k: r["loss"] for k, r in results.items()} == whole  # bit-identical final losses
    assert _curves(sweep_dir) == _curves(tmp_path / "whole")  # and every evaluation on the way
    assert killed_mid_run >= 1 and any(r["resumed_from_step"] > 0 for r in results.values())
    for k in whole:
        folder = store.run_dir(sweep_dir, k)
        assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name == "lock.json"]
