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
