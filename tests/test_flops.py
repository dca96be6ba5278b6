"""Parameter and FLOP accounting against published counts and the papers' own formulas."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isoflop.errors import InputError
from isoflop.flops import BLOCKS, CONVENTIONS, Architecture, propose_architecture

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
    # Hoffmann et al. 2022 appendix F as printed, counted per sequence as the paper does, then per token.
    per_seq = (2 * T * V * d
               + L * (2 * 3 * T * d * d + 2 * T * T * d + 3 * H * T * T + 2 * T * T * d + 2 * T * d * d
                      + 2 * T * (d * 4 * d + d * 4 * d))
               + 2 * T * d * V)
    assert a.flops_per_token("hoffmann-appendix-f-as-printed") == pytest.approx(3 * per_seq / T, rel=1e-12)
    # Table A4's count leaves the embedding and logit terms out.
    assert a.flops_per_token("hoffmann-table-a4") == pytest.approx(3 * (per_seq - 4 * T * V * d) / T, rel=1e-12)
    with pytest.raises(InputError):
        a.flops_per_token("bogus")
    with pytest.raises(InputError, match="hoffmann-table-a4"):
        a.flops_per_token("chinchilla")  # the old, ambiguous name says where the count went


def test_table_a4_close_to_6n_for_large_models():
    # Appendix F, Table A4: for large models the exact count is within a few percent of 6N.
    big = Architecture(n_layer=80, d_model=8192, n_head=64, vocab_size=32000, seq_len=2048, learned_pos=False)
    ratio = big.flops_per_token("hoffmann-table-a4") / big.flops_per_token("6N")
    assert 0.95 < ratio < 1.05


# Hoffmann et al. 2022, appendix F, Table A4: (n_layer, d_model, d_ff, n_head) and the printed ratio of the
# exact FLOPs to 6·N·D; vocab 32,000, seq 2048, relative positions (ORACLES.md). N is counted as nanoGPT's
# scaling_laws.ipynb chinchilla_params (its printed N column is the second oracle).
TABLE_A4 = [
    ((10, 640, 2560, 10), 73_825_280, 1.03),
    ((20, 1024, 4096, 16), 305_707_008, 1.10),
    ((24, 1280, 5120, 10), 552_604_160, 1.08),
    ((26, 1792, 7168, 14), 1_143_453_696, 1.04),
    ((28, 2048, 8192, 16), 1_593_126_912, 1.03),
    ((40, 3584, 14336, 28), 6_796_274_688, 0.99),
]


@pytest.mark.parametrize("shape,n_params,ratio", TABLE_A4)
def test_hoffmann_table_a4_ratios(shape, n_params, ratio):
    n_layer, d_model, d_ff, n_head = shape
    arch = Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=32000, seq_len=2048,
                        d_ff=d_ff, position="relative")
    assert arch.n_params == n_params
    assert arch.flops_per_token("hoffmann-table-a4") / (6 * arch.n_params) == pytest.approx(ratio, rel=0.01)


def test_appendix_f_as_printed_does_not_reproduce_table_a4():
    # The finding: counting the embedding lookup and the logits overstates the 73M model by ~53%.
    arch = Architecture(n_layer=10, d_model=640, n_head=10, vocab_size=32000, seq_len=2048, d_ff=2560,
                        position="relative")
    assert arch.flops_per_token("hoffmann-appendix-f-as-printed") / (6 * arch.n_params) == pytest.approx(1.58, abs=0.01)


def test_relative_positions_add_transformer_xl_projection():
    # Transformer-XL (Dai et al. 2019): per layer a d×d projection of the relative encodings and biases u, v.
    rotary = Architecture(4, 256, 4, 1000, 128, position="rotary")
    relative = Architecture(4, 256, 4, 1000, 128, position="relative")
    assert relative.n_params - rotary.n_params == 4 * (256 * 256 + 2 * 256)
    assert rotary.n_params == Architecture(4, 256, 4, 1000, 128, learned_pos=False).n_params


def test_llama_block_counts_by_hand():
    # One layer of a Llama block with GQA, counted matrix by matrix: no biases, RMSNorm gains only.
    d, H, K, f, V = 64, 8, 2, 96, 100
    arch = Architecture(1, d, H, V, 32, d_ff=f, n_kv_head=K, mlp="swiglu", norm="rmsnorm", position="rotary",
                        bias=False, tied_embeddings=False)
    h = d // H
    attention = d * d + 2 * d * K * h + d * d
    mlp = 3 * d * f
    assert arch.n_params == V * d + attention + mlp + 2 * d + d + V * d
    assert arch.n_params_embedding == 2 * V * d
    # Llama's d_ff rule: 2/3 of 4·d rounded up to 256 (d_model 4096 → 11008, 5120 → 13824, 8192 → 22016).
    assert [Architecture(1, d, 32, 8, 8, mlp="swiglu").d_ff for d in (4096, 5120, 8192)] == [11008, 13824, 22016]


def test_moe_total_active_and_flops():
    dense = Architecture(2, 128, 4, 500, 64, d_ff=256, mlp="swiglu", norm="rmsnorm", position="rotary", bias=False)
    moe = Architecture(2, 128, 4, 500, 64, d_ff=256, mlp="swiglu", norm="rmsnorm", position="rotary", bias=False,
                       n_experts=8, experts_per_token=2)
    expert = 3 * 128 * 256
    router = 128 * 8
    assert moe.n_params - dense.n_params == 2 * (7 * expert + router)
    assert moe.n_params_active - dense.n_params == 2 * (expert + router)
    assert moe.count("active") == moe.n_params_active and moe.count("total") == moe.n_params
    assert moe.flops_per_token("6N") == 6 * moe.n_params_active  # FLOPs follow the active parameters
    assert (moe.flops_per_token("hoffmann-table-a4") - dense.flops_per_token("hoffmann-table-a4")
            == 3 * 2 * (2 * 128 * 256 * 3 + 2 * 128 * 8))
    assert dense.n_params_active == dense.n_params


def test_gqa_shrinks_kv_projections_and_flops():
    mha = Architecture(2, 256, 8, 1000, 128, bias=False)
    gqa = Architecture(2, 256, 8, 1000, 128, bias=False, n_kv_head=2)
    assert mha.n_params - gqa.n_params == 2 * 2 * 256 * (256 - 64)
    assert (mha.flops_per_token("hoffmann-table-a4") - gqa.flops_per_token("hoffmann-table-a4")
            == 3 * 2 * 2 * 2 * 256 * (256 - 64))


def test_layernorm_vs_rmsnorm():
    ln = Architecture(3, 64, 2, 50, 16, bias=False)
    rms = Architecture(3, 64, 2, 50, 16, bias=False, norm="rmsnorm")
    assert ln.n_params == rms.n_params  # LayerNorm without bias is a gain only, like RMSNorm
    with_bias = Architecture(3, 64, 2, 50, 16, bias=True, norm="rmsnorm")
    assert with_bias.n_params - Architecture(3, 64, 2, 50, 16, bias=True).n_params == -(2 * 3 + 1) * 64


def test_invalid_architecture():
    with pytest.raises(InputError, match="divisible"):
        Architecture(n_layer=2, d_model=100, n_head=3, vocab_size=256, seq_len=64)
    with pytest.raises(InputError, match="n_layer"):
        Architecture(n_layer=0, d_model=64, n_head=1, vocab_size=256, seq_len=64)
    with pytest.raises(InputError, match="n_kv_head"):
        Architecture(n_layer=2, d_model=96, n_head=6, vocab_size=256, seq_len=64, n_kv_head=4)
    with pytest.raises(InputError, match="mlp"):
        Architecture(n_layer=2, d_model=64, n_head=2, vocab_size=256, seq_len=64, mlp="relu")
    with pytest.raises(InputError, match="contradicts"):
        Architecture(n_layer=2, d_model=64, n_head=2, vocab_size=256, seq_len=64, learned_pos=True, position="rotary")
    with pytest.raises(InputError, match="experts_per_token"):
        Architecture(n_layer=2, d_model=64, n_head=2, vocab_size=256, seq_len=64, n_experts=2, experts_per_token=3)


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
    assert set(CONVENTIONS) == {"6N", "kaplan", "palm", "hoffmann-table-a4", "hoffmann-appendix-f-as-printed"}


def test_propose_llama_block_counts_exactly():
    arch = propose_architecture(2e6, vocab_size=256, seq_len=64, head_dim=16, aspect_ratio=32, query_groups=2,
                                **BLOCKS["llama"])
    assert abs(arch.n_params / 2e6 - 1) <= 0.05
    assert (arch.mlp, arch.norm, arch.position, arch.bias, arch.tied_embeddings) == ("swiglu", "rmsnorm", "rotary",
                                                                                      False, False)
    assert arch.n_head % arch.n_kv_head == 0 and arch.n_kv_head <= max(1, arch.n_head // 2)
    assert arch.d_ff % 16 == 0


def test_stored_specs_of_older_versions_still_load():
    # Run stores written before this change hold only the GPT-2 fields; they must mean what they meant.
    old = dict(n_layer=2, d_model=64, n_head=2, vocab_size=256, seq_len=32, d_ff=256, tied_embeddings=True,
               bias=True, learned_pos=False)
    arch = Architecture(**old)
    assert (arch.position, arch.mlp, arch.norm, arch.n_kv_head) == ("none", "gelu", "layernorm", 2)
    from dataclasses import fields
    llama = Architecture(2, 64, 4, 256, 32, n_kv_head=2, **BLOCKS["llama"])
    assert Architecture(**{f.name: getattr(llama, f.name) for f in fields(llama)}) == llama


@settings(max_examples=25, deadline=None)
@given(log10_target=st.floats(4.0, 6.5), aspect=st.sampled_from([16.0, 64.0]), head_dim=st.sampled_from([8, 16]),
       tolerance=st.sampled_from([0.01, 0.05, 0.3]), count=st.sampled_from(["total", "non_embedding"]),
       block=st.sampled_from(sorted(BLOCKS)), query_groups=st.sampled_from([1, 2]))
def test_proposed_architecture_is_the_brute_force_searchs_choice(log10_target, aspect, head_dim, tolerance, count,
                                                                 block, query_groups):
    """The proposal searches only the depths a width can reach within tolerance (it searched every depth × width,
    9 ms a target). The oracle: every shape of up to 24 layers and d_model up to 4·√target, counted one by one
    with Architecture's exact integer counts, the rule of the docstring applied."""
    from isoflop.flops import _kv_heads, default_d_ff

    target, max_layers = 10.0**log10_target, 24
    kw = dict(vocab_size=256, seq_len=64, **BLOCKS[block])
    tied, bias = kw.pop("tied_embeddings", True), kw.pop("bias", True)
    best, best_key = None, None
    for n_layer in range(1, max_layers + 1):
        for n_head in range(1, max(8, int(4 * target**0.5 / head_dim) + 2) + 1):
            d_model = head_dim * n_head
            arch = Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, tied_embeddings=tied, bias=bias,
                                d_ff=int(default_d_ff(d_model, kw["mlp"], multiple_of=head_dim)),
                                n_kv_head=int(_kv_heads(n_head, query_groups)), **kw)
            n = arch.n_params if count == "total" else arch.n_params_non_embedding
            rel = abs(n / target - 1)
            if rel <= tolerance:
                key = abs(np.log(d_model / n_layer / aspect)) + 1e-3 * rel
                if best_key is None or key < best_key:
                    best, best_key = arch, key
    options = dict(aspect_ratio=aspect, head_dim=head_dim, count=count, tolerance=tolerance, max_layers=max_layers,
                   query_groups=query_groups, tied_embeddings=tied, bias=bias, **kw)
    if best is None:
        with pytest.raises(InputError, match="within"):
            propose_architecture(target, **options)
    else:
        assert propose_architecture(target, **options) == best
