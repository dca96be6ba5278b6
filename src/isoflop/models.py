"""Named models: published shapes with their published parameter counts, each with its source.

``get_model(name)`` returns a ``NamedModel``: the ``Architecture`` (isoflop.flops) built from the published
shape, the published total (and, for mixtures of experts, active) parameter count, whether that count is
exact (to the parameter) or rounded as the paper prints it, and the source. The tests check that the
accounting reproduces each published count: exactly where the source is exact, else within 0.5%.

Exact counts come from the released weights: the Hugging Face Hub's safetensors metadata of the official
repositories (``total_size`` in bytes of bf16/fp16 weights / 2, e.g. 16,060,522,496 bytes → 8,030,261,248
parameters for Meta-Llama-3-8B), equal to ``model.num_parameters()`` of the transformers model.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError
from .flops import BLOCKS, Architecture


@dataclass(frozen=True)
class NamedModel:
    """A published model: its shape, its published parameter count(s) and where they come from.

    ``published_n_params`` is the total; ``published_n_params_active`` the parameters per token of a mixture
    of experts (None for dense models); ``exact`` says whether the published count is exact or rounded
    (then to the digits in ``published_n_params``). ``trained_tokens`` is the published training-set size
    where the source gives one (None otherwise)."""

    name: str
    arch: Architecture
    published_n_params: float
    source: str
    exact: bool = False
    published_n_params_active: float | None = None
    trained_tokens: float | None = None
    note: str = ""

    def n_params_for(self, param_convention: str) -> int:
        """The count a law expects (its ``param_convention``): 'total' (Hoffmann et al.) or 'non_embedding'
        (Kaplan et al.); 'active' for the parameters one token uses. For diagnosing a model against a law."""
        if param_convention not in ("total", "non_embedding", "active"):
            raise InputError(f"model {self.name}: cannot count parameters as {param_convention!r}; "
                             f"use 'total', 'non_embedding' or 'active'")
        return self.arch.count(param_convention)

    def configuration(self, param_convention: str, n_tokens=None) -> tuple[float, float, tuple[str, ...]]:
        """(n_params as the law counts them, n_tokens — the given count, else the published one — and the
        warnings applying a dense-model law to it brings): what `diagnose --model` diagnoses."""
        n_tokens = n_tokens if n_tokens is not None else self.trained_tokens
        if n_tokens is None:
            raise InputError(f"n_tokens (--tokens): {self.name} has no published training-token count; give it")
        return float(self.n_params_for(param_convention)), n_tokens, self.law_warnings(param_convention)

    def law_warnings(self, param_convention: str = "total") -> tuple[str, ...]:
        """Lines to show when a dense-model law counting ``param_convention`` parameters is applied to this model
        (a mixture of experts)."""
        if self.arch.n_experts == 1:
            return ()
        total, active = self.arch.n_params, self.arch.n_params_active
        n = self.n_params_for(param_convention)
        counted = "the total" if param_convention == "total" else f"N = {n:.3g} ({param_convention.replace('_', '-')})"
        return (f"{self.name} is a mixture of experts ({self.arch.n_experts} experts, {self.arch.experts_per_token} "
                f"per token): the laws here were fitted on dense models, so its total parameters ({total:.3g}) and "
                f"active parameters ({active:.3g}) bracket it; FLOPs here are 6·N·D with {counted}, while training "
                f"spends about 6·N_active·D ({n / active:.2g}× less, as `isoflop flops` counts it)",)

    def to_dict(self) -> dict:
        return {"name": self.name, "published_n_params": self.published_n_params,
                "published_n_params_active": self.published_n_params_active, "exact": self.exact,
                "trained_tokens": self.trained_tokens, "source": self.source, "note": self.note,
                "arch": self.arch.to_dict()}


def _gpt2(n_layer, d_model, n_head):
    # Radford et al. 2019 (GPT-2), shapes of the released checkpoints: vocab 50,257, context 1,024, learned
    # positions, tied embeddings, biases, LayerNorm, GELU MLP of 4·d_model.
    return Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=50257, seq_len=1024)


def _llama(n_layer, d_model, n_head, n_kv_head, d_ff, vocab_size, seq_len, **moe):
    # Llama-style blocks (Touvron et al. 2023): RMSNorm, SwiGLU, rotary, no biases, untied output head.
    return Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, n_kv_head=n_kv_head, d_ff=d_ff,
                        vocab_size=vocab_size, seq_len=seq_len, **BLOCKS["llama"], **moe)


def _deepmind(n_layer, d_model, n_head):
    # Rae et al. 2021 (Gopher) §3 / Hoffmann et al. 2022 (Chinchilla) §4.1: RMSNorm, Transformer-XL relative
    # positions, SentencePiece vocab 32,000, context 2,048, d_ff = 4·d_model. One vocabulary matrix (tied):
    # with it nanoGPT's chinchilla_params reproduces Chinchilla's Table A9 counts (16,183M model: 16,184M).
    # Biases are assumed (Haiku's Linear default); they are < 0.01% of the count either way.
    return Architecture(n_layer=n_layer, d_model=d_model, n_head=n_head, vocab_size=32000, seq_len=2048,
                        norm="rmsnorm", position="relative", bias=True, tied_embeddings=True)


_HF = "Hugging Face Hub safetensors metadata of {} (exact parameter count of the released weights)"
# Training-token counts, where the source gives them (NamedModel.trained_tokens).
_LLAMA2_TOKENS = "; 2.0T training tokens: Touvron et al. 2023, 'Llama 2', Table 1 (Tokens 2.0T, every size)"
_LLAMA3_TOKENS = ("; 15T training tokens: Meta's Llama 3 model card (meta-llama/llama3 MODEL_CARD.md: 'pretrained "
                  "on over 15 trillion tokens'; the paper, §1: 'about 15T multilingual tokens')")

MODELS: dict[str, NamedModel] = {
    m.name: m
    for m in [
        NamedModel("gpt2", _gpt2(12, 768, 12), 124_439_808,
                   "Radford et al. 2019, 'Language Models are Unsupervised Multitask Learners'; exact count of the "
                   "released openai-community/gpt2 weights (nanoGPT scaling_laws.ipynb; the paper's '117M' was a "
                   "miscount OpenAI later corrected to 124M)", exact=True),
        NamedModel("gpt2-medium", _gpt2(24, 1024, 16), 354_823_168,
                   "Radford et al. 2019; exact count of the released openai-community/gpt2-medium weights "
                   "(the paper prints 345M)", exact=True),
        NamedModel("gpt2-large", _gpt2(36, 1280, 20), 774_030_080,
                   "Radford et al. 2019; exact count of the released openai-community/gpt2-large weights "
                   "(the paper prints 762M)", exact=True),
        NamedModel("gpt2-xl", _gpt2(48, 1600, 25), 1_557_611_200,
                   "Radford et al. 2019; exact count of the released openai-community/gpt2-xl weights "
                   "(the paper prints 1542M)", exact=True),
        NamedModel("gpt-3-175b",
                   Architecture(n_layer=96, d_model=12288, n_head=96, vocab_size=50257, seq_len=2048),
                   175.0e9,
                   "Brown et al. 2020, 'Language Models are Few-Shot Learners', Table 2.1 (n_layers 96, d_model "
                   "12288, n_heads 96, d_head 128, n_ctx 2048; 175.0B parameters; GPT-2 vocabulary and block, "
                   "d_ff = 4·d_model); 300B training tokens: Table 2.1's caption ('All models were trained for a "
                   "total of 300 billion tokens')", trained_tokens=300e9),
        NamedModel("gopher-280b", _deepmind(80, 16384, 128), 280e9,
                   "Rae et al. 2021, 'Scaling Language Models: Methods, Analysis & Insights from Training "
                   "Gopher', Table 1 (80 layers, 128 heads, key/value size 128, d_model 16,384; 280B); 300B training "
                   "tokens: Hoffmann et al. 2022, Table 1 (Gopher 280B, 300 billion tokens)",
                   trained_tokens=300e9),
        NamedModel("chinchilla-70b", _deepmind(80, 8192, 64), 70e9,
                   "Hoffmann et al. 2022, 'Training Compute-Optimal Large Language Models', Table 4 (80 layers, "
                   "64 heads, key/value size 128, d_model 8,192, feed-forward 4·d_model; 70B); 1.4T training tokens: "
                   "Table 1 (Chinchilla 70B, 1.4 trillion tokens)",
                   trained_tokens=1.4e12),
        NamedModel("llama-2-7b", _llama(32, 4096, 32, 32, 11008, 32000, 4096), 6_738_415_616,
                   "Touvron et al. 2023, 'Llama 2'; shape from meta-llama/Llama-2-7b-hf config.json; "
                   + _HF.format("meta-llama/Llama-2-7b-hf") + _LLAMA2_TOKENS, exact=True, trained_tokens=2e12),
        NamedModel("llama-2-13b", _llama(40, 5120, 40, 40, 13824, 32000, 4096), 13_015_864_320,
                   "Touvron et al. 2023, 'Llama 2'; shape from meta-llama/Llama-2-13b-hf config.json; "
                   + _HF.format("meta-llama/Llama-2-13b-hf") + _LLAMA2_TOKENS, exact=True, trained_tokens=2e12),
        NamedModel("llama-2-70b", _llama(80, 8192, 64, 8, 28672, 32000, 4096), 68_976_648_192,
                   "Touvron et al. 2023, 'Llama 2' (GQA with 8 key/value heads); shape from "
                   "meta-llama/Llama-2-70b-hf config.json; " + _HF.format("meta-llama/Llama-2-70b-hf")
                   + _LLAMA2_TOKENS, exact=True, trained_tokens=2e12),
        NamedModel("llama-3-8b", _llama(32, 4096, 32, 8, 14336, 128256, 8192), 8_030_261_248,
                   "Llama Team 2024, 'The Llama 3 Herd of Models', Table 3; shape from meta-llama/Meta-Llama-3-8B "
                   "config.json; " + _HF.format("meta-llama/Meta-Llama-3-8B") + " (total_size 16,060,522,496 "
                   "bytes in bf16)" + _LLAMA3_TOKENS, exact=True, trained_tokens=15e12),
        NamedModel("llama-3-70b", _llama(80, 8192, 64, 8, 28672, 128256, 8192), 70_553_706_496,
                   "Llama Team 2024, 'The Llama 3 Herd of Models', Table 3; shape from "
                   "meta-llama/Meta-Llama-3-70B config.json; " + _HF.format("meta-llama/Meta-Llama-3-70B")
                   + _LLAMA3_TOKENS, exact=True, trained_tokens=15e12),
        NamedModel("llama-3-405b", _llama(126, 16384, 128, 8, 53248, 128256, 8192), 405_853_388_800,
                   "Llama Team 2024, 'The Llama 3 Herd of Models', Table 3 (126 layers, d_model 16,384, FFN "
                   "53,248, 128 heads, 8 key/value heads, vocab 128,000+256); "
                   + _HF.format("meta-llama/Llama-3.1-405B") + "; 15.6T training tokens: the same paper, §1 (the "
                   "flagship 405B model, pre-trained on 15.6T text tokens with 3.8e25 FLOPs)", exact=True,
                   trained_tokens=15.6e12),
        NamedModel("mistral-7b", _llama(32, 4096, 32, 8, 14336, 32000, 8192), 7_241_732_096,
                   "Jiang et al. 2023, 'Mistral 7B', Table 1 (context_len 8,192, window_size 4,096); shape from "
                   "mistralai/Mistral-7B-v0.1 config.json; " + _HF.format("mistralai/Mistral-7B-v0.1"), exact=True,
                   note="sliding-window attention (window 4,096) changes attention FLOPs, not parameters: the "
                        "FLOP conventions here count full attention over the 8,192-token context, an upper bound "
                        "(Kaplan's count 1.07× what a 4,096 window gives)"),
        NamedModel("mixtral-8x7b",
                   _llama(32, 4096, 32, 8, 14336, 32000, 32768, n_experts=8, experts_per_token=2),
                   46_702_792_704,
                   "Jiang et al. 2024, 'Mixtral of Experts' (8 experts, top-2, 47B total / 13B active; "
                   "Mistral AI's release note: 46.7B total, 12.9B per token); shape from "
                   "mistralai/Mixtral-8x7B-v0.1 config.json; " + _HF.format("mistralai/Mixtral-8x7B-v0.1"),
                   exact=True, published_n_params_active=12.9e9),
    ]
}


def get_model(name: str) -> NamedModel:
    """A named model; InputError listing the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"unknown model {name!r}; known models: {', '.join(MODELS)}") from None
