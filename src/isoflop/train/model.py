"""A small GPT in plain PyTorch, sized by an `isoflop.flops.Architecture`: a GPT-2 block or a Llama block.

References:
1) Karpathy, nanoGPT ``model.py`` (github.com/karpathy/nanoGPT), whose layout this follows: pre-norm blocks,
   fused QKV, GELU MLP, learned position embeddings, LayerNorm with optional bias, tied embeddings.
2) Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2): the initialisation,
   N(0, 0.02) with residual projections scaled by 1/√(2·n_layer).
3) Touvron et al. 2023, "LLaMA" / "Llama 2": RMSNorm (Zhang & Sennrich 2019), SwiGLU MLP (Shazeer 2020),
   rotary position embeddings (Su et al. 2021), no biases, untied output head; grouped-query attention
   (Ainslie et al. 2023). Which pieces a model uses follows the Architecture's fields (``norm``, ``mlp``,
   ``position``, ``n_kv_head``, ``bias``, ``tied_embeddings``); ``isoflop.flops.BLOCKS`` names the two sets.

The parameter count of ``GPT(arch)`` equals ``arch.n_params`` exactly (tests check it for tied/untied heads,
with and without biases, for both blocks): the scaling-law fits downstream are only as good as the N they are
given. Relative (Transformer-XL) positions and mixtures of experts are counted by isoflop.flops but not built
here.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..flops import Architecture


def _norm(arch: Architecture) -> nn.Module:
    """LayerNorm (gain, and a shift when arch.bias) or RMSNorm (gain only, Zhang & Sennrich 2019)."""
    if arch.norm == "rmsnorm":
        return nn.RMSNorm(arch.d_model, eps=1e-5)
    return nn.LayerNorm(arch.d_model, bias=arch.bias)


def rotary_tables(seq_len: int, head_dim: int, base: float = 10000.0):
    """cos and sin of the rotary angles t·θ_i, θ_i = base^(−2i/head_dim), each of shape (seq_len, head_dim/2)
    (Su et al. 2021, eq. 15; base 10,000 as in RoFormer and Llama 2)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x, cos, sin):
    """Rotate each pair (x_2i, x_2i+1) of the last dimension by its angle; x is (B, heads, T, head_dim)."""
    x1, x2 = x[..., 0::2], x[..., 1::2]
    T = x.shape[-2]
    c, s = cos[:T], sin[:T]
    # the tables are float32: cast back so bf16 queries/keys under autocast stay bf16 like the values
    return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2).to(x.dtype)


class CausalSelfAttention(nn.Module):
    """Multi-head (n_kv_head = n_head) or grouped-query attention (each key/value head serves n_head /
    n_kv_head query heads), with rotary positions when arch.position == 'rotary'."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = arch.n_head, arch.n_kv_head, arch.head_dim
        q_dim, kv_dim = arch.n_head * arch.head_dim, arch.n_kv_head * arch.head_dim
        self.c_attn = nn.Linear(arch.d_model, q_dim + 2 * kv_dim, bias=arch.bias)  # q, k, v at once
        self.c_proj = nn.Linear(q_dim, arch.d_model, bias=arch.bias)
        self.rotary = arch.position == "rotary"
        if self.rotary:  # buffers, not parameters: they add nothing to the count
            cos, sin = rotary_tables(arch.seq_len, arch.head_dim)
            self.register_buffer("cos", cos, persistent=False)
            self.register_buffer("sin", sin, persistent=False)

    def forward(self, x):
        B, T, _ = x.shape
        q_dim, kv_dim = self.n_head * self.head_dim, self.n_kv_head * self.head_dim
        q, k, v = self.c_attn(x).split((q_dim, kv_dim, kv_dim), dim=2)
        # (B, T, heads·head_dim) -> (B, heads, T, head_dim)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)
        k, v = (t.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2) for t in (k, v))
        if self.rotary:
            q, k = apply_rotary(q, self.cos, self.sin), apply_rotary(k, self.cos, self.sin)
        if self.n_kv_head != self.n_head:  # share each key/value head across its group of query heads
            group = self.n_head // self.n_kv_head
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # flash attention where available
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, q_dim))


class MLP(nn.Module):
    """GELU MLP (GPT-2) or a gated one: SwiGLU / GeGLU, down(act(gate(x)) · up(x)) (Shazeer 2020)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.kind = arch.mlp
        self.c_fc = nn.Linear(arch.d_model, arch.d_ff, bias=arch.bias)
        self.c_gate = nn.Linear(arch.d_model, arch.d_ff, bias=arch.bias) if arch.mlp != "gelu" else None
        self.c_proj = nn.Linear(arch.d_ff, arch.d_model, bias=arch.bias)

    def forward(self, x):
        if self.c_gate is None:
            return self.c_proj(F.gelu(self.c_fc(x)))
        act = F.silu if self.kind == "swiglu" else F.gelu
        return self.c_proj(act(self.c_gate(x)) * self.c_fc(x))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.ln_1 = _norm(arch)
        self.attn = CausalSelfAttention(arch)
        self.ln_2 = _norm(arch)
        self.mlp = MLP(arch)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only transformer. ``forward(idx, targets)`` returns (logits, mean cross-entropy in nats)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        if arch.position == "relative" or arch.n_experts > 1:
            raise ValueError(f"the training model builds learned, rotary or no positions and dense MLPs; "
                             f"got position={arch.position!r}, n_experts={arch.n_experts}")
        self.arch = arch
        self.wte = nn.Embedding(arch.vocab_size, arch.d_model)
        # position 'none' means no position signal at all (NoPE): the causal mask alone carries order;
        # 'rotary' rotates queries and keys inside attention instead.
        self.wpe = nn.Embedding(arch.seq_len, arch.d_model) if arch.learned_pos else None
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch.n_layer))
        self.ln_f = _norm(arch)
        self.lm_head = nn.Linear(arch.d_model, arch.vocab_size, bias=False)
        if arch.tied_embeddings:
            self.lm_head.weight = self.wte.weight  # weight tying (Press & Wolf 2017); counted once
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: scale residual projections by 1/sqrt(2 * n_layer)
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * arch.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def n_params(self) -> int:
        """Total parameters, shared tensors counted once (``parameters()`` deduplicates the tied head)."""
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        if T > self.arch.seq_len:
            raise ValueError(f"sequence of length {T} is longer than the model's seq_len {self.arch.seq_len}")
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def optimizer_groups(self, weight_decay: float):
        """AdamW parameter groups: decay matrices (dim ≥ 2, embeddings included), not biases or LayerNorm
        gains — nanoGPT's ``configure_optimizers`` rule."""
        params = [p for p in self.parameters() if p.requires_grad]
        return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
