"""The run store: layout, status from files, locks, tolerant reading and the exported tables."""

import json
import os
import socket
import subprocess
import sys

import pytest

from isoflop.errors import CorruptFileWarning, InputError
from isoflop.sweep import store
from isoflop.sweep.design import SweepConfig, design_sweep
from isoflop.train import rundir

CONFIG = dict(budgets=[2e9, 6e9], sizes_per_budget=3, spread=2.0, head_dim=8, seq_len=32,
              data={"source": "markov", "n_states": 16, "concentration": 0.3})


@pytest.fixture()
def sweep(tmp_path):
    design = design_sweep(SweepConfig.from_dict(CONFIG))
    store.init_sweep(tmp_path / "s", design)
    return tmp_path / "s", design


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def fake_result(spec, loss):
    return {"run_id": spec.run_id, "n_params": spec.n_params, "n_tokens": spec.n_tokens, "flops": spec.flops,
            "loss": loss, "param_convention": "total", "flops_budget": spec.flops_budget}


def test_layout_and_idempotent_init(sweep, tmp_path):
    sweep_dir, design = sweep
    assert json.loads((sweep_dir / "sweep.json").read_text())["n_runs"] == len(design.runs) == 6
    for spec in design.runs:
        assert json.loads((sweep_dir / "runs" / spec.run_id / "spec.json").read_text())["run_id"] == spec.run_id
    store.init_sweep(sweep_dir, design)  # same design again: fine
    other = design_sweep(SweepConfig.from_dict({**CONFIG, "budgets": [3e9]}))
    with pytest.raises(InputError, match="different sweep design"):
        store.init_sweep(sweep_dir, other)
    assert store.load_design(sweep_dir).runs == design.runs
    with pytest.raises(InputError, match="no sweep here"):
        store.load_design(tmp_path)


def test_status_is_read_from_the_files(sweep):
    sweep_dir, design = sweep
    a, b, c, d = (store.run_dir(sweep_dir, s.run_id) for s in design.runs[:4])
    store.write_result(a, fake_result(design.runs[0], 2.5))
    rundir.write_json_atomic(b / "lock.json", {"pid": os.getpid(), "host": socket.gethostname(), "heartbeat": 0})
    store.write_error(c, "Traceback ...\nFloatingPointError: loss became nan\n")
    rundir.write_json_atomic(d / "lock.json", {"pid": dead_pid(), "host": socket.gethostname(), "heartbeat": 0})
    rundir.append_jsonl(d / "metrics.jsonl", {"step": 40, "loss": 2.9})
    with open(d / "metrics.jsonl", "a") as f:
        f.write('{"step": 80, "lo')  # torn by a kill
    states = {s.run_id: s for s in store.sweep_status(sweep_dir)}
    ids = [s.run_id for s in design.runs]
    assert states[ids[0]].state == "done" and states[ids[0]].loss == 2.5
    assert states[ids[1]].state == "running" and states[ids[1]].pid == os.getpid()
    assert states[ids[2]].state == "failed" and "nan" in states[ids[2]].error
    assert states[ids[3]].state == "pending" and states[ids[3]].step == 40  # stale lock: its pid is gone
    assert {states[i].state for i in ids[4:]} == {"pending"}


def test_half_written_result_is_not_done(sweep):
    sweep_dir, design = sweep
    folder = store.run_dir(sweep_dir, design.runs[0].run_id)
    (folder / "result.json").write_text('{"run_id": "x", "loss": 2.')
    assert store.read_result(folder) is None
    assert store.run_status(sweep_dir, design.runs[0]).state == "pending"
    with pytest.warns(CorruptFileWarning, match="result.json: not valid JSON"):  # said, not silently dropped
        assert len(store.export_table(sweep_dir)) == 0


def test_lock_is_exclusive_and_stale_locks_are_taken_over(sweep):
    sweep_dir, design = sweep
    folder = store.run_dir(sweep_dir, design.runs[0].run_id)
    with store.RunLock(folder):
        with pytest.raises(store.RunLocked):
            store.RunLock(folder).__enter__()
    assert not (folder / "lock.json").exists()
    rundir.write_json_atomic(folder / "lock.json", {"pid": dead_pid(), "host": socket.gethostname()})
    with store.RunLock(folder):
        assert json.loads((folder / "lock.json").read_text())["pid"] == os.getpid()
    rundir.write_json_atomic(folder / "lock.json", {"pid": 1, "host": "elsewhere", "heartbeat": 0.0})
    with store.RunLock(folder):  # another host, heartbeat long ago: abandoned
        pass
    # a live pid with another start time: the pid was reused after a kill (e.g. a restarted container)
    reused = {"pid": os.getpid(), "pid_start": "0", "host": socket.gethostname(), "heartbeat": 0.0}
    assert not store.lock_is_live(reused)
    assert store.lock_is_live({**reused, "pid_start": store._process_start(os.getpid())})
    rundir.write_json_atomic(folder / "lock.json", reused)
    with store.RunLock(folder):
        pass


def test_export_table_and_curves(sweep):
    sweep_dir, design = sweep
    for i, spec in enumerate(design.runs[:3]):
        folder = store.run_dir(sweep_dir, spec.run_id)
        for step in (10, 20):
            rundir.append_jsonl(folder / "metrics.jsonl", {"step": step, "n_tokens": step * 100,
                                                           "flops": 6.0 * spec.n_params * step * 100,
                                                           "loss": 3.0 - step / 100, "train_loss": 3.1, "lr": 0.01})
        store.write_result(folder, fake_result(spec, 2.0 + i))
    table = store.export_table(sweep_dir)
    assert list(table.columns[:6]) == ["run_id", "n_params", "n_tokens", "flops", "loss", "param_convention"]
    assert len(table) == 3 and set(table.param_convention) == {"total"}
    assert table.loss.tolist() == [2.0, 3.0, 4.0] and table.n_params.is_monotonic_increasing
    curves = store.export_curves(sweep_dir)
    assert list(curves.columns[:6]) == ["run_id", "step", "n_params", "n_tokens", "flops", "loss"]
    assert len(curves) == 6
    assert (curves.flops == 6.0 * curves.n_params * curves.n_tokens).all()


def test_status_of_a_config_file_says_it_is_no_sweep_folder(tmp_path):
    """`sweep status tiny.toml` advised `isoflop sweep design CONFIG --out tiny.toml`: the config as a folder."""
    from isoflop.sweep.store import sweep_state

    config = tmp_path / "tiny.toml"
    config.write_text("budgets = [1e10]\n")
    with pytest.raises(InputError, match="is a file, not a sweep folder") as caught:
        sweep_state(config)
    assert "--out tiny.toml" not in str(caught.value)
