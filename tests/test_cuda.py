"""The CUDA training path: bf16 autocast, torch.compile, checkpoints and WSD cooldowns on a GPU.

CI has no GPU, so every test here skips there (the summary line says so); they run on the device machine
(``benchmarks/gpu_check.sh``). Oracles: the CPU trainer on the same spec (float32; bf16 autocast may differ by
rounding only), the Markov chain's own log-loss on the validation tokens, and the uninterrupted run.
"""

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

from isoflop.flops import Architecture  # noqa: E402
from isoflop.sweep import store  # noqa: E402
from isoflop.sweep.demo import demo_design  # noqa: E402
from isoflop.train import rundir  # noqa: E402
from isoflop.train.data import load_source  # noqa: E402
from isoflop.train.spec import DataSpec, TrainSpec  # noqa: E402
from isoflop.train.trainer import train  # noqa: E402

MARKOV = DataSpec(source="markov", n_states=8, concentration=0.5, seed=3)


def spec(n_steps=60, **kw):
    arch = Architecture(n_layer=2, d_model=32, n_head=2, vocab_size=8, seq_len=32)
    options = dict(arch=arch, n_steps=n_steps, batch_size=16, peak_lr=0.01, warmup_steps=5, data=MARKOV,
                   eval_every=10, eval_sequences=256, checkpoint_every=10)
    return TrainSpec(**{**options, **kw})


class Crash(Exception):
    pass


def crash_at(step):
    def on_step(done, n_steps, row):
        if done == step:
            raise Crash
    return on_step


def test_cuda_learns_what_the_cpu_learns(tmp_path):
    source = load_source(MARKOV)
    perfect = source.chain.log_loss(source.val_batch(256, 32))  # the true chain on the same tokens
    gpu = train(spec(), tmp_path / "gpu", device="cuda", compile=False, source=source)
    cpu = train(spec(), tmp_path / "cpu", device="cpu", source=source)
    assert gpu.device.startswith("cuda")
    rows = rundir.read_jsonl(tmp_path / "gpu" / "metrics.jsonl")
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 50, 60]
    assert rows[-1]["loss"] < rows[0]["loss"] < 2.2  # ln 8 = 2.08 at the start
    assert gpu.loss > perfect - 5e-3  # an empirical KL divergence: never below the chain itself
    # bf16 autocast against float32: the same model learns the same thing up to rounding
    assert gpu.loss == pytest.approx(cpu.loss, rel=0.02)
    assert gpu.tokens_per_second > 0 and gpu.flops == pytest.approx(6 * gpu.n_params * gpu.n_tokens)


def test_cuda_compiled_model_matches_eager(tmp_path):
    eager = train(spec(n_steps=30), tmp_path / "eager", device="cuda", compile=False)
    compiled = train(spec(n_steps=30), tmp_path / "compiled", device="cuda", compile=True)
    assert compiled.loss == pytest.approx(eager.loss, rel=0.02)
    # the compiled wrapper must not leak into the checkpoint: its keys are the plain model's
    state = torch.load(tmp_path / "compiled" / rundir.CHECKPOINT, map_location="cpu", weights_only=False)
    assert not any(key.startswith("_orig_mod") for key in state["model"])


def test_cuda_compiles_by_default_only_where_compile_pays(tmp_path, monkeypatch):
    """compile=None is sweep run's default: eager for this tiny model (compiling cost 15-34 s and ran small
    models slower, train.spec.compile_pays); compiled once the thresholds say it pays, with the eager loss."""
    from isoflop.train import spec as spec_module
    eager = train(spec(n_steps=30), tmp_path / "eager", device="cuda")
    assert not eager.compiled
    monkeypatch.setattr(spec_module, "COMPILE_MIN_PARAMS", 1)
    monkeypatch.setattr(spec_module, "COMPILE_MIN_STEPS", 30)
    compiled = train(spec(n_steps=30), tmp_path / "compiled", device="cuda")
    assert compiled.compiled and compiled.loss == pytest.approx(eager.loss, rel=0.02)
    # resumed with fewer steps left than the threshold: the rest runs eagerly
    with pytest.raises(Crash):
        train(spec(n_steps=30), tmp_path / "cut", device="cuda", on_step=crash_at(25))
    assert not train(spec(n_steps=30), tmp_path / "cut", device="cuda").compiled


def test_cuda_resume_after_a_crash_gives_the_uninterrupted_result(tmp_path):
    whole = train(spec(n_steps=30), tmp_path / "whole", device="cuda", compile=False)
    with pytest.raises(Crash):
        train(spec(n_steps=30), tmp_path / "cut", device="cuda", compile=False, on_step=crash_at(25))
    resumed = train(spec(n_steps=30), tmp_path / "cut", device="cuda", compile=False)
    assert resumed.resumed_from_step == 20
    # the same kernels on the same inputs; only atomics in the embedding's backward may reorder sums
    assert resumed.loss == pytest.approx(whole.loss, rel=1e-3)


def test_a_gpu_checkpoint_resumes_on_the_cpu(tmp_path):
    whole = train(spec(n_steps=30), tmp_path / "whole", device="cuda", compile=False)
    with pytest.raises(Crash):
        train(spec(n_steps=30), tmp_path / "cut", device="cuda", compile=False, on_step=crash_at(25))
    resumed = train(spec(n_steps=30), tmp_path / "cut", device="cpu")
    assert resumed.resumed_from_step == 20 and resumed.device == "cpu"
    assert resumed.loss == pytest.approx(whole.loss, rel=0.02)


def test_cuda_cooldown_from_a_trunk_equals_the_whole_run(tmp_path):
    wsd = dict(schedule="wsd", warmup_steps=3, final_lr_ratio=0.0)
    train(spec(n_steps=30, keep_checkpoints=(12, 24), **wsd), tmp_path / "trunk", device="cuda", compile=False)
    for branch in (12, 24):
        cooldown = spec(n_steps=branch + 6, cooldown_steps=6, **wsd)
        whole = train(cooldown, tmp_path / f"whole{branch}", device="cuda", compile=False)
        cooled = train(cooldown, tmp_path / f"cool{branch}", device="cuda", compile=False,
                       init_from=tmp_path / "trunk" / rundir.branch_checkpoint(branch))
        assert cooled.resumed_from_step == branch
        assert cooled.loss == pytest.approx(whole.loss, rel=1e-3)


def test_cuda_wsd_sweep_through_the_cli(tmp_path):
    tiny = dict(schedule="wsd", budgets=[3e8, 6e8, 1.2e9], sizes=[1.2e3, 3e3], cooldown_fraction=0.25,
                batch_tokens=256, peak_lr=0.01, head_dim=8, seq_len=32, evals_per_run=4, checkpoints_per_run=4,
                eval_sequences=32, data={"source": "markov", "n_states": 16, "concentration": 0.3})
    design = demo_design(tiny)
    store.init_sweep(tmp_path, design)
    done = subprocess.run([sys.executable, "-m", "isoflop", "sweep", "run", str(tmp_path), "--device", "cuda",
                           "--no-compile", "--no-progress", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    statuses = [run["status"] for run in report["runs"]]
    assert statuses == ["done"] * len(design.runs), report
    table = store.export_table(tmp_path)
    assert sorted(table.run_id) == sorted(r.run_id for r in design.points)
    assert all(store.read_result(store.run_dir(tmp_path, r.run_id))["device"].startswith("cuda")
               for r in design.points)
