"""Parameter and training-FLOP accounting for decoder-only transformers.

The architecture is GPT-2-like (nanoGPT): token embeddings, optional learned position embeddings, n_layer
pre-norm blocks of attention (fused QKV and an output projection) and a 2-layer MLP, LayerNorms, a final
LayerNorm and an output head that may share the token embedding.

FLOP conventions (training = forward + backward, per token):
- ``6N``:  6 · total parameters (Hoffmann et al. 2022 / Kaplan et al. 2020 approximation, C = 6·N·D).
- ``kaplan``: 6·N_ne + 6·n_layer·seq_len·d_attn, N_ne = non-embedding parameters
  (Kaplan et al. 2020, Table 1: C_forward = 2N + 2·n_layer·n_ctx·d_attn, training ≈ 3× forward).
- ``palm``: 6·N_mm + 12·n_layer·n_head·head_dim·seq_len (Chowdhery et al. 2022, PaLM, appendix B), with
  N_mm the parameters that enter a matmul: all but the position embeddings and, for untied models, the
  input embedding. For a tied model this is nanoGPT's MFU estimate.
- ``chinchilla``: Hoffmann et al. 2022, appendix F, exact: per token forward = 2·V·d (embeddings)
  + n_layer·[2·3·d·d_attn + 2·T·d_attn + 3·H·T + 2·T·d_attn + 2·d_attn·d + 2·2·d·d_ff] + 2·d·V (logits);
  backward = 2 × forward.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .errors import InputError

CONVENTIONS = ("6N", "kaplan", "palm", "chinchilla")


def _counts(n_layer, d_model, d_ff, vocab_size, seq_len, tied, bias, learned_pos):
    """(total, embedding) parameter counts; elementwise on NumPy integer arrays as well as on ints."""
    b = 1 if bias else 0
    layer_norm = d_model * (1 + b)
    attn = d_model * 3 * d_model + 3 * d_model * b + d_model * d_model + d_model * b
    mlp = d_model * d_ff + d_ff * b + d_ff * d_model + d_model * b
    per_layer = 2 * layer_norm + attn + mlp
    embedding = vocab_size * d_model + (seq_len * d_model if learned_pos else 0)
    head = 0 if tied else vocab_size * d_model  # nanoGPT's lm_head has no bias
    total = embedding + n_layer * per_layer + layer_norm + head
    return total, embedding + head


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer shape. ``d_ff`` defaults to 4·d_model; head_dim = d_model / n_head."""

    n_layer: int
    d_model: int
    n_head: int
    vocab_size: int
    seq_len: int
    d_ff: int | None = None
    tied_embeddings: bool = True
    bias: bool = True
    learned_pos: bool = True

    def __post_init__(self):
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", 4 * self.d_model)
        for name in ("n_layer", "d_model", "n_head", "vocab_size", "seq_len", "d_ff"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise InputError(f"architecture: {name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.d_model % self.n_head:
            raise InputError(f"architecture: d_model {self.d_model} is not divisible by n_head {self.n_head}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    def _counts(self):
        return _counts(self.n_layer, self.d_model, self.d_ff, self.vocab_size, self.seq_len,
                       self.tied_embeddings, self.bias, self.learned_pos)

    @property
    def n_params(self) -> int:
        """Total parameters, each shared tensor counted once (GPT-2 small: 124,439,808)."""
        return self._counts()[0]

    @property
    def n_params_embedding(self) -> int:
        """Token and position embeddings, plus the output head when it is not tied."""
        return self._counts()[1]

    @property
    def n_params_non_embedding(self) -> int:
        """Total minus embeddings: Kaplan et al.'s N (≈ 12·n_layer·d_model² for d_ff = 4·d_model)."""
        total, emb = self._counts()
        return total - emb

    @property
    def n_params_matmul(self) -> int:
        """Parameters that enter a matmul: non-embedding plus the output head (PaLM's N)."""
        return self.n_params_non_embedding + self.vocab_size * self.d_model

    def flops_per_token(self, convention: str = "6N") -> float:
        """Training FLOPs (forward + backward) per token under a convention from CONVENTIONS."""
        L, d, T, H, V = self.n_layer, self.d_model, self.seq_len, self.n_head, self.vocab_size
        if convention == "6N":
            return 6.0 * self.n_params
        if convention == "kaplan":
            return 6.0 * self.n_params_non_embedding + 6.0 * L * T * d
        if convention == "palm":
            return 6.0 * self.n_params_matmul + 12.0 * L * H * self.head_dim * T
        if convention == "chinchilla":
            attention = 2 * 3 * d * d + 2 * T * d + 3 * H * T + 2 * T * d + 2 * d * d
            dense = 2 * 2 * d * self.d_ff
            forward = 2 * V * d + L * (attention + dense) + 2 * d * V
            return 3.0 * forward
        raise InputError(f"unknown FLOP convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(n_params=self.n_params, n_params_non_embedding=self.n_params_non_embedding,
                   n_params_embedding=self.n_params_embedding,
                   flops_per_token={c: self.flops_per_token(c) for c in CONVENTIONS})
        return out


def propose_architecture(target_n_params: float, *, vocab_size: int, seq_len: int, aspect_ratio: float = 64.0,
                         head_dim: int = 64, count: str = "total", tied_embeddings: bool = True,
                         bias: bool = True, learned_pos: bool = True, max_layers: int = 256,
                         tolerance: float = 0.05) -> Architecture:
    """A real shape whose exact parameter count lands within ``tolerance`` of a target.

    Rule: d_model is a multiple of ``head_dim`` (n_head = d_model / head_dim), d_ff = 4·d_model, and among
    all shapes whose count ``count`` ('total' or 'non_embedding') is within tolerance, the one whose
    d_model / n_layer is closest (in log ratio) to ``aspect_ratio`` wins; ties go to the closer count.
    Aspect ratio 64 is nanochat's d_model = 64·depth rule; Kaplan et al. 2020 (fig. 5) found loss flat for
    d_model/n_layer between about 20 and 200.
    """
    if count not in ("total", "non_embedding"):
        raise InputError(f"count must be 'total' or 'non_embedding', got {count!r}")
    layers = np.arange(1, max_layers + 1)[:, None]
    d_model = head_dim * np.arange(1, 1 + max(8, int(4 * (target_n_params ** 0.5) / head_dim) + 2))[None, :]
    total, emb = _counts(layers, d_model, 4 * d_model, vocab_size, seq_len, tied_embeddings, bias, learned_pos)
    n = total if count == "total" else total - emb
    rel = np.abs(n / target_n_params - 1.0)
    ok = rel <= tolerance
    if not ok.any():
        smallest = int(n.min())
        raise InputError(f"no architecture with head_dim {head_dim} has {count} parameters within "
                         f"{tolerance:.0%} of {target_n_params:.4g} (the smallest has {smallest:,}); "
                         f"choose a larger target or a smaller head_dim/vocab_size")
    aspect_miss = np.abs(np.log(d_model / layers / aspect_ratio))
    score = np.where(ok, aspect_miss + 1e-3 * rel, np.inf)
    i, j = np.unravel_index(np.argmin(score), score.shape)
    dm = int(d_model[0, j])
    return Architecture(n_layer=int(layers[i, 0]), d_model=dm, n_head=dm // head_dim, vocab_size=vocab_size,
                        seq_len=seq_len, tied_embeddings=tied_embeddings, bias=bias, learned_pos=learned_pos)
