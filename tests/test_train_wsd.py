"""Warmup-stable-decay (Hägele et al. 2024): the schedule against its closed form, and a cooldown branched
from a trunk's kept state against the same WSD run trained from scratch in one go."""

import math
from dataclasses import replace

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.flops import Architecture
from isoflop.train.spec import DataSpec, TrainSpec, wsd_learning_rate

MARKOV = DataSpec(source="markov", n_states=8, concentration=0.5, seed=3)


def closed_form(t, peak, w, T, c, shape, r):
    """lr after t updates, written from the paper's definitions independently of the implementation."""
    if t <= w:
        return peak * t / w
    if t <= T - c:
        return peak
    x = (t - (T - c)) / c
    f = 1 - x if shape == "linear" else 1 - math.sqrt(x)
    return peak * (r + (1 - r) * f)


@pytest.mark.parametrize("shape", ["linear", "1-sqrt"])
@pytest.mark.parametrize("r", [0.0, 0.1])
def test_wsd_schedule_matches_closed_form(shape, r):
    peak, w, T, c = 2e-3, 5, 61, 13
    steps = np.arange(T)
    got = wsd_learning_rate(steps, peak_lr=peak, warmup_steps=w, n_steps=T, cooldown_steps=c, shape=shape,
                            final_lr_ratio=r)
    want = [closed_form(s + 1, peak, w, T, c, shape, r) for s in steps]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_wsd_landmarks():
    lr = lambda s, shape="1-sqrt": wsd_learning_rate(s, peak_lr=1.0, warmup_steps=10, n_steps=110,  # noqa: E731
                                                     cooldown_steps=20, shape=shape)
    assert lr(9) == 1.0 and lr(89) == 1.0               # warm-up done; last stable step (t = S = 90)
    assert lr(99) == pytest.approx(1 - math.sqrt(0.5))  # half-way through a 1−sqrt cooldown: 0.2929
    assert lr(99, "linear") == pytest.approx(0.5)
    assert lr(109) == 0.0                                # the last step uses r·η = 0
    # no cooldown: a constant-LR trunk
    trunk = wsd_learning_rate(np.arange(50), peak_lr=1.0, warmup_steps=10, n_steps=50, cooldown_steps=0)
    assert np.all(trunk[9:] == 1.0)


def test_stable_phase_does_not_depend_on_the_run_length():
    a = wsd_learning_rate(np.arange(80), peak_lr=1.0, warmup_steps=4, n_steps=100, cooldown_steps=20)
    b = wsd_learning_rate(np.arange(80), peak_lr=1.0, warmup_steps=4, n_steps=400, cooldown_steps=80)
    np.testing.assert_array_equal(a, b)


def _spec(**kw):
    arch = Architecture(n_layer=1, d_model=16, n_head=2, vocab_size=8, seq_len=16)
    base = dict(arch=arch, n_steps=36, batch_size=8, peak_lr=0.01, warmup_steps=3, data=MARKOV, eval_every=6,
                eval_sequences=32, checkpoint_every=10, schedule="wsd", cooldown_steps=6, final_lr_ratio=0.0)
    return TrainSpec(**{**base, **kw})


def test_cosine_spec_dict_is_unchanged_and_wsd_round_trips():
    cosine = replace(_spec(), schedule="cosine", cooldown_steps=0)
    assert "schedule" not in cosine.to_dict() and "keep_checkpoints" not in cosine.to_dict()
    wsd = _spec(keep_checkpoints=(30, 10))
    assert wsd.keep_checkpoints == (10, 30)
    assert TrainSpec.from_dict(wsd.to_dict()) == wsd
    assert wsd.decay_start == 30 and cosine.decay_start == 36


@pytest.mark.parametrize("change, field", [
    (dict(schedule="step"), "schedule"), (dict(cooldown_shape="cubic"), "cooldown_shape"),
    (dict(cooldown_steps=37), "cooldown_steps"), (dict(keep_checkpoints=(0,)), "keep_checkpoints"),
    (dict(schedule="cosine"), "cooldown_steps")])
def test_bad_wsd_specs_name_the_field(change, field):
    with pytest.raises(InputError, match=field):
        _spec(**change)


def test_cooldown_from_a_trunk_equals_the_whole_run(tmp_path):
    pytest.importorskip("torch")
    from isoflop.train import rundir
    from isoflop.train.trainer import train

    # 14 lies between evaluations (every 6 steps): a cooldown from it logged as train_loss the mean of its own
    # steps alone, not of the steps since the last evaluation as the whole run does
    trunk = _spec(n_steps=30, cooldown_steps=0, keep_checkpoints=(12, 14, 24))
    train(trunk, tmp_path / "trunk", device="cpu")
    for branch in (12, 14, 24):
        whole = train(_spec(n_steps=branch + 6), tmp_path / f"whole{branch}", device="cpu")
        cooled = train(_spec(n_steps=branch + 6), tmp_path / f"cool{branch}", device="cpu",
                       init_from=tmp_path / "trunk" / rundir.branch_checkpoint(branch))
        assert cooled.resumed_from_step == branch
        assert cooled.loss == whole.loss and cooled.train_loss == whole.train_loss  # same state, bit for bit
        rows = rundir.read_jsonl(tmp_path / f"cool{branch}" / "metrics.jsonl")
        whole_rows = [r for r in rundir.read_jsonl(tmp_path / f"whole{branch}" / "metrics.jsonl") if r["step"] > branch]
        assert [(r["step"], r["train_loss"]) for r in rows] == [(r["step"], r["train_loss"]) for r in whole_rows]
    # a trunk state from another stable phase, or taken at the wrong step, is refused
    with pytest.raises(InputError, match="another stable phase"):
        train(_spec(n_steps=18, peak_lr=0.02), tmp_path / "x", device="cpu",
              init_from=tmp_path / "trunk" / rundir.branch_checkpoint(12))
    with pytest.raises(InputError, match="holds step 12"):
        train(_spec(n_steps=20), tmp_path / "y", device="cpu",
              init_from=tmp_path / "trunk" / rundir.branch_checkpoint(12))
    with pytest.raises(InputError, match="missing"):
        train(_spec(n_steps=20), tmp_path / "z", device="cpu", init_from=tmp_path / "trunk" / "branch-16.pt")


def test_a_trunk_killed_after_a_branch_point_resumes_from_it(tmp_path):
    """A trunk killed between a branch point and its next checkpoint.pt restarted from its older checkpoint (or
    from 0), though branch-N.pt holds its whole state: up to a quarter of every trunk redone per interruption.
    It now resumes from the newest branch state, bit for bit as the uninterrupted trunk."""
    pytest.importorskip("torch")
    from isoflop.train import rundir
    from isoflop.train.trainer import train

    trunk = _spec(n_steps=30, cooldown_steps=0, keep_checkpoints=(12, 24), checkpoint_every=100)
    whole = train(trunk, tmp_path / "whole", device="cpu")
    folder = tmp_path / "killed"
    train(trunk, folder, device="cpu")
    (folder / rundir.CHECKPOINT).unlink()  # as if killed at step 25-29: branch-12.pt and branch-24.pt exist
    rows = rundir.read_jsonl(folder / rundir.METRICS)
    resumed = train(trunk, folder, device="cpu")
    assert resumed.resumed_from_step == 24 and any("branch-24.pt" in note for note in resumed.notes)
    assert resumed.loss == whole.loss and resumed.train_loss == whole.train_loss
    def timeless(table):
        return [{k: v for k, v in row.items() if k != "seconds"} for row in table]

    assert timeless(rundir.read_jsonl(folder / rundir.METRICS)) == timeless(rows)  # after step 24: redone, equal
