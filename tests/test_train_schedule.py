"""Warm-up + cosine-to-10% schedule against its closed form (Hoffmann et al. 2022: cycle length = run)."""

import math

import numpy as np
import pytest

from isoflop.errors import InputError
from isoflop.flops import Architecture
from isoflop.train.spec import DataSpec, TrainSpec, learning_rate


def closed_form(t, peak, w, T, r=0.1):
    """lr after t updates (t = step + 1), written independently of the implementation."""
    if t <= w:
        return peak * t / w
    return r * peak + (1 - r) * peak * (1 + math.cos(math.pi * (t - w) / (T - w))) / 2


def test_schedule_matches_closed_form_everywhere():
    peak, w, T = 3e-3, 7, 53
    steps = np.arange(T)
    got = learning_rate(steps, peak_lr=peak, warmup_steps=w, n_steps=T)
    want = np.array([closed_form(s + 1, peak, w, T) for s in steps])
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_schedule_landmarks():
    peak, w, T = 1.0, 10, 110
    lr = lambda s: learning_rate(s, peak_lr=peak, warmup_steps=w, n_steps=T)  # noqa: E731
    assert lr(0) == pytest.approx(0.1)            # first update: peak / w
    assert lr(w - 1) == pytest.approx(peak)        # warm-up ends at the peak
    assert lr(T - 1) == pytest.approx(0.1 * peak)  # the last step uses exactly 10% of the peak
    assert lr(w - 1 + 50) == pytest.approx(0.55)   # half-way through the cosine: (1 + 0.1) / 2
    lrs = learning_rate(np.arange(T), peak_lr=peak, warmup_steps=w, n_steps=T)
    assert np.all(np.diff(lrs[:w]) > 0) and np.all(np.diff(lrs[w - 1:]) < 0)


def test_trainspec_schedule_length_is_the_run():
    arch = Architecture(n_layer=1, d_model=8, n_head=1, vocab_size=8, seq_len=16)
    spec = TrainSpec(arch=arch, n_steps=40, batch_size=4, peak_lr=0.02, warmup_steps=4,
                     data=DataSpec(source="markov", n_states=8))
    assert spec.lr(spec.n_steps - 1) == pytest.approx(0.002)
    assert spec.n_tokens == 40 * 4 * 16
    assert spec.flops == pytest.approx(6 * arch.n_params * spec.n_tokens)


def test_trainspec_rejects_vocab_mismatch():
    arch = Architecture(n_layer=1, d_model=8, n_head=1, vocab_size=9, seq_len=16)
    with pytest.raises(InputError, match="vocab_size"):
        TrainSpec(arch=arch, n_steps=4, batch_size=2, peak_lr=0.01, warmup_steps=1,
                  data=DataSpec(source="markov", n_states=8))
