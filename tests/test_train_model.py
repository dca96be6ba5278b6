"""The torch GPT has exactly the parameters isoflop.flops counts, and trains deterministically on CPU."""

import itertools

import pytest

torch = pytest.importorskip("torch")

from isoflop.flops import Architecture, propose_architecture  # noqa: E402
from isoflop.train.model import GPT  # noqa: E402


def _count(arch):
    model = GPT(arch)
    # independent count: unique tensors by identity (the tied head shares the embedding's storage)
    seen = {id(p): p.numel() for p in model.parameters()}
    return model.n_params, sum(seen.values())


@pytest.mark.parametrize("tied,bias,learned_pos", list(itertools.product([True, False], repeat=3)))
def test_param_count_equals_architecture(tied, bias, learned_pos):
    for n_layer, d_model, n_head, vocab, seq_len, d_ff in [(1, 8, 1, 256, 16, None), (2, 32, 4, 61, 24, None),
                                                           (3, 48, 3, 100, 8, 80)]:
        arch = Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=vocab, seq_len=seq_len,
                            d_ff=d_ff, tied_embeddings=tied, bias=bias, learned_pos=learned_pos)
        n_model, n_unique = _count(arch)
        assert n_model == n_unique == arch.n_params


def test_gpt2_small_count_on_meta_device():
    arch = Architecture(n_layer=12, d_model=768, n_head=12, vocab_size=50257, seq_len=1024)
    with torch.device("meta"):  # no memory, no init cost
        model = GPT(arch)
    assert model.n_params == arch.n_params == 124_439_808  # the published GPT-2 small count


def test_snapped_architectures_match():
    for target in (5e3, 2e4, 1e5):
        arch = propose_architecture(target, vocab_size=256, seq_len=64, head_dim=8, aspect_ratio=32, tolerance=0.3)
        assert GPT(arch).n_params == arch.n_params


def test_forward_shapes_and_initial_loss():
    torch.manual_seed(0)
    arch = Architecture(n_layer=2, d_model=32, n_head=2, vocab_size=50, seq_len=16)
    model = GPT(arch)
    idx, targets = torch.randint(0, 50, (3, 16)), torch.randint(0, 50, (3, 16))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 16, 50)
    # at initialisation the logits are ~0, so the loss is close to ln(vocab)
    assert abs(float(loss.detach()) - torch.log(torch.tensor(50.0)).item()) < 0.1
    with pytest.raises(ValueError, match="longer"):
        model(torch.zeros(1, 17, dtype=torch.long))


LLAMA = dict(mlp="swiglu", norm="rmsnorm", position="rotary", bias=False, tied_embeddings=False)


@pytest.mark.parametrize("n_kv_head,mlp,norm,position,bias,tied", [
    (4, "swiglu", "rmsnorm", "rotary", False, False),   # Llama-style, multi-head
    (2, "swiglu", "rmsnorm", "rotary", False, False),   # Llama-style, grouped-query
    (1, "geglu", "rmsnorm", "none", True, True),        # multi-query, GeGLU, biases (RMSNorm has none)
    (2, "gelu", "layernorm", "rotary", True, False),
])
def test_llama_family_param_count_equals_architecture(n_kv_head, mlp, norm, position, bias, tied):
    arch = Architecture(n_layer=2, d_model=32, n_head=4, n_kv_head=n_kv_head, vocab_size=61, seq_len=24, d_ff=72,
                        mlp=mlp, norm=norm, position=position, bias=bias, tied_embeddings=tied)
    n_model, n_unique = _count(arch)
    assert n_model == n_unique == arch.n_params


def test_llama_2_7b_count_on_meta_device():
    from isoflop.models import get_model
    arch = get_model("llama-2-7b").arch
    with torch.device("meta"):
        model = GPT(arch)
    assert model.n_params == arch.n_params == 6_738_415_616  # the released weights' count


def test_rotary_scores_depend_only_on_relative_position():
    # Su et al. 2021: <R(m)q, R(n)k> depends on m − n only.
    from isoflop.train.model import apply_rotary, rotary_tables
    torch.manual_seed(0)
    cos, sin = rotary_tables(16, 8)
    q, k = torch.randn(8), torch.randn(8)
    at = lambda v, pos: apply_rotary(v.expand(1, 1, 16, 8), cos, sin)[0, 0, pos]  # noqa: E731
    assert torch.dot(at(q, 5), at(k, 2)).item() == pytest.approx(torch.dot(at(q, 12), at(k, 9)).item(), rel=1e-5)
    assert torch.allclose(at(q, 0), q)  # position 0 is not rotated
    assert torch.allclose(at(q, 7).norm(), q.norm())  # rotations keep the norm


def test_gqa_equals_mha_with_repeated_key_value_heads():
    # A grouped-query model computes the same function as a multi-head one whose k/v heads are copies.
    torch.manual_seed(0)
    gqa_arch = Architecture(n_layer=1, d_model=16, n_head=4, n_kv_head=2, vocab_size=11, seq_len=8, **LLAMA)
    mha_arch = Architecture(n_layer=1, d_model=16, n_head=4, vocab_size=11, seq_len=8, **LLAMA)
    gqa, mha = GPT(gqa_arch), GPT(mha_arch)
    state = gqa.state_dict()
    w = state["blocks.0.attn.c_attn.weight"]  # rows: q (16), k (8), v (8)
    q, k, v = w[:16], w[16:24], w[24:32]
    rep = lambda t: t.view(2, 4, 16).repeat_interleave(2, dim=0).reshape(16, 16)  # noqa: E731
    state = {**state, "blocks.0.attn.c_attn.weight": torch.cat([q, rep(k), rep(v)])}
    mha.load_state_dict(state)
    idx = torch.randint(0, 11, (2, 8))
    assert torch.allclose(gqa(idx)[0], mha(idx)[0], atol=1e-5)


def test_llama_block_trains_a_few_steps():
    torch.manual_seed(0)
    arch = Architecture(n_layer=2, d_model=32, n_head=4, n_kv_head=2, vocab_size=16, seq_len=16, d_ff=64, **LLAMA)
    model = GPT(arch)
    opt = torch.optim.AdamW(model.optimizer_groups(0.1), lr=1e-2)
    idx = torch.randint(0, 16, (8, 16))
    targets = (idx + 1) % 16  # a deterministic successor map: learnable in a few steps
    first = None
    for _ in range(30):
        _, loss = model(idx, targets)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_unsupported_shapes_are_refused():
    with pytest.raises(ValueError, match="relative"):
        GPT(Architecture(n_layer=1, d_model=8, n_head=1, vocab_size=8, seq_len=8, position="relative"))


def test_llama_block_under_bf16_autocast():
    # The trainer runs CUDA steps under bf16 autocast; the rotary tables are float32, so the rotated queries and
    # keys must come back in the activations' dtype (CPU autocast exercises the same path).
    from isoflop.train.model import apply_rotary, rotary_tables
    cos, sin = rotary_tables(8, 4)
    assert apply_rotary(torch.randn(1, 2, 8, 4, dtype=torch.bfloat16), cos, sin).dtype == torch.bfloat16
    arch = Architecture(n_layer=1, d_model=16, n_head=4, n_kv_head=2, vocab_size=11, seq_len=8, **LLAMA)
    idx = torch.randint(0, 11, (2, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits, loss = GPT(arch)(idx, idx)
    assert logits.dtype == torch.bfloat16 and torch.isfinite(loss)
