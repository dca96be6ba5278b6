"""Parameter and training-FLOP accounting for decoder-only transformers (GPT-2, Llama, Gopher/Chinchilla, MoE).

A model is token embeddings, optional learned position embeddings, n_layer pre-norm blocks of attention and
an MLP (or a mixture of MLP experts), a final norm and an output head that may share the token embedding.

Per block (d = d_model, H = n_head, K = n_kv_head, h = head_dim = d / H, f = d_ff, E = n_experts):
- attention: W_q d×H·h, W_k and W_v d×K·h each (grouped-query attention, Ainslie et al. 2023; K = H is
  multi-head attention), W_o H·h×d; biases H·h + 2·K·h + d when ``bias``.
- relative positions (Transformer-XL, Dai et al. 2019, as used by Gopher, Rae et al. 2021, and Chinchilla,
  Hoffmann et al. 2022): a projection W_R d×H·h of the sinusoidal relative encodings plus the two global
  biases u and v (H·h each), per layer. This is what nanoGPT's ``chinchilla_params`` counts, and with it the
  Chinchilla appendix Table A9 counts come out (the 16,183M model: 16,184M counted).
  Rotary (Su et al. 2021) and no position embedding add no parameters; learned ones add seq_len×d.
- MLP: ``gelu`` 2 matrices d×f (Vaswani et al. 2017; GPT-2); ``swiglu`` / ``geglu`` 3 matrices d×f (gate, up,
  down; Shazeer 2020, "GLU Variants Improve Transformer"); biases f + d (or 2f + d for gated) when ``bias``.
- mixture of experts: E copies of the MLP and a router d×E (no bias; Mixtral, Jiang et al. 2024); each token
  uses ``experts_per_token`` of them (Fedus et al. 2021; Shazeer et al. 2017).
- norms: LayerNorm has a gain and (with ``bias``) a shift, d·(1 + bias); RMSNorm (Zhang & Sennrich 2019) has
  only a gain, d. Two per block and one final.

Parameter conventions (``PARAM_CONVENTIONS``): ``total`` (every tensor once; a tied head is the embedding),
``non_embedding`` (total minus the token and position embeddings and an untied head: Kaplan et al. 2020's N)
and ``active`` (the parameters one token uses: total minus the experts it does not visit; = total if dense).

Training FLOPs per token (forward + backward = 3 × forward; ``CONVENTIONS``), all from ACTIVE parameters:
- ``6N``: 6 · active parameters (Kaplan et al. 2020, Hoffmann et al. 2022: C = 6·N·D).
- ``kaplan``: 6·N_ne + 6·n_layer·seq_len·d_attn, N_ne = active non-embedding parameters, d_attn = H·h
  (Kaplan et al. 2020, Table 1: C_forward = 2N + 2·n_layer·n_ctx·d_attn).
- ``palm``: 6·N_mm + 12·n_layer·H·h·seq_len (Chowdhery et al. 2022, PaLM, appendix B), N_mm the active
  parameters that enter a matmul: non-embedding plus the output head. For a tied GPT this is nanoGPT's MFU.
- ``hoffmann-table-a4``: Hoffmann et al. 2022, appendix F, per layer and per token, forward =
  2·d·(H·h + 2·K·h) (Q, K, V) + 2·T·H·h (logits) + 3·H·T (softmax) + 2·T·H·h (weighted values)
  + 2·H·h·d (output) + k·2·d·f·m (the k active experts' MLP, m = 2 matrices or 3 if gated) + 2·d·E (router,
  MoE only); training = 3 × forward; embeddings, logits and the relative-position projection left out. This is
  the count that reproduces appendix Table A4's ratios to 6ND (73M 1.03 … 6.8B 0.99) to ~0.5%: the authors
  confirmed the appendix's embedding and logit terms were a typo (nanoGPT ``scaling_laws.ipynb``).
- ``hoffmann-appendix-f-as-printed``: the same plus 2·V·d for the embedding lookup and 2·d·V for the logits,
  as appendix F prints it. It does NOT reproduce Table A4 (73M: 1.58 against the table's 1.03); kept only to
  compare with tools that copied the appendix.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .errors import InputError
from .units import is_number

CONVENTIONS = ("6N", "kaplan", "palm", "hoffmann-table-a4", "hoffmann-appendix-f-as-printed")
PARAM_CONVENTIONS = ("total", "non_embedding", "active")
MLP_KINDS = ("gelu", "swiglu", "geglu")
NORMS = ("layernorm", "rmsnorm")
POSITIONS = ("learned", "rotary", "relative", "none")

# The two block families a sweep can train (isoflop.train.model builds both): keyword arguments of
# Architecture / propose_architecture. gpt2: Radford et al. 2019 as in nanoGPT. llama: Touvron et al. 2023
# (RMSNorm, SwiGLU, rotary, no biases, untied head) with grouped-query attention (Llama 2 70B, Llama 3).
BLOCKS = {
    "gpt2": dict(mlp="gelu", norm="layernorm", position="learned", bias=True, tied_embeddings=True),
    "llama": dict(mlp="swiglu", norm="rmsnorm", position="rotary", bias=False, tied_embeddings=False),
}


def default_d_ff(d_model, mlp: str = "gelu", multiple_of: int = 256):
    """The MLP width a family uses when none is given.

    gelu: 4·d_model (Vaswani et al. 2017; GPT-2). Gated (swiglu, geglu): 2/3 of 4·d_model, so the three
    matrices hold as many parameters as two of width 4·d_model, rounded up to a multiple of ``multiple_of``
    (Llama's rule, Touvron et al. 2023, reference code ``multiple_of=256``: d_model 4096 → 11008).
    """
    d_model = np.asarray(d_model)
    if mlp == "gelu":
        out = 4 * d_model
    else:
        hidden = (8 * d_model) // 3
        out = multiple_of * ((hidden + multiple_of - 1) // multiple_of)
    return int(out) if out.ndim == 0 else out


def _counts(n_layer, d_model, n_head, n_kv_head, d_ff, vocab_size, seq_len, *, tied, bias, mlp, norm, position,
            n_experts=1, experts_per_token=1):
    """(total, embedding, inactive experts) parameter counts; elementwise on NumPy integer arrays as well."""
    b = 1 if bias else 0
    head_dim = d_model // n_head
    q_dim, kv_dim = n_head * head_dim, n_kv_head * head_dim
    norm_params = d_model * (1 + b) if norm == "layernorm" else d_model
    attention = d_model * q_dim + 2 * d_model * kv_dim + q_dim * d_model + b * (q_dim + 2 * kv_dim + d_model)
    relative = d_model * q_dim + 2 * q_dim if position == "relative" else 0  # W_R, u, v (Transformer-XL)
    if mlp == "gelu":
        expert = 2 * d_model * d_ff + b * (d_ff + d_model)
    else:
        expert = 3 * d_model * d_ff + b * (2 * d_ff + d_model)
    router = d_model * n_experts if n_experts > 1 else 0
    per_layer = 2 * norm_params + attention + relative + n_experts * expert + router
    embedding = vocab_size * d_model + (seq_len * d_model if position == "learned" else 0)
    head = 0 if tied else vocab_size * d_model  # no bias on the output head (nanoGPT, Llama)
    total = embedding + n_layer * per_layer + norm_params + head
    return total, embedding + head, n_layer * (n_experts - experts_per_token) * expert


MAX_DIMENSION = 1 << 40  # any width, depth, vocabulary or context beyond this is a typo (and overflows int64)


def _positive_int(name, value):
    if not (is_number(value) and math.isfinite(value) and int(value) == value and 1 <= value <= MAX_DIMENSION):
        raise InputError(f"architecture: {name} must be an integer from 1 to {MAX_DIMENSION:,}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer shape; head_dim = d_model / n_head.

    Defaults describe GPT-2 (so every older call keeps its meaning): n_kv_head = n_head, GELU MLP with
    d_ff = 4·d_model (gated MLPs default to Llama's 8/3·d_model rounded up to 256), LayerNorm, learned
    positions, biases, tied embeddings, dense. ``position`` is one of POSITIONS; the older ``learned_pos``
    flag is kept in step with it (learned_pos=False alone means no position embedding: 'none').
    """

    n_layer: int
    d_model: int
    n_head: int
    vocab_size: int
    seq_len: int
    d_ff: int | None = None
    tied_embeddings: bool = True
    bias: bool = True
    learned_pos: bool | None = None
    n_kv_head: int | None = None
    mlp: str = "gelu"
    norm: str = "layernorm"
    position: str | None = None
    n_experts: int = 1
    experts_per_token: int = 1

    def __post_init__(self):
        if self.mlp not in MLP_KINDS:
            raise InputError(f"architecture: mlp must be one of {', '.join(MLP_KINDS)}, got {self.mlp!r}")
        if self.norm not in NORMS:
            raise InputError(f"architecture: norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        position = self.position
        if position is None:
            position = "none" if self.learned_pos is False else "learned"
        if position not in POSITIONS:
            raise InputError(f"architecture: position must be one of {', '.join(POSITIONS)}, got {position!r}")
        if self.learned_pos is not None and bool(self.learned_pos) != (position == "learned"):
            raise InputError(f"architecture: learned_pos={self.learned_pos} contradicts position={position!r}; "
                             f"give only position")
        object.__setattr__(self, "position", position)
        object.__setattr__(self, "learned_pos", position == "learned")
        for name in ("n_layer", "d_model", "n_head", "vocab_size", "seq_len", "n_experts", "experts_per_token"):
            object.__setattr__(self, name, _positive_int(name, getattr(self, name)))
        if self.d_ff is None:
            object.__setattr__(self, "d_ff", default_d_ff(self.d_model, self.mlp))
        object.__setattr__(self, "d_ff", _positive_int("d_ff", self.d_ff))
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        object.__setattr__(self, "n_kv_head", _positive_int("n_kv_head", self.n_kv_head))
        for name in ("tied_embeddings", "bias"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"architecture: {name} must be true or false, got {getattr(self, name)!r}")
            object.__setattr__(self, name, bool(getattr(self, name)))
        if self.d_model % self.n_head:
            raise InputError(f"architecture: d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if position == "rotary" and (self.d_model // self.n_head) % 2:  # RoPE rotates pairs of dimensions
            raise InputError(f"architecture: rotary positions need an even head width, got d_model / n_head = "
                             f"{self.d_model // self.n_head}")
        if self.n_head % self.n_kv_head:
            raise InputError(f"architecture: n_head {self.n_head} is not divisible by n_kv_head {self.n_kv_head} "
                             f"(each key/value head serves a whole group of query heads)")
        if self.experts_per_token > self.n_experts:
            raise InputError(f"architecture: experts_per_token {self.experts_per_token} exceeds n_experts "
                             f"{self.n_experts}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @property
    def d_attn(self) -> int:
        """Width of the attention's query/output space, n_head · head_dim (Kaplan et al.'s d_attn)."""
        return self.n_head * self.head_dim

    def _counts(self):
        return _counts(self.n_layer, self.d_model, self.n_head, self.n_kv_head, self.d_ff, self.vocab_size,
                       self.seq_len, tied=self.tied_embeddings, bias=self.bias, mlp=self.mlp, norm=self.norm,
                       position=self.position, n_experts=self.n_experts, experts_per_token=self.experts_per_token)

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
        """Total minus embeddings: Kaplan et al.'s N (≈ 12·n_layer·d_model² for a GPT-2 block)."""
        total, emb, _ = self._counts()
        return total - emb

    @property
    def n_params_active(self) -> int:
        """Parameters one token uses: total minus the experts it skips (n_experts − experts_per_token of
        them in every layer). Equals ``n_params`` for a dense model."""
        total, _, inactive = self._counts()
        return total - inactive

    @property
    def n_params_active_non_embedding(self) -> int:
        total, emb, inactive = self._counts()
        return total - emb - inactive

    @property
    def n_params_matmul(self) -> int:
        """Active parameters that enter a matmul: non-embedding plus the output head (PaLM's N)."""
        return self.n_params_active_non_embedding + self.vocab_size * self.d_model

    def count(self, convention: str = "total") -> int:
        """Parameters under a convention from PARAM_CONVENTIONS."""
        if convention == "total":
            return self.n_params
        if convention == "non_embedding":
            return self.n_params_non_embedding
        if convention == "active":
            return self.n_params_active
        raise InputError(f"unknown parameter convention {convention!r}; choose one of {', '.join(PARAM_CONVENTIONS)}")

    def _appendix_f_layer_forward(self) -> float:
        """Hoffmann et al. 2022 appendix F, one layer's forward FLOPs per token (see the module docstring)."""
        d, T, H = self.d_model, self.seq_len, self.n_head
        q, kv = self.d_attn, self.n_kv_head * self.head_dim
        attention = 2 * d * (q + 2 * kv) + 2 * T * q + 3 * H * T + 2 * T * q + 2 * q * d
        matrices = 2 if self.mlp == "gelu" else 3
        mlp = self.experts_per_token * 2 * d * self.d_ff * matrices
        router = 2 * d * self.n_experts if self.n_experts > 1 else 0
        return float(attention + mlp + router)

    def flops_per_token(self, convention: str = "6N") -> float:
        """Training FLOPs (forward + backward) per token under a convention from CONVENTIONS (each cited in the
        module docstring: Kaplan et al. 2020 Table 1, PaLM's appendix B, Hoffmann et al. 2022 appendix F)."""
        L, d, T, V = self.n_layer, self.d_model, self.seq_len, self.vocab_size
        if convention == "6N":
            return 6.0 * self.n_params_active
        if convention == "kaplan":
            return 6.0 * self.n_params_active_non_embedding + 6.0 * L * T * self.d_attn
        if convention == "palm":
            return 6.0 * self.n_params_matmul + 12.0 * L * self.d_attn * T
        if convention == "hoffmann-table-a4":
            return 3.0 * L * self._appendix_f_layer_forward()
        if convention == "hoffmann-appendix-f-as-printed":
            return 3.0 * (2.0 * V * d + L * self._appendix_f_layer_forward() + 2.0 * d * V)
        hint = " (the appendix-F count is now 'hoffmann-table-a4', or 'hoffmann-appendix-f-as-printed')" \
            if convention == "chinchilla" else ""
        raise InputError(f"unknown FLOP convention {convention!r}; choose one of {', '.join(CONVENTIONS)}{hint}")

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(head_dim=self.head_dim, n_params=self.n_params, n_params_non_embedding=self.n_params_non_embedding,
                   n_params_embedding=self.n_params_embedding, n_params_active=self.n_params_active,
                   flops_per_token={c: self.flops_per_token(c) for c in CONVENTIONS})
        return out


def _kv_heads(n_head, query_groups: int):
    """gcd(n_head, n_head // query_groups), at least 1: a divisor of n_head (so every key/value head serves a
    whole group of query heads) of at most n_head / query_groups — grouped-query attention with about
    ``query_groups`` query heads per key/value head (exactly that when it divides n_head)."""
    return np.gcd(n_head, np.maximum(1, n_head // query_groups))


MAX_TARGET_N_PARAMS = 1e15  # 1,000× the largest models trained: a larger target is an input error
# Head counts searched one by one; wider models are searched on as many geometrically spaced head counts, so
# the grid (max_layers × at most 2·DENSE_HEADS shapes, ~45 MB) does not grow with the target: a 1e14-parameter
# target once built a grid of 256 × 2.5M shapes and ran out of memory. The spacing there is ≤ 0.4 % in width
# up to 1e15 parameters, far inside any snap tolerance; below ~5e8 parameters (head_dim 16) every count is kept.
DENSE_HEADS = 2048


def _candidate_heads(most: int) -> np.ndarray:
    """Head counts 1..most: every one up to DENSE_HEADS, then DENSE_HEADS geometrically spaced ones."""
    dense = np.arange(1, min(most, DENSE_HEADS) + 1)
    if most <= DENSE_HEADS:
        return dense
    wide = np.unique(np.round(np.geomspace(DENSE_HEADS, most, DENSE_HEADS)).astype(np.int64))
    return np.union1d(dense, wide)


def propose_architecture(target_n_params: float, *, vocab_size: int, seq_len: int, aspect_ratio: float = 64.0,
                         head_dim: int = 64, count: str = "total", tied_embeddings: bool = True,
                         bias: bool = True, learned_pos: bool = True, max_layers: int = 256,
                         tolerance: float = 0.05, mlp: str = "gelu", norm: str = "layernorm",
                         position: str | None = None, query_groups: int = 1) -> Architecture:
    """A real shape whose exact parameter count lands within ``tolerance`` of a target.

    Rule: d_model is a multiple of ``head_dim`` (n_head = d_model / head_dim), d_ff = ``default_d_ff`` (4·d_model,
    or for gated MLPs 8/3·d_model rounded up to a multiple of head_dim), n_kv_head = ``_kv_heads(n_head,
    query_groups)``, and among all shapes whose count ``count`` ('total' or 'non_embedding') is within
    tolerance, the one whose d_model / n_layer is closest (in log ratio) to ``aspect_ratio`` wins; ties go to
    the closer count. Aspect ratio 64 is nanochat's d_model = 64·depth rule; Kaplan et al. 2020 (fig. 5)
    found loss flat for d_model/n_layer between about 20 and 200. ``BLOCKS[name]`` holds the keyword
    arguments of a block family (``propose_architecture(..., **BLOCKS['llama'])``).
    """
    if not 0 < target_n_params <= MAX_TARGET_N_PARAMS:
        raise InputError(f"target size {target_n_params:.3g} parameters is outside (0, {MAX_TARGET_N_PARAMS:.0e}]: "
                         f"no transformer to snap to")
    if count not in ("total", "non_embedding"):
        raise InputError(f"count must be 'total' or 'non_embedding', got {count!r}")
    if position is None:
        position = "learned" if learned_pos else "none"
    if int(query_groups) != query_groups or query_groups < 1:
        raise InputError(f"query_groups must be a positive integer, got {query_groups!r}")
    heads = _candidate_heads(max(8, int(4 * (target_n_params ** 0.5) / head_dim) + 2))
    d_model = head_dim * heads
    kv_heads = _kv_heads(heads, int(query_groups))
    d_ff = default_d_ff(d_model, mlp, multiple_of=head_dim)

    def count_of(n_layer, j):
        # Counted in float64: exact below 2**53 parameters, and no int64 overflow for the widest, deepest shapes
        # (the chosen shape's exact count comes from Architecture below).
        total, emb, _ = _counts(n_layer.astype(float), d_model[j].astype(float), heads[j].astype(float),
                                kv_heads[j].astype(float), d_ff[j].astype(float), vocab_size, seq_len,
                                tied=tied_embeddings, bias=bias, mlp=mlp, norm=norm, position=position)
        return total if count == "total" else total - emb

    # A count is linear in depth (a fixed part plus n_layer equal blocks), so only a narrow band of depths can be
    # within tolerance for each width: search that band, tested exactly as the whole grid was, and not all
    # max_layers × widths shapes, which took 9 ms a target (a 10 × 1,000 sweep design, 90 s).
    every = np.arange(len(heads))
    one = count_of(np.ones(len(heads)), every)
    per_layer = count_of(np.full(len(heads), 2.0), every) - one
    # count(L) = one + (L − 1)·per_layer is within tolerance for L from ⌈(t·(1 − tol) − one) / per_layer⌉ + 1
    # to ⌊(t·(1 + tol) − one) / per_layer⌋ + 1; a layer more each side absorbs rounding
    low = np.ceil((target_n_params * (1 - tolerance) - one) / per_layer)
    high = np.floor((target_n_params * (1 + tolerance) - one) / per_layer) + 2
    low, high = np.clip(low, 1, max_layers).astype(np.int64), np.clip(high, 1, max_layers).astype(np.int64)
    width = np.maximum(high - low + 1, 0)
    j = np.repeat(every, width)
    layers = np.repeat(low, width) + np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
    n = count_of(layers, j)
    rel = np.abs(n / target_n_params - 1.0)
    ok = rel <= tolerance
    if not ok.any():
        smallest = int(one.min())
        raise InputError(f"no architecture with head_dim {head_dim} has {count} parameters within "
                         f"{tolerance:.0%} of {target_n_params:.4g} (the smallest has {smallest:,}); "
                         f"choose a larger target or a smaller head_dim/vocab_size")
    aspect_miss = np.abs(np.log(d_model[j] / layers / aspect_ratio))
    best = np.argmin(np.where(ok, aspect_miss + 1e-3 * rel, np.inf))
    i, j = int(layers[best]), int(j[best])
    return Architecture(n_layer=i, d_model=int(d_model[j]), n_head=int(heads[j]), vocab_size=vocab_size,
                        seq_len=seq_len, d_ff=int(d_ff[j]), tied_embeddings=tied_embeddings, bias=bias,
                        n_kv_head=int(kv_heads[j]), mlp=mlp, norm=norm, position=position)

