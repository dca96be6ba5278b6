"""A small GPT in plain PyTorch, sized by an `isoflop.flops.Architecture`.

References:
1) Karpathy, nanoGPT ``model.py`` (github.com/karpathy/nanoGPT), whose layout this follows: pre-norm blocks,
   fused QKV, GELU MLP, learned position embeddings, LayerNorm with optional bias, tied embeddings.
2) Radford et al. 2019, "Language Models are Unsupervised Multitask Learners" (GPT-2): the initialisation,
   N(0, 0.02) with residual projections scaled by 1/√(2·n_layer).

The parameter count of ``GPT(arch)`` equals ``arch.n_params`` exactly (tests check it for tied/untied heads,
with and without biases): the scaling-law fits downstream are only as good as the N they are given.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch.nn import functional as F

from ..flops import Architecture


class CausalSelfAttention(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        self.n_head = arch.n_head
        self.c_attn = nn.Linear(arch.d_model, 3 * arch.d_model, bias=arch.bias)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(arch.d_model, arch.d_model, bias=arch.bias)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # flash attention where available
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, arch: Architecture):
        super().__init__()
        self.c_fc = nn.Linear(arch.d_model, arch.d_ff, bias=arch.bias)
        self.c_proj = nn.Linear(arch.d_ff, arch.d_model, bias=arch.bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x)))


class Block(nn.Module):
    """Pre-norm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.ln_1 = nn.LayerNorm(arch.d_model, bias=arch.bias)
        self.attn = CausalSelfAttention(arch)
        self.ln_2 = nn.LayerNorm(arch.d_model, bias=arch.bias)
        self.mlp = MLP(arch)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Decoder-only transformer. ``forward(idx, targets)`` returns (logits, mean cross-entropy in nats)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.arch = arch
        self.wte = nn.Embedding(arch.vocab_size, arch.d_model)
        # learned_pos=False means no position embedding at all (NoPE): the causal mask alone carries order.
        self.wpe = nn.Embedding(arch.seq_len, arch.d_model) if arch.learned_pos else None
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch.n_layer))
        self.ln_f = nn.LayerNorm(arch.d_model, bias=arch.bias)
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
