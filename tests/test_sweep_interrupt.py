"""Ctrl-C and SIGTERM lose no training: the step in progress is finished and saved, then the run stops.

Before, an interrupted run lost every step since its last periodic checkpoint (a fifth of the run), and
SIGTERM to a sweep with worker processes waited for every running run to finish. Oracles: the step the signal
arrived at, and the uninterrupted run's numbers (a resumed CPU run is bitwise the same run).
"""

import os
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from isoflop.flops import Architecture  # noqa: E402
from isoflop.sweep import store  # noqa: E402
from isoflop.train import rundir  # noqa: E402
from isoflop.train.spec import DataSpec, TrainSpec  # noqa: E402
from isoflop.train.trainer import train  # noqa: E402

SPEC = TrainSpec(arch=Architecture(n_layer=2, d_model=32, n_head=2, vocab_size=8, seq_len=32), n_steps=40,
                 batch_size=8, peak_lr=0.01, warmup_steps=5,
                 data=DataSpec(source="markov", n_states=8, concentration=0.5, seed=3),
                 eval_every=10, eval_sequences=64, checkpoint_every=10)


def _default_sigint():
    """SIGINT as a terminal leaves it, in a child: a test run in the background inherits it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _checkpoint_step(folder):
    path = folder / rundir.CHECKPOINT
    return int(torch.load(path, map_location="cpu", weights_only=False)["step"]) if path.exists() else None


def test_ctrl_c_mid_run_saves_the_step_and_resuming_gives_the_whole_runs_numbers(tmp_path):
    whole = train(SPEC, tmp_path / "whole")
    handler = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even in the background

    def ctrl_c_at_17(done, n_steps, row):
        if done == 17:  # between checkpoints (every 10 steps): the old code kept step 10
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(SPEC, tmp_path / "cut", on_step=ctrl_c_at_17)
    assert _checkpoint_step(tmp_path / "cut") == 17 == rundir.saved_step(tmp_path / "cut")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the trainer's hold is undone
    signal.signal(signal.SIGINT, handler)
    resumed = train(SPEC, tmp_path / "cut")
    assert resumed.resumed_from_step == 17
    assert (resumed.loss, resumed.train_loss) == (whole.loss, whole.train_loss)
    def curve(folder):  # the loss curve, without the wall-clock seconds
        return [{k: v for k, v in row.items() if k != "seconds"} for row in rundir.read_metrics(folder)[0]]

    assert curve(tmp_path / "cut" / rundir.METRICS) == curve(tmp_path / "whole" / rundir.METRICS)
    assert [row["step"] for row in curve(tmp_path / "cut" / rundir.METRICS)] == [10, 20, 30, 40]


# two runs of 290 and 2,000 steps (12-21 s on 2 cores), on three workers: one of them idle
TOML = """\
budgets = [3e11]
sizes_per_budget = 2
head_dim = 8

[data]
source = "markov"
"""


@pytest.mark.parametrize("how", ["SIGTERM to the sweep", "Ctrl-C in a terminal"])
def test_an_interrupted_sweep_stops_its_workers_within_a_step_and_keeps_it(tmp_path, how):
    (tmp_path / "sweep.toml").write_text(TOML)
    out = tmp_path / "sweep"
    proc = subprocess.Popen([sys.executable, "-m", "isoflop", "sweep", "run", str(tmp_path / "sweep.toml"), "--out",
                             str(out), "--device", "cpu", "--workers", "3", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    runs = []
    while time.monotonic() < deadline:  # until both runs have logged an evaluation
        runs = sorted(out.glob("runs/*/")) if out.exists() else []
        if len(runs) == 2 and all(rundir.read_metrics(r / rundir.METRICS)[0] for r in runs):
            break
        time.sleep(0.2)
    if how.startswith("SIGTERM"):
        proc.send_signal(signal.SIGTERM)  # this process alone: it must stop its workers itself
    else:
        os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches every process, idle workers too
    start = time.monotonic()
    _, stderr = proc.communicate(timeout=120)
    assert time.monotonic() - start < 10  # the long run had over 10 s to go: it did not run to its end
    assert proc.returncode == 130 and stderr.strip() == "error: interrupted", stderr
    status = {s.run_id: s for s in store.sweep_status(out)}
    for run in runs:
        assert not (run / "result.json").exists()
        logged = rundir.read_metrics(run / rundir.METRICS)[0][-1]["step"]
        assert _checkpoint_step(run) >= logged  # the interrupted step saved, not the last fifth's checkpoint
        # sweep status says where the run resumes, not where it last evaluated
        assert status[run.name].state == "pending" and status[run.name].step == _checkpoint_step(run)


def test_ctrl_c_in_a_ray_sweep_cancels_its_tasks_which_save_their_step(tmp_path, local_ray):
    """The driver's Ctrl-C left a local Ray's tasks to die with it (their steps since the last checkpoint lost).
    Now it cancels them, which Ray delivers as SIGINT in each task's worker: the trainer saves, then stops."""
    import threading

    from isoflop.sweep.design import SweepConfig, design_sweep
    from isoflop.sweep.executors import run_sweep

    (tmp_path / "sweep.toml").write_text(TOML)
    store.init_sweep(tmp_path / "sweep", design_sweep(SweepConfig.from_toml(tmp_path / "sweep.toml")))
    runs = tmp_path / "sweep" / "runs"

    def ctrl_c_once_both_runs_evaluated():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            folders = sorted(runs.glob("*/"))
            if len(folders) == 2 and all(rundir.read_metrics(f / rundir.METRICS)[0] for f in folders):
                break
            time.sleep(0.2)
        os.kill(os.getpid(), signal.SIGINT)  # the driver alone, as in a terminal where Ray runs elsewhere

    threading.Thread(target=ctrl_c_once_both_runs_evaluated, daemon=True).start()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even in the background
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(tmp_path / "sweep", executor="ray", device="cpu", progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    for run in sorted(runs.glob("*/")):
        assert not (run / "result.json").exists()
        logged = rundir.read_metrics(run / rundir.METRICS)[0][-1]["step"]
        assert _checkpoint_step(run) >= logged  # the cancelled step saved, not the last fifth's checkpoint


def test_a_resumed_runs_line_says_it_resumed_and_its_seconds_in_all(tmp_path):
    """A resumed run's line gave this attempt's seconds while result.json counts every attempt's, with nothing
    to say which. A cooldown, which always starts from its trunk's state, is not called resumed."""
    from isoflop.sweep.design import SweepConfig, design_sweep
    from isoflop.sweep.executors import execute_run

    config = {"budgets": [1e10, 2e10], "sizes": [2e4], "schedule": "wsd", "head_dim": 8,
              "data": {"source": "markov"}}
    design = design_sweep(SweepConfig.from_dict(config))
    store.init_sweep(tmp_path / "sweep", design)
    trunk, *cooldowns = design.runs

    def crash_halfway(done, n_steps, row):
        if done == n_steps // 2 + 1:  # past its first checkpoint (every fifth of the run)
            raise RuntimeError("crash")

    assert execute_run(tmp_path / "sweep", trunk, device="cpu", on_step=crash_halfway).status == "failed"
    resumed = execute_run(tmp_path / "sweep", trunk, device="cpu")
    result = store.read_result(store.run_dir(tmp_path / "sweep", trunk.run_id))
    assert resumed.status == "done" and result["resumed_from_step"] > 0
    assert f"resumed at step {result['resumed_from_step']:,} of {trunk.train.n_steps:,}; " \
           f"{result['seconds']:.1f} s of training in all" in resumed.notes
    for cooldown in cooldowns:
        outcome = execute_run(tmp_path / "sweep", cooldown, device="cpu")
        assert outcome.status == "done" and not any("resumed" in n for n in outcome.notes)


def test_ctrl_c_at_any_moment_of_a_sweeps_start_is_one_line(tmp_path):
    """A Ctrl-C that reached a worker process while it was still starting (unpickling its work, importing)
    printed that worker's KeyboardInterrupt traceback (5 of 10 delays from 1.8 to 3.0 s): workers now start
    with SIGINT blocked until they ignore it. Delays from the imports to the training, through the console
    script (whose entry handles a Ctrl-C during the parent's own imports)."""
    import shutil

    script = shutil.which("isoflop")
    if script is None:
        pytest.skip("the isoflop console script is not installed (pip install -e .)")
    (tmp_path / "sweep.toml").write_text(TOML)
    subprocess.run([script, "sweep", "design", str(tmp_path / "sweep.toml"), "--out", str(tmp_path / "designed")],
                   check=True, capture_output=True)
    for i, delay in enumerate((0.5, 1.0, 1.5, 2.0, 2.3, 2.6, 3.0, 4.0)):
        folder = tmp_path / f"s{i}"
        shutil.copytree(tmp_path / "designed", folder)
        proc = subprocess.Popen([script, "sweep", "run", str(folder), "--workers", "2", "--no-progress"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                                env=dict(os.environ, OMP_NUM_THREADS="1"), preexec_fn=_default_sigint)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, (delay, stderr)
        assert proc.returncode == 130 and stderr.strip().splitlines()[-1] == "error: interrupted", (delay, stderr)
