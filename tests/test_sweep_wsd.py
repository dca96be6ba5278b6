"""WSD sweeps end to end: trunks and cooldowns through the store and executors, one table row per point,
and a SIGKILL in a stable phase and in a cooldown that loses and re-trains no finished point."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

torch = pytest.importorskip("torch")

from isoflop.sweep import store  # noqa: E402
from isoflop.sweep.demo import demo_design  # noqa: E402
from isoflop.sweep.executors import run_sweep  # noqa: E402
from isoflop.train import rundir  # noqa: E402
from isoflop.train.trainer import train  # noqa: E402
from tests.test_sweep_run import _snapshot  # noqa: E402  (finished runs' result.json: bytes and mtime)

@pytest.fixture(autouse=True)
def one_thread():
    """Train in this process on one thread: two intra-op threads on a busy 2-core machine spin-wait on each
    other (measured: > 300 s instead of 21 s for 491 steps of a tiny model at load average 10)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# A demo-like sweep in miniature: 2 sizes × 3 budgets on a 16-state Markov chain, a few seconds on 2 cores.
TINY = dict(schedule="wsd", budgets=[3e8, 6e8, 1.2e9], sizes=[1.2e3, 3e3], cooldown_fraction=0.25,
            batch_tokens=256, peak_lr=0.01, head_dim=8, seq_len=32, evals_per_run=4, checkpoints_per_run=4,
            eval_sequences=32, data={"source": "markov", "n_states": 16, "concentration": 0.3})


def test_wsd_sweep_gives_one_row_per_cooldown_equal_to_whole_runs(tmp_path):
    design = demo_design(TINY)
    assert [r.kind for r in design.runs].count("trunk") == 2 and len(design.points) == 6
    store.init_sweep(tmp_path / "seq", design)
    report = run_sweep(tmp_path / "seq", device="cpu", progress=False)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in design.runs)
    table = store.export_table(tmp_path / "seq")
    assert sorted(table.run_id) == sorted(r.run_id for r in design.points)  # trunks are not points
    by_id = table.set_index("run_id")
    for spec in design.points:  # oracle: the same WSD run trained from scratch in one piece
        whole = train(spec.train, tmp_path / "whole" / spec.run_id, device="cpu")
        assert by_id.loss[spec.run_id] == whole.loss
        assert by_id.n_tokens[spec.run_id] == spec.n_tokens and by_id.flops[spec.run_id] == spec.flops
        result = store.read_result(store.run_dir(tmp_path / "seq", spec.run_id))
        assert result["kind"] == "cooldown" and result["branch_tokens"] == spec.train.decay_start * 256
    branches = store.export_branches(tmp_path / "seq")
    assert sorted(branches.run_id) == sorted(r.run_id for r in design.points)
    for row in branches.itertuples():  # each cooldown names its trunk, which kept a state at the branch point
        assert row.n_tokens == row.branch_tokens + row.cooldown_steps * 256
        assert (store.run_dir(tmp_path / "seq", row.trunk) / rundir.branch_checkpoint(row.branch_tokens // 256)).exists()
    curves = store.export_curves(tmp_path / "seq")
    assert set(branches.trunk) <= set(curves.run_id)  # the trunks' loss curves
    # two worker processes: the same numbers (a cooldown waits for its trunk)
    store.init_sweep(tmp_path / "par", design)
    report = run_sweep(tmp_path / "par", device="cpu", progress=False, workers=2)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in design.runs)
    par = store.export_table(tmp_path / "par").set_index("run_id")
    assert (par.loss == by_id.loss.loc[par.index]).all()
    # `isoflop report` on the sweep folder draws the trunks with their cooldown branches
    from typer.testing import CliRunner

    from isoflop.cli import app

    pytest.importorskip("matplotlib")
    done = CliRunner().invoke(app, ["report", str(tmp_path / "seq"), "--out", str(tmp_path / "r.html"),
                                    "--bootstrap", "0", "--allow-unidentified", "--json"])
    assert done.exit_code == 0, done.output
    assert "wsd_branches" in json.loads(done.stdout)["figures"]
    # and in Python, given the sweep folder as the source (it drew no branches: they had no Python path)
    import isoflop

    runs = isoflop.read_runs(tmp_path / "seq", curves=True)
    analysis = isoflop.analyse(runs, isoflop.FitOptions(allow_unidentified=True), auto_backtest=True, isoflop=True)
    assert "wsd_branches" in isoflop.report(analysis, source=tmp_path / "seq").figures


def test_ray_runs_cooldowns_after_their_trunks(tmp_path, local_ray):
    # Ray used to submit every run at once: a cooldown could start before its trunk had kept its state.
    design = demo_design(TINY)
    store.init_sweep(tmp_path / "seq", design)
    run_sweep(tmp_path / "seq", device="cpu", progress=False)
    store.init_sweep(tmp_path / "ray", design)
    report = run_sweep(tmp_path / "ray", executor="ray", device="cpu", progress=False)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in design.runs)
    seq = store.export_table(tmp_path / "seq").set_index("run_id")
    par = store.export_table(tmp_path / "ray").set_index("run_id")
    assert (par.loss == seq.loss.loc[par.index]).all()  # one thread per task: the same numbers


def test_a_failed_trunk_fails_its_cooldowns_without_running_them(tmp_path):
    design = demo_design(TINY)
    store.init_sweep(tmp_path, design)
    trunk = next(r for r in design.runs if r.kind == "trunk")
    # a folder where the trunk's checkpoint file must go: its first checkpoint write fails
    (store.run_dir(tmp_path, trunk.run_id) / rundir.CHECKPOINT).mkdir(parents=True)
    report = run_sweep(tmp_path, device="cpu", progress=False, workers=2)
    mine = [r.run_id for r in design.runs if r.trunk == trunk.run_id]
    failed = {o.run_id: o.error for o in report.outcomes if o.status == "failed"}
    assert set(failed) == {trunk.run_id, *mine}
    assert all(failed[run] == f"its trunk {trunk.run_id} did not finish" for run in mine)
    assert not any((store.run_dir(tmp_path, run) / rundir.METRICS).exists() for run in mine)  # never started
    others = [r.run_id for r in design.runs if r.run_id not in failed]
    assert others and sorted(report.ids("done")) == sorted(others)


def _hold_lock(folder, held, release):
    with store.RunLock(folder):
        held.set()
        release.wait(60)


def test_cooldowns_wait_for_a_trunk_another_process_trains(tmp_path):
    """A second `sweep run` found the trunk busy, then failed its cooldowns ("the trunk's state at step N is
    missing"), wrote their error.txt and exited 1 while the first process was still training that trunk."""
    import multiprocessing as mp

    from isoflop.sweep.executors import execute_run

    design = demo_design(TINY)
    store.init_sweep(tmp_path, design)
    trunk = next(r for r in design.runs if r.kind == "trunk")
    cooldown = next(r for r in design.runs if r.trunk == trunk.run_id)
    ctx = mp.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(store.run_dir(tmp_path, trunk.run_id), held, release))
    holder.start()
    try:
        assert held.wait(30)
        outcome = execute_run(tmp_path, cooldown, device="cpu")
    finally:
        release.set()
        holder.join(30)
    assert outcome.status == "busy" and outcome.error.startswith("waiting for its trunk")
    assert not (store.run_dir(tmp_path, cooldown.run_id) / rundir.ERROR).exists()


def test_one_unusable_run_folder_does_not_stop_the_sweep(tmp_path):
    """A run.lock that is a folder aborted the whole sequential sweep (0 of 4 runs trained): that run fails and
    the others train."""
    design = demo_design(TINY)
    store.init_sweep(tmp_path, design)
    broken = next(r for r in design.runs if r.kind == "trunk")
    (store.run_dir(tmp_path, broken.run_id) / store.LOCK_FILE).mkdir()
    report = run_sweep(tmp_path, device="cpu", progress=False)
    failed = {o.run_id for o in report.outcomes if o.status == "failed"}
    assert broken.run_id in failed and report.ids("done")
    assert set(report.ids("done")) | failed == {r.run_id for r in design.runs}


KILL = dict(TINY, budgets=[6e8, 1.2e9, 2.4e9])
CHILD = """
import json, sys
import torch
torch.set_num_threads(1)  # see one_thread
from isoflop.sweep.demo import run_demo_sweep
run_demo_sweep(sys.argv[1], device="cpu", progress=False, config=json.loads(sys.argv[2]), workers=1)
"""


def _kill_when(cmd, env, ready, timeout=300):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"sweep ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.time() < deadline, "sweep too slow"
            time.sleep(0.02)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_sigkill_in_a_stable_phase_and_in_a_cooldown_loses_nothing(tmp_path):
    out = tmp_path / "demo"
    sweep_dir = out / "sweep"
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-c", CHILD, str(out), json.dumps(KILL)]

    def design():
        return store.load_design(sweep_dir)

    def trunk_mid_stable():  # the second trunk has a checkpoint but is not done: killed in its stable phase
        if not (sweep_dir / "sweep.json").exists():
            return False
        trunk = [r for r in design().runs if r.kind == "trunk"][1]
        folder = store.run_dir(sweep_dir, trunk.run_id)
        return (folder / "checkpoint.pt").exists() and store.read_result(folder) is None

    _kill_when(cmd, env, trunk_mid_stable)
    first = _snapshot(sweep_dir)
    assert first  # the first size's cooldowns finished before the kill
    trunk = [r for r in design().runs if r.kind == "trunk"][1]
    ckpt_step = torch.load(store.run_dir(sweep_dir, trunk.run_id) / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < ckpt_step < trunk.train.n_steps

    def in_a_cooldown():  # a cooldown of the second size holds its lock (being trained) with no result yet
        for r in design().points:
            folder = store.run_dir(sweep_dir, r.run_id)
            if (r.trunk == trunk.run_id and (folder / rundir.LOCK).exists()
                    and store.read_result(folder) is None and (folder / rundir.CHECKPOINT).exists()):
                return True
        return False

    _kill_when(cmd, env, in_a_cooldown)
    second = _snapshot(sweep_dir)
    assert {k: second[k] for k in first} == first  # finished points untouched by the second run
    assert store.read_result(store.run_dir(sweep_dir, trunk.run_id))["resumed_from_step"] == ckpt_step
    cut = [s for s in store.sweep_status(sweep_dir) if s.state == "pending" and s.run_id.startswith("c")]
    assert cut

    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    final = _snapshot(sweep_dir)
    assert {k: final[k] for k in second} == second  # nothing finished was re-trained
    assert {s.state for s in store.sweep_status(sweep_dir)} == {"done"}
    # the same losses as an uninterrupted sweep
    ref = tmp_path / "ref"
    store.init_sweep(ref, design())
    run_sweep(ref, device="cpu", progress=False)
    got = store.export_table(sweep_dir).set_index("run_id").loss
    want = store.export_table(ref).set_index("run_id").loss
    assert len(got) == len(design().points) and (got == want.loc[got.index]).all()
    for spec in design().runs:
        folder = store.run_dir(sweep_dir, spec.run_id)
        assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name == "lock.json"]
