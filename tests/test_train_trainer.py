"""The trainer: CPU determinism, exact resume from checkpoints, and the Markov entropy floor."""


import numpy as np
import pytest

pytest.importorskip("torch")

from isoflop.errors import InputError  # noqa: E402
from isoflop.flops import Architecture  # noqa: E402
from isoflop.train import rundir  # noqa: E402
from isoflop.train.data import load_source  # noqa: E402
from isoflop.train.spec import DataSpec, TrainSpec  # noqa: E402
from isoflop.train.trainer import train  # noqa: E402

MARKOV = DataSpec(source="markov", n_states=8, concentration=0.5, seed=3)


def tiny_spec(n_steps=30, data=MARKOV, **kw):
    arch = Architecture(n_layer=1, d_model=16, n_head=2, vocab_size=data.n_vocab, seq_len=16)
    return TrainSpec(arch=arch, n_steps=n_steps, batch_size=8, peak_lr=0.01, warmup_steps=3, data=data,
                     eval_every=10, eval_sequences=32, checkpoint_every=10, **kw)


def test_cpu_runs_are_deterministic(tmp_path):
    spec = tiny_spec()
    a = train(spec, tmp_path / "a", device="cpu")
    b = train(spec, tmp_path / "b", device="cpu")
    rows_a = rundir.read_jsonl(tmp_path / "a" / "metrics.jsonl")
    rows_b = rundir.read_jsonl(tmp_path / "b" / "metrics.jsonl")
    assert [r["step"] for r in rows_a] == [10, 20, 30]
    assert [(r["loss"], r["train_loss"]) for r in rows_a] == [(r["loss"], r["train_loss"]) for r in rows_b]
    assert a.loss == b.loss and a.train_loss == b.train_loss
    # the curve is recorded against tokens and FLOPs of the exact parameter count
    assert rows_a[-1]["n_tokens"] == spec.n_tokens == 30 * 8 * 16
    assert rows_a[-1]["flops"] == pytest.approx(6 * spec.arch.n_params * spec.n_tokens)
    assert a.n_params == spec.arch.n_params and a.flops == pytest.approx(spec.flops)
    assert not a.compiled  # torch.compile is a CUDA default only (train.spec.compile_pays)


@pytest.mark.parametrize("checkpoint_every, crash_at, resumed_from", [(10, 25, 20), (7, 29, 28)])
def test_resume_after_a_crash_gives_the_uninterrupted_result(tmp_path, checkpoint_every, crash_at, resumed_from):
    """Evaluations every 10 steps. With checkpoints every 7 a run resumed from step 28 logged at step 30 the mean
    of steps 29-30 alone as train_loss (1.8346 for 1.8436): the checkpoint now keeps the window's step losses."""
    from dataclasses import replace

    spec = replace(tiny_spec(), checkpoint_every=checkpoint_every)
    whole = train(spec, tmp_path / "whole", device="cpu")

    class Crash(Exception):
        pass

    def crash(done, n_steps, row):
        if done == crash_at:
            raise Crash

    with pytest.raises(Crash):
        train(spec, tmp_path / "cut", device="cpu", on_step=crash)
    with open(tmp_path / "cut" / "metrics.jsonl", "a") as f:
        f.write('{"step": 26, "loss": 1.2')  # a line torn by the kill
    resumed = train(spec, tmp_path / "cut", device="cpu")
    assert resumed.resumed_from_step == resumed_from
    assert resumed.loss == whole.loss and resumed.train_loss == whole.train_loss
    rows = rundir.read_jsonl(tmp_path / "cut" / "metrics.jsonl")
    assert [(r["step"], r["loss"], r["train_loss"]) for r in rows] == [
        (r["step"], r["loss"], r["train_loss"]) for r in rundir.read_jsonl(tmp_path / "whole" / "metrics.jsonl")]
    assert [r["step"] for r in rows] == [10, 20, 30]


def test_checkpoint_of_another_spec_is_refused(tmp_path):
    train(tiny_spec(n_steps=10), tmp_path, device="cpu")
    with pytest.raises(InputError, match="different run spec"):
        train(tiny_spec(n_steps=20), tmp_path, device="cpu")


def test_missing_data_file_names_the_path(tmp_path):
    data = DataSpec(source="text", paths=(str(tmp_path / "missing.txt"),))
    with pytest.raises(InputError, match="missing.txt"):
        train(tiny_spec(data=data), device="cpu")


def test_trained_loss_approaches_but_stays_above_the_entropy_rate():
    data = DataSpec(source="markov", n_states=8, concentration=0.5, seed=3)
    source = load_source(data)
    H = source.entropy_rate
    arch = Architecture(n_layer=1, d_model=16, n_head=1, vocab_size=8, seq_len=32)

    def final_loss(n_steps):
        spec = TrainSpec(arch=arch, n_steps=n_steps, batch_size=16, peak_lr=0.01, warmup_steps=10, data=data,
                         eval_every=n_steps, eval_sequences=512)
        return train(spec, source=source, device="cpu").loss

    short, long = final_loss(40), final_loss(300)
    # Paired oracle: the true chain's loss on the very same validation tokens. The model's excess over it
    # is an empirical KL divergence, ≥ 0 up to a tiny sampling wobble.
    perfect = source.chain.log_loss(source.val_batch(512, 32))
    assert abs(perfect - H) < 0.02  # the validation sample is typical
    assert long > perfect - 2e-3
    assert short > long  # more training approaches the floor ...
    assert long - H < 0.03  # ... and gets within 0.03 nats of it (ln 8 = 2.08 at the start)
    assert short - H > 2 * (long - H)


def test_training_leaves_subnormals_as_they_were(tmp_path):
    # the trainer flushes subnormals to zero for speed while it trains; the flag is process-wide, so it must
    # be off again afterwards (a fit or a test in the same process relies on IEEE arithmetic)
    import torch

    train(tiny_spec(n_steps=10), tmp_path / "a", device="cpu")
    assert np.float32(1e-40) > 0 and bool(torch.tensor(1e-40) > 0)
