"""Parameter and FLOP accounting against published counts and the papers' own formulas."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.flops import CONVENTIONS, Architecture, propose_architecture

GPT2_SMALL = Architecture(n_layer=12, d_model=768, n_head=12, vocab_size=50257, seq_len=1024)


def test_gpt2_small_parameter_count():
    assert GPT2_SMALL.n_params == 124_439_808  # ORACLES.md
    # nanoGPT reports the count without position embeddings.
    assert GPT2_SMALL.n_params - 1024 * 768 == 123_653_376
    assert GPT2_SMALL.n_params_embedding == 50257 * 768 + 1024 * 768
    assert GPT2_SMALL.n_params_non_embedding + GPT2_SMALL.n_params_embedding == GPT2_SMALL.n_params


def test_non_embedding_close_to_kaplan_approximation():
    # Kaplan et al. 2020: N ≈ 12·n_layer·d_model² (biases and LayerNorms are the small rest).
    approx = 12 * 12 * 768**2
    assert GPT2_SMALL.n_params_non_embedding == pytest.approx(approx, rel=0.002)


def test_untied_head_adds_a_vocabulary_matrix():
    untied = Architecture(12, 768, 12, 50257, 1024, tied_embeddings=False)
    assert untied.n_params - GPT2_SMALL.n_params == 50257 * 768
    assert untied.n_params_non_embedding == GPT2_SMALL.n_params_non_embedding


def test_flop_conventions():
    a = GPT2_SMALL
    L, d, T, V, H = 12, 768, 1024, 50257, 12
    assert a.flops_per_token("6N") == 6 * 124_439_808
    assert a.flops_per_token("kaplan") == 6 * a.n_params_non_embedding + 6 * L * T * d
    # nanoGPT's estimate_mfu: 6·N + 12·L·H·Q·T with N excluding position embeddings (tied model).
    assert a.flops_per_token("palm") == 6 * 123_653_376 + 12 * L * H * 64 * T
    # Hoffmann et al. 2022 appendix F, counted per sequence as the paper does, then per token.
    per_seq = (2 * T * V * d
               + L * (2 * 3 * T * d * d + 2 * T * T * d + 3 * H * T * T + 2 * T * T * d + 2 * T * d * d
                      + 2 * T * (d * 4 * d + d * 4 * d))
               + 2 * T * d * V)
    assert a.flops_per_token("chinchilla") == pytest.approx(3 * per_seq / T, rel=1e-12)
    with pytest.raises(InputError):
        a.flops_per_token("bogus")


def test_chinchilla_exact_close_to_6n_for_large_models():
    # Appendix F, Table A4: for large models the exact count is within a few percent of 6N.
    big = Architecture(n_layer=80, d_model=8192, n_head=64, vocab_size=32000, seq_len=2048, learned_pos=False)
    ratio = big.flops_per_token("chinchilla") / big.flops_per_token("6N")
    assert 0.95 < ratio < 1.15


def test_invalid_architecture():
    with pytest.raises(InputError, match="divisible"):
        Architecture(n_layer=2, d_model=100, n_head=3, vocab_size=256, seq_len=64)
    with pytest.raises(InputError, match="n_layer"):
        Architecture(n_layer=0, d_model=64, n_head=1, vocab_size=256, seq_len=64)


@settings(max_examples=40, deadline=None)
@given(log10_target=st.floats(5.5, 11.5), aspect=st.sampled_from([32.0, 64.0, 128.0]))
def test_proposed_architecture_within_5_percent(log10_target, aspect):
    target = 10.0**log10_target
    arch = propose_architecture(target, vocab_size=256, seq_len=256, aspect_ratio=aspect, head_dim=32)
    assert abs(arch.n_params / target - 1) <= 0.05
    assert arch.d_model % 32 == 0 and arch.n_head == arch.d_model // 32


def test_proposed_architecture_follows_aspect_rule():
    arch = propose_architecture(124e6, vocab_size=50257, seq_len=1024, aspect_ratio=64)
    assert (arch.n_layer, arch.d_model) == (12, 768)  # GPT-2 small is d_model = 64 · n_layer


def test_proposed_architecture_impossible_target():
    with pytest.raises(InputError, match="smallest"):
        propose_architecture(1e4, vocab_size=50257, seq_len=1024)


def test_conventions_listed():
    assert set(CONVENTIONS) == {"6N", "kaplan", "palm", "chinchilla"}
