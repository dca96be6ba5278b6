"""Sweeps end to end: training through the store, SIGKILL + restart, Ray, and the CLI."""

import json
import os
import platform
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

torch = pytest.importorskip("torch")

from isoflop.cli import app  # noqa: E402
from isoflop.errors import InputError  # noqa: E402
from isoflop.flops import Architecture  # noqa: E402
from isoflop.sweep import store  # noqa: E402
from isoflop.sweep.design import RunSpec, SweepConfig, SweepDesign, design_sweep  # noqa: E402
from isoflop.sweep.executors import run_sweep  # noqa: E402
from isoflop.train import rundir  # noqa: E402
from isoflop.train.data import load_source  # noqa: E402
from isoflop.train.spec import DataSpec, TrainSpec  # noqa: E402

runner = CliRunner()

# Tiny IsoFLOP sweep on a 16-state Markov chain: 2 budgets × 3 sizes, each run ~0.5-2 s on 2 CPU cores.
TOML = """\
budgets = [2e9, 6e9]
sizes_per_budget = 3
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


def test_loss_falls_with_params_and_with_tokens(tmp_path):
    """A 2×2 grid (d_model 8 / 32 × 50 / 200 steps) on a 64-state chain run through the store and executor.
    A bigram table needs rank up to 64, so d_model 8 is capacity-limited: loss must fall with N at fixed D,
    with D at fixed N, and stay above the chain's entropy rate."""
    data = DataSpec(source="markov", n_states=64, concentration=0.2, seed=1)
    runs = []
    for d in (8, 32):
        for steps in (50, 200):
            arch = Architecture(n_layer=1, d_model=d, n_head=1, vocab_size=64, seq_len=32)
            spec = TrainSpec(arch=arch, n_steps=steps, batch_size=16, peak_lr=0.01, warmup_steps=5, data=data,
                             eval_every=steps, eval_sequences=256, checkpoint_every=steps)
            runs.append(RunSpec(f"d{d}-s{steps}", flops_budget=spec.flops, target_n_params=arch.n_params, train=spec))
    design = SweepDesign(SweepConfig(budgets=(1e9,), data=data), law="none", runs=tuple(runs))
    store.init_sweep(tmp_path, design)
    report = run_sweep(tmp_path, device="cpu", progress=False)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in runs)
    table = store.export_table(tmp_path).set_index("run_id")
    loss = table.loss
    for steps in (50, 200):
        assert loss[f"d32-s{steps}"] < loss[f"d8-s{steps}"] - 0.05  # more parameters, same tokens
    for d in (8, 32):
        assert loss[f"d{d}-s200"] < loss[f"d{d}-s50"] - 0.03       # more tokens, same parameters
    source = load_source(data)
    assert (loss > source.chain.log_loss(source.val_batch(256, 32)) - 2e-3).all()
    assert (table.flops == 6.0 * table.n_params * table.n_tokens).all()
    # a second run skips everything
    again = run_sweep(tmp_path, device="cpu", progress=False)
    assert len(again.ids("skipped")) == 4 and not again.ids("done")


def _snapshot(sweep_dir):
    out = {}
    for folder in sorted((sweep_dir / "runs").iterdir()):
        if store.read_result(folder) is not None:
            path = folder / "result.json"
            out[folder.name] = (path.stat().st_mtime_ns, path.read_bytes())
    return out


def test_sigkill_then_restart_skips_done_runs_and_resumes_the_rest(tmp_path):
    config = tmp_path / "kill.toml"
    config.write_text(TOML)
    sweep_dir = tmp_path / "kill"
    cmd = [sys.executable, "-m", "isoflop", "sweep", "run", str(config), "--out", str(sweep_dir),
           "--device", "cpu", "--no-progress", "--json"]
    env = dict(os.environ, OMP_NUM_THREADS="1")  # no oversubscription on a shared machine (was too slow there)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 120
    try:
        while True:  # wait until two runs are done and a third has a checkpoint
            assert proc.poll() is None, f"sweep ended before it could be killed: {proc.stderr.read().decode()}"
            assert time.time() < deadline, "sweep too slow"
            runs = sorted((sweep_dir / "runs").glob("*")) if (sweep_dir / "runs").exists() else []
            done = [f for f in runs if store.read_result(f) is not None]
            started = [f for f in runs if f not in done and (f / "checkpoint.pt").exists()]
            if len(done) >= 2 and started:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    finished = _snapshot(sweep_dir)
    design = store.load_design(sweep_dir)
    assert 2 <= len(finished) < len(design.runs)
    states = {s.run_id: s.state for s in store.sweep_status(sweep_dir)}
    assert "running" not in states.values()  # the killed process's lock is recognised as stale
    checkpoint_step = {}
    for spec in design.runs:
        ckpt = store.run_dir(sweep_dir, spec.run_id) / "checkpoint.pt"
        if spec.run_id not in finished and ckpt.exists():
            checkpoint_step[spec.run_id] = torch.load(ckpt, weights_only=False)["step"]
    assert checkpoint_step and max(checkpoint_step.values()) > 0

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    assert second.returncode == 0, second.stderr
    report = json.loads(second.stdout)
    status = {r["run_id"]: r["status"] for r in report["runs"]}
    assert {k for k, v in status.items() if v == "skipped"} == set(finished)  # not retrained
    assert {k for k, v in status.items() if v == "done"} == {s.run_id for s in design.runs} - set(finished)
    assert {k: v for k, v in _snapshot(sweep_dir).items() if k in finished} == finished  # untouched

    for spec in design.runs:
        folder = store.run_dir(sweep_dir, spec.run_id)
        result = store.read_result(folder)
        assert result is not None and result["n_tokens"] == spec.n_tokens
        assert result["compiled"] is False  # CPU runs are never compiled
        if spec.run_id in checkpoint_step:
            assert result["resumed_from_step"] == checkpoint_step[spec.run_id]
        steps = [r["step"] for r in rundir.read_jsonl(folder / "metrics.jsonl")]
        assert steps == sorted(set(steps)) and steps[-1] == spec.train.n_steps  # one row per evaluation
        leftovers = [p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name == "lock.json"]
        assert not leftovers
    assert {s.state for s in store.sweep_status(sweep_dir)} == {"done"}


def test_ray_executor_gives_one_result_per_run(tmp_path, local_ray):
    path = tmp_path / "ray.toml"
    path.write_text(TOML.replace("budgets = [2e9, 6e9]", "budgets = [2e9]"))
    config = SweepConfig.from_toml(path)
    design = design_sweep(config)
    store.init_sweep(tmp_path / "sweep", design)
    report = run_sweep(tmp_path / "sweep", executor="ray", device="cpu", progress=False)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in design.runs)
    table = store.export_table(tmp_path / "sweep")
    assert sorted(table.run_id) == sorted(r.run_id for r in design.runs)
    for spec in design.runs:
        result = store.read_result(store.run_dir(tmp_path / "sweep", spec.run_id))
        assert result["n_tokens"] == spec.n_tokens and result["n_params"] == spec.n_params


def test_cli_design_json_totals_and_estimate():
    result = runner.invoke(app, ["sweep", "design", "--budgets", "2e9,6e9", "--sizes-per-budget", "3",
                                 "--spread", "2", "--head-dim", "8", "--seq-len", "32", "--data", "markov",
                                 "--device-flops", "1e9", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["n_runs"] == 6 and len(out["runs"]) == 6
    assert out["total_flops"] == pytest.approx(sum(r["flops"] for r in out["runs"]))
    assert out["total_flops"] == pytest.approx(8e9 * 3, rel=0.02)  # every run spends its budget
    # training FLOPs / 1e9 FLOP/s, plus the evaluations' forward passes (counted exactly in test_sweep_design)
    # and 4.4 ms per optimiser step on the CPU
    steps = sum(r["train"]["n_steps"] for r in out["runs"])
    flop_seconds = out["estimated_seconds"] - steps * 4.4e-3
    assert out["total_flops"] / 1e9 < flop_seconds < 1.5 * out["total_flops"] / 1e9
    table = runner.invoke(app, ["sweep", "design", "--budgets", "1e10", "--head-dim", "8", "--data", "markov"])
    assert table.exit_code == 0 and "estimated" in table.stdout and "compiling" not in table.stdout
    # on CUDA: 7.4 ms per step (measured on an H100) and 30 s for each run torch.compile pays for (10M+ params,
    # 2,000+ steps: 3 of these 6, counted by hand from the design's table)
    cuda = runner.invoke(app, ["sweep", "design", "--budgets", "3e16,1e17", "--sizes-per-budget", "3",
                               "--device", "cuda", "--json"])
    out = json.loads(cuda.stdout)
    assert out["compiled_runs"] == 3
    design = design_sweep(SweepConfig.from_dict({"budgets": [3e16, 1e17], "sizes_per_budget": 3}))
    assert out["estimated_seconds"] == pytest.approx(design.estimate_seconds(1e14, 7.4e-3) + 3 * 30, rel=1e-12)
    plain = runner.invoke(app, ["sweep", "design", "--budgets", "3e16,1e17", "--sizes-per-budget", "3",
                                "--device", "cuda"])
    assert "30 s compiling each of 3 runs" in " ".join(plain.stdout.split())


BAD_CONFIGS = {  # config text, and what the one-line error must name
    "unknown-key": (TOML + "\nwarmup = 3\n", "warmup"),
    "unknown-data-key": (TOML.replace("n_states = 16", "n_states = 16\nstate = 3"), "state"),
    "tiny-budget": (TOML.replace("budgets = [2e9, 6e9]", "budgets = [1e4]"), "budgets"),
    "missing-file": (TOML.replace('source = "markov"', 'source = "text"\npaths = ["missing.txt"]'), "missing.txt"),
}


@pytest.mark.parametrize("text,field", list(BAD_CONFIGS.values()), ids=list(BAD_CONFIGS))
def test_cli_bad_config_is_one_red_line_and_exit_2(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for command in (["sweep", "design", str(path)], ["sweep", "run", str(path), "--device", "cpu"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        assert field in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("change", ["same-size-edit", "appended", "deleted"])
def test_data_changed_between_design_and_run_is_refused(tmp_path, change):
    """A text file edited after `sweep design --out` (or after some runs finished) was trained on silently: the
    sweep's runs would mix data. sweep.json now keeps each file's size and SHA-256, and `sweep run` refuses."""
    import hashlib

    data = tmp_path / "corpus.txt"
    original = bytes(range(97, 123)) * 2000
    data.write_bytes(original)
    config = tmp_path / "text.toml"
    config.write_text(TOML.replace('source = "markov"\nn_states = 16\nconcentration = 0.3',
                                   f'source = "text"\npaths = ["{data}"]').replace("[2e9, 6e9]", "[1e10]"))
    sweep_dir = tmp_path / "sweep"
    assert runner.invoke(app, ["sweep", "design", str(config), "--out", str(sweep_dir)]).exit_code == 0
    recorded = json.loads((sweep_dir / "sweep.json").read_text())["data_fingerprint"]
    assert recorded == [{"path": str(data), "size": 52000, "sha256": hashlib.sha256(original).hexdigest()}]
    if change == "same-size-edit":
        data.write_bytes(original[:-1] + b"!")
    elif change == "appended":
        data.write_bytes(original + b"more")
    else:
        data.unlink()
    for command in (["sweep", "run", str(sweep_dir)], ["sweep", "run", str(config), "--out", str(sweep_dir)]):
        result = runner.invoke(app, command + ["--device", "cpu", "--no-progress", "--json"])
        assert result.exit_code == 2, result.output
        words = "changed since it was designed" if change != "deleted" or command[2] == str(sweep_dir) else "does not exist"
        assert str(data) in result.output and words in result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        assert result.stdout == ""
    assert not list(sweep_dir.glob("runs/*/result.json")) and not list(sweep_dir.glob("runs/*/metrics.jsonl"))
    data.write_bytes(original)  # restored: the sweep may run
    store.check_data(sweep_dir, store.load_design(sweep_dir))
    if change == "deleted":  # a hand-edited fingerprint is a mismatch in one line too, not a KeyError
        doc = json.loads((sweep_dir / "sweep.json").read_text())
        doc["data_fingerprint"] = [{"path": str(data)}]
        (sweep_dir / "sweep.json").write_text(json.dumps(doc))
        with pytest.raises(InputError, match=r"changed since it was designed .*corpus.txt was missing, is now "
                                             r"52,000 bytes"):
            store.check_data(sweep_dir, store.load_design(sweep_dir))


def test_out_beside_a_sweep_folder_is_refused_not_ignored(tmp_path):
    """`sweep run SWEEP_DIR --out OTHER` ran (and trained) the runs in SWEEP_DIR and never wrote OTHER, exit 0."""
    config = tmp_path / "s.toml"
    config.write_text(TOML)
    sweep_dir = tmp_path / "s"
    assert runner.invoke(app, ["sweep", "design", str(config), "--out", str(sweep_dir)]).exit_code == 0
    for spec in store.load_design(sweep_dir).runs:  # all done, so nothing would train either way
        store.write_result(store.run_dir(sweep_dir, spec.run_id),
                           {"run_id": spec.run_id, "n_params": spec.n_params, "n_tokens": spec.n_tokens,
                            "flops": spec.flops, "loss": 2.0})
    result = runner.invoke(app, ["sweep", "run", str(sweep_dir), "--out", str(tmp_path / "other"), "--device", "cpu",
                                 "--no-progress", "--json"])
    assert result.exit_code == 2 and "--out" in result.output and str(tmp_path / "other") in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "other").exists()
    same = runner.invoke(app, ["sweep", "run", str(sweep_dir), "--out", str(sweep_dir), "--device", "cpu",
                               "--no-progress", "--json"])
    assert same.exit_code == 0 and json.loads(same.stdout)["counts"]["skipped"] == 6


def test_cli_status_and_failed_runs_do_not_stop_the_sweep(tmp_path):
    data = tmp_path / "corpus.txt"
    data.write_bytes(b"abc" * 1000)
    config = tmp_path / "fail.toml"
    config.write_text(TOML.replace('source = "markov"\nn_states = 16\nconcentration = 0.3',
                                   f'source = "text"\npaths = ["{data}"]').replace("[2e9, 6e9]", "[1e10]"))
    assert runner.invoke(app, ["sweep", "design", str(config), "--out", str(tmp_path / "fail")]).exit_code == 0
    data.write_bytes(b"abc")  # cut after design: too short for even one window, every run fails, the sweep goes on
    design_doc = json.loads((tmp_path / "fail" / "sweep.json").read_text())
    del design_doc["data_fingerprint"]  # as a sweep designed before data changes were detected (see below)
    (tmp_path / "fail" / "sweep.json").write_text(json.dumps(design_doc))
    result = runner.invoke(app, ["sweep", "run", str(tmp_path / "fail"), "--device", "cpu", "--no-progress", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["counts"]["failed"] == 3
    status = runner.invoke(app, ["sweep", "status", str(tmp_path / "fail"), "--json"])
    out = json.loads(status.stdout)
    assert out["counts"] == {"done": 0, "running": 0, "failed": 3, "pending": 0}
    assert all("seq_len" in r["error"] for r in out["runs"])
    assert runner.invoke(app, ["sweep", "status", str(tmp_path)]).exit_code == 2


def test_tiny_llama_block_sweep_trains_on_cpu(tmp_path):
    """A Llama-style sweep (RMSNorm, SwiGLU, rotary, GQA, untied, no biases) designed, stored and trained on
    CPU; the trainer refuses to run a model whose parameter count differs from the accounting's."""
    config = SweepConfig.from_dict({"budgets": [1e9], "sizes_per_budget": 2, "spread": 1.5, "center": 3.0,
                                    "head_dim": 8, "seq_len": 32, "batch_tokens": 1024, "evals_per_run": 2,
                                    "checkpoints_per_run": 2,
                                    "eval_sequences": 16, "block": "llama",
                                    "data": {"source": "markov", "n_states": 16}})
    design = design_sweep(config)
    assert len(design.runs) == 2
    store.init_sweep(tmp_path, design)
    report = run_sweep(tmp_path, device="cpu", progress=False)
    assert sorted(report.ids("done")) == sorted(r.run_id for r in design.runs)
    table = store.export_table(tmp_path).set_index("run_id")
    for spec in design.runs:
        from isoflop.train.model import GPT
        assert GPT(spec.train.arch).n_params == spec.n_params == table.n_params[spec.run_id]
        assert spec.train.arch.norm == "rmsnorm" and spec.train.arch.position == "rotary"
        assert spec.train.arch.n_kv_head < spec.train.arch.n_head  # grouped-query attention
    assert (table.loss < np.log(16)).all()  # learned something beyond the uniform guess


def test_a_log_file_hears_of_each_run_while_it_trains(tmp_path, monkeypatch):
    """With stderr a log file or pipe, rich draws no live bars: a long first run printed nothing until it
    finished. Each run now says when it starts and, every PLAIN_PROGRESS_SECONDS, where it is."""
    from isoflop.sweep import executors

    monkeypatch.setattr(executors, "PLAIN_PROGRESS_SECONDS", 0.0)
    config = tmp_path / "log.toml"
    config.write_text(TOML.replace("[2e9, 6e9]", "[2e9]").replace("sizes_per_budget = 3", "sizes_per_budget = 1"))
    result = runner.invoke(app, ["sweep", "run", str(config), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    started = [i for i, line in enumerate(lines) if "started" in line]
    steps = [i for i, line in enumerate(lines) if " step " in line and "loss" in line]
    done = [i for i, line in enumerate(lines) if "✓" in line]
    assert len(started) == 1 and len(done) == 1 and steps
    assert started[0] < steps[0] < done[0]  # in order: start, progress, result


def test_a_placing_key_beside_sizes_is_refused_even_at_its_default(tmp_path):
    """sizes_per_budget = 4 (the default) beside sizes was accepted in silence, as was --sizes-per-budget 4: only
    values other than the default were refused, since a stored sweep.json carries every key. A file or flag a
    person wrote is now held to what it says; a stored design still reads back."""
    text = 'budgets = [1e10]\nsizes = [2e4, 5e4]\nschedule = "wsd"\nhead_dim = 8\n[data]\nsource = "markov"\n'
    (tmp_path / "plain.toml").write_text(text)
    (tmp_path / "both.toml").write_text(text.replace("head_dim = 8", "head_dim = 8\nsizes_per_budget = 4"))
    for args, named in ((["sweep", "design", str(tmp_path / "both.toml")], "sizes_per_budget"),
                        (["sweep", "design", str(tmp_path / "plain.toml"), "--sizes-per-budget", "4"],
                         "--sizes-per-budget"),
                        (["sweep", "design", str(tmp_path / "plain.toml"), "--center", "1"], "--center")):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and named in result.stderr and "do not apply" in result.stderr, args
    result = runner.invoke(app, ["sweep", "design", str(tmp_path / "plain.toml"), "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert stored["config"]["sizes_per_budget"] == 4  # every key stored ...
    assert len(SweepDesign.from_dict(stored).runs) == 4  # ... and read back
    status = runner.invoke(app, ["sweep", "status", str(tmp_path / "s")])
    assert status.exit_code == 0, status.output


def test_a_stdlib_sweep_resumed_under_another_python_says_so(tmp_path, monkeypatch):
    """The built-in corpus is this Python's standard library, so another Python version trains on other text.
    `sweep run` refused such a sweep with 'the Python standard library was 12,100,000 bytes, sha256 …, is now …'
    and 'restore the data', which a user cannot act on; the fingerprint now records the Python version, the
    message names both versions and says to run with the designing one. Sweeps designed before the version
    was recorded still pass on the same library."""
    from isoflop.train import data as train_data

    config = tmp_path / "s.toml"
    config.write_text(TOML.replace('source = "markov"\nn_states = 16\nconcentration = 0.3', 'source = "stdlib"')
                      .replace("[2e9, 6e9]", "[1e11]"))
    sweep_dir = tmp_path / "s"
    assert runner.invoke(app, ["sweep", "design", str(config), "--out", str(sweep_dir)]).exit_code == 0
    doc = json.loads((sweep_dir / "sweep.json").read_text())
    (entry,) = doc["data_fingerprint"]
    assert entry["python"] == platform.python_version() and entry["files"] == len(train_data.stdlib_files())
    store.check_data(sweep_dir, store.load_design(sweep_dir))
    del doc["data_fingerprint"][0]["python"]  # as designed before the version was recorded: same library passes
    (sweep_dir / "sweep.json").write_text(json.dumps(doc))
    store.check_data(sweep_dir, store.load_design(sweep_dir))
    doc["data_fingerprint"][0].update(python="3.9.0", sha256="0" * 64, size=entry["size"] - 1)
    (sweep_dir / "sweep.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=rf"Python 3\.9\.0\), is now .*\(Python {re.escape(platform.python_version())}\); "
                                         r"run it with the Python it was designed with"):
        store.check_data(sweep_dir, store.load_design(sweep_dir))
